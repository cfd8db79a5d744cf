package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	tracewire "tracewire.dev/go"
)

// shutdownTimeout bounds the last export at exit, as the demo's service
// contract says.
const shutdownTimeout = 5 * time.Second

// setupTracing installs the SDK with OTLP/HTTP export configured by the
// standard OTEL_* variables, unless OTEL_SDK_DISABLED=true. The returned
// function flushes and shuts it down within shutdownTimeout.
//
// asr records spans only. OTEL_TRACES_EXPORTER=none keeps the spans (and the
// context they propagate) but sends nothing; OTEL_METRICS_EXPORTER and
// OTEL_LOGS_EXPORTER are checked, and there is nothing of either to send.
func setupTracing(ctx context.Context) (func(), error) {
	otel.SetTextMapPropagator(tracewire.Propagator{})
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") {
		return func() {}, nil
	}
	exportTraces, err := exporterEnabled("OTEL_TRACES_EXPORTER")
	if err != nil {
		return nil, err
	}
	for _, variable := range []string{"OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER"} {
		if _, err := exporterEnabled(variable); err != nil {
			return nil, err
		}
	}
	if os.Getenv("OTEL_SERVICE_NAME") == "" {
		os.Setenv("OTEL_SERVICE_NAME", "asr")
	}
	res, err := resource.Merge(resource.Default(), resource.Environment())
	if err != nil {
		return nil, fmt.Errorf("resource: %w", err)
	}
	options := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if exportTraces {
		exporter, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("OTLP exporter: %w", err)
		}
		reporting := &reportingExporter{SpanExporter: exporter}
		options = append(options, sdktrace.WithSpanProcessor(countingProcessor{
			SpanProcessor: sdktrace.NewBatchSpanProcessor(reporting), exporter: reporting,
		}))
	}
	provider := sdktrace.NewTracerProvider(options...)
	otel.SetTracerProvider(provider)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		// Worth a line, never a failed exit: the spans are what is lost.
		if err := provider.Shutdown(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "asr: telemetry shutdown: %v\n", err)
		}
	}, nil
}

// exporterEnabled reads an OTEL_*_EXPORTER variable as the OpenTelemetry
// environment specification defines it: a comma-separated list, "otlp" by
// default, "none" alone for no export. Only OTLP is built in here.
func exporterEnabled(variable string) (bool, error) {
	value := strings.TrimSpace(os.Getenv(variable))
	if value == "" {
		return true, nil
	}
	var names []string
	for _, name := range strings.Split(value, ",") {
		if name = strings.TrimSpace(name); name != "" {
			names = append(names, name)
		}
	}
	if len(names) == 1 && names[0] == "none" {
		return false, nil
	}
	for _, name := range names {
		if name != "otlp" {
			return false, fmt.Errorf("%s=%q: exporter %q is not available here; use \"otlp\" or \"none\"", variable, value, name)
		}
	}
	return true, nil
}

// reportingExporter reports the first failed export in one line on stderr
// and counts every failure. It returns nil for a failed export so the SDK
// neither logs each batch again nor fails its shutdown: a backend that is
// down or rejects spans must not fail the service.
type reportingExporter struct {
	sdktrace.SpanExporter
	failed atomic.Uint64
	once   sync.Once
	// Spans queued (counted by countingProcessor) and spans in export
	// requests: the difference after shutdown was dropped from a full
	// queue, which the SDK does not report.
	queued, exporting atomic.Uint64
}

func (e *reportingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.exporting.Add(uint64(len(spans)))
	if err := e.SpanExporter.ExportSpans(ctx, spans); err != nil {
		e.failed.Add(1)
		e.once.Do(func() {
			fmt.Fprintf(os.Stderr, "asr: traces were not accepted by the OTLP endpoint (%v); "+
				"spans from this process are dropped and later failures only counted. "+
				"If this backend takes no traces, set OTEL_TRACES_EXPORTER=none.\n", err)
		})
	}
	return nil
}

// Shutdown flushes nothing of its own; it reports how many exports failed
// and how many spans never reached one. The batch processor calls it after
// its last export, so the counts are final.
func (e *reportingExporter) Shutdown(ctx context.Context) error {
	if failed := e.failed.Load(); failed > 0 {
		fmt.Fprintf(os.Stderr, "asr: %d span exports failed\n", failed)
	}
	if queued, exporting := e.queued.Load(), e.exporting.Load(); queued > exporting {
		fmt.Fprintf(os.Stderr, "asr: %d of %d spans never reached an export "+
			"(the batch queue was full: raise OTEL_BSP_MAX_QUEUE_SIZE)\n", queued-exporting, queued)
	}
	return e.SpanExporter.Shutdown(ctx)
}

// countingProcessor counts the spans its batch processor queues (the
// sampled ones, as the batch processor takes only those).
type countingProcessor struct {
	sdktrace.SpanProcessor
	exporter *reportingExporter
}

func (p countingProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.SpanContext().IsSampled() {
		p.exporter.queued.Add(1)
	}
	p.SpanProcessor.OnEnd(s)
}
