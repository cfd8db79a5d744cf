package tracewire

import (
	"context"
	"net/http"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TestVectorsPassOn runs tests/vectors/pass_on.json through the C ABI's
// tw_pass_on, as Inject calls it.
func TestVectorsPassOn(t *testing.T) {
	runCases(t, "pass_on", func(t *testing.T, c vcase) {
		field := func(obj, key string) string { return str(c[obj].(vcase), key) }
		parse := func(v string) *TraceParent {
			tp, err := ParseTraceParent(v)
			if err != nil {
				t.Fatal(err)
			}
			return tp
		}
		got := parse(field("received", "traceparent"))
		rec := &received{
			span:       trace.SpanContextConfig{TraceID: got.TraceID, SpanID: got.SpanID, TraceFlags: got.Flags},
			tracestate: field("received", "tracestate"),
			accepted:   str(c, "accepted"),
		}
		w := wire{span: spanIn(parse(field("sending", "traceparent"))), tracestate: field("sending", "tracestate")}
		passOn(context.WithValue(context.Background(), receivedKey{}, rec), &w)
		if tp := spanOut(&w.span).String(); tp != field("expect", "traceparent") {
			t.Errorf("traceparent %s, want %s", tp, field("expect", "traceparent"))
		}
		if w.tracestate != field("expect", "tracestate") {
			t.Errorf("tracestate %q, want %q", w.tracestate, field("expect", "tracestate"))
		}
	})
}

// A received Level 2 tracestate that otel-go's TraceState cannot hold whole
// is passed on whole through a span otel-go's SDK starts, and the random
// flag with it; after the application updates the state, its members come
// first; another trace does not inherit it.
func TestLevel2TraceStateSurvivesTheSDKSpan(t *testing.T) {
	const state = "foo@@bar=1,congo=2,t61@rcwkgmzeverylongsystem=x,1digit=y"
	h := http.Header{}
	h.Set(HeaderTraceParent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-02")
	h.Set(HeaderTraceState, state)
	ctx := Extract(context.Background(), h)
	if got := trace.SpanContextFromContext(ctx).TraceState().String(); got != "congo=2" {
		t.Fatalf("otel-go's TraceState holds %q, want congo=2", got)
	}
	tracer := sdktrace.NewTracerProvider().Tracer("t")
	ctx, span := tracer.Start(ctx, "child")
	defer span.End()
	out := http.Header{}
	Inject(ctx, out)
	if got := out.Get(HeaderTraceState); got != state {
		t.Errorf("tracestate %q, want %q", got, state)
	}
	if tp := out.Get(HeaderTraceParent); tp[len(tp)-2:] != "02" || tp[36:52] == "b7ad6b7169203331" {
		t.Errorf("traceparent %s: want a new span id and the random flag", tp)
	}

	sc := trace.SpanContextFromContext(ctx)
	updated, err := sc.TraceState().Insert("mine", "7")
	if err != nil {
		t.Fatal(err)
	}
	mine := trace.ContextWithSpanContext(ctx, sc.WithTraceState(updated))
	out = http.Header{}
	Inject(mine, out)
	if got, want := out.Get(HeaderTraceState), "mine=7,congo=2,foo@@bar=1,t61@rcwkgmzeverylongsystem=x,1digit=y"; got != want {
		t.Errorf("after an update: tracestate %q, want %q", got, want)
	}

	other := trace.ContextWithSpanContext(mine, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{7}, SpanID: trace.SpanID{8}, TraceFlags: trace.FlagsSampled,
	}))
	out = http.Header{}
	Inject(other, out)
	if got := out.Get(HeaderTraceState); got != "" {
		t.Errorf("another trace: tracestate %q, want none", got)
	}

	// The JSON envelope of a WebSocket message passes it on the same way.
	env, err := NewJSONEnvelope("", true)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	frame, err := env.Inject(ctx, []byte(`{"text":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(frame); !strings.Contains(got, `"tracestate":"`+state+`"`) || !strings.Contains(got, "-02\"") {
		t.Errorf("JSON envelope %s: want the whole tracestate and the random flag", got)
	}

	// The public conversion keeps it the same way.
	tc := FromContext(ctx)
	if tc.TraceState.String() != state {
		t.Errorf("FromContext: tracestate %q, want %q", tc.TraceState.String(), state)
	}
	out = http.Header{}
	Inject(tc.Context(context.Background()), out)
	if got := out.Get(HeaderTraceState); got != state {
		t.Errorf("TraceContext.Context: tracestate %q, want %q", got, state)
	}
}
