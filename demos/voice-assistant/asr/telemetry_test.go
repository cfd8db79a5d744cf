package main

import (
	"context"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Spans that a full batch queue drops are counted: every span ended is
// either in an export request or counted as never exported.
func TestSpansDroppedFromAFullQueueAreCounted(t *testing.T) {
	memory := tracetest.NewInMemoryExporter()
	reporting := &reportingExporter{SpanExporter: memory}
	batch := sdktrace.NewBatchSpanProcessor(reporting,
		sdktrace.WithMaxQueueSize(16), sdktrace.WithMaxExportBatchSize(16), sdktrace.WithBatchTimeout(time.Minute))
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(countingProcessor{SpanProcessor: batch, exporter: reporting}))
	tracer := provider.Tracer("test")
	const ended = 200
	for range ended {
		_, span := tracer.Start(context.Background(), "span")
		span.End()
	}
	if err := provider.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	exported := len(memory.GetSpans())
	if err := provider.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	queued, exporting := reporting.queued.Load(), reporting.exporting.Load()
	if queued != ended {
		t.Fatalf("queued %d, want %d", queued, ended)
	}
	if int(exporting) != exported || exported >= ended {
		t.Fatalf("%d spans in export requests, %d exported, of %d: want some dropped", exporting, exported, ended)
	}
}
