package tracewire

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// sampledContext is a context holding a fixed sampled remote span context.
func sampledContext(t testing.TB) context.Context {
	tp, err := ParseTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if err != nil {
		t.Fatal(err)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tp.TraceID, SpanID: tp.SpanID, TraceFlags: tp.Flags, Remote: true})
	return trace.ContextWithSpanContext(context.Background(), sc)
}
