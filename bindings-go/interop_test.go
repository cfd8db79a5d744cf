package tracewire

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

const (
	lcalpha   = "abcdefghijklmnopqrstuvwxyz"
	keyChars  = lcalpha + "0123456789_-*/"
	tokenChar = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&'*+-.^_`|~"
)

func randString(r *rand.Rand, alphabet string, min, max int) string {
	n := min + r.IntN(max-min+1)
	var b strings.Builder
	for range n {
		b.WriteByte(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

// randValue is any UTF-8 text: ASCII (spaces, %, =, ",", ";", quotes) and beyond.
func randValue(r *rand.Rand) string {
	pool := []rune(" %=,;\"\\abcXYZ019~é漢字🙂\t")
	n := r.IntN(12)
	out := make([]rune, n)
	for i := range out {
		out[i] = pool[r.IntN(len(pool))]
	}
	return string(out)
}

// randContext is a random otel-go context: span context (ids, flags,
// tracestate) and baggage with properties.
func randContext(t testing.TB, r *rand.Rand) context.Context {
	var cfg trace.SpanContextConfig
	for i := range cfg.TraceID {
		cfg.TraceID[i] = byte(r.IntN(256))
	}
	for i := range cfg.SpanID {
		cfg.SpanID[i] = byte(r.IntN(256))
	}
	cfg.TraceID[0] |= 1
	cfg.SpanID[0] |= 1
	cfg.TraceFlags = trace.TraceFlags(r.IntN(4))
	var ts trace.TraceState
	for range r.IntN(5) {
		key := randString(r, lcalpha, 1, 1) + randString(r, keyChars, 0, 10)
		if r.IntN(3) == 0 {
			key += "@" + randString(r, lcalpha, 1, 1) + randString(r, keyChars, 0, 5)
		}
		val := randString(r, "abcXYZ019!#$%&()*+-./:;<>?@[]^_{|}~ ", 0, 10) + randString(r, "abcXYZ019!#", 1, 1)
		if next, err := ts.Insert(key, val); err == nil {
			ts = next
		}
	}
	cfg.TraceState = ts
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(cfg))
	var members []baggage.Member
	for range r.IntN(5) {
		var props []baggage.Property
		for range r.IntN(3) {
			var p baggage.Property
			var err error
			if r.IntN(2) == 0 {
				p, err = baggage.NewKeyProperty(randString(r, tokenChar, 1, 6))
			} else {
				p, err = baggage.NewKeyValuePropertyRaw(randString(r, tokenChar, 1, 6), randValue(r))
			}
			if err == nil {
				props = append(props, p)
			}
		}
		m, err := baggage.NewMemberRaw(randString(r, tokenChar, 1, 8), randValue(r), props...)
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, m)
	}
	bag, err := baggage.New(members...)
	if err != nil {
		t.Fatal(err)
	}
	return baggage.ContextWithBaggage(ctx, bag)
}

func sameContext(t *testing.T, label string, want, got context.Context) {
	t.Helper()
	ws, gs := trace.SpanContextFromContext(want), trace.SpanContextFromContext(got)
	if ws.TraceID() != gs.TraceID() || ws.SpanID() != gs.SpanID() || ws.TraceFlags() != gs.TraceFlags() {
		t.Fatalf("%s: span context %v, want %v", label, gs, ws)
	}
	if ws.TraceState().String() != gs.TraceState().String() {
		t.Fatalf("%s: tracestate %q, want %q", label, gs.TraceState().String(), ws.TraceState().String())
	}
	if !gs.IsRemote() {
		t.Fatalf("%s: not remote", label)
	}
	wb, gb := baggage.FromContext(want), baggage.FromContext(got)
	if wb.Len() != gb.Len() {
		t.Fatalf("%s: baggage %q, want %q", label, gb.String(), wb.String())
	}
	for _, m := range wb.Members() {
		g := gb.Member(m.Key())
		if g.Value() != m.Value() || len(g.Properties()) != len(m.Properties()) {
			t.Fatalf("%s: member %q = %q %v, want %q %v", label, m.Key(), g.Value(), g.Properties(), m.Value(), m.Properties())
		}
		for i, p := range m.Properties() {
			gp := g.Properties()[i]
			wv, wok := p.Value()
			gv, gok := gp.Value()
			if gp.Key() != p.Key() || wv != gv || wok != gok {
				t.Fatalf("%s: member %q property %d = %v, want %v", label, m.Key(), i, gp, p)
			}
		}
	}
}

// TestInteropWithOtelPropagators round-trips many random contexts between
// this package and otel-go's propagation.TraceContext{} and
// propagation.Baggage{}, in both directions.
func TestInteropWithOtelPropagators(t *testing.T) {
	otelProp := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 1000 {
		ctx := randContext(t, r)
		// Ours -> otel-go.
		h := http.Header{}
		Inject(ctx, h)
		// Injecting the same values again takes the cached fast path (otel-go
		// serialises baggage members in map order, so compare them as a set).
		for range 3 {
			again := http.Header{}
			Inject(ctx, again)
			if h.Get("traceparent") != again.Get("traceparent") || h.Get("tracestate") != again.Get("tracestate") {
				t.Fatalf("fast path %v, slow path %v", again, h)
			}
			sameContext(t, "fast path", ctx, Extract(context.Background(), again))
		}
		sameContext(t, "ours->otel", ctx, otelProp.Extract(context.Background(), propagation.HeaderCarrier(h)))
		// otel-go -> ours.
		h2 := http.Header{}
		otelProp.Inject(ctx, propagation.HeaderCarrier(h2))
		sameContext(t, "otel->ours", ctx, Extract(context.Background(), h2))
		// Ours through the TextMapPropagator interface with a map carrier.
		m := propagation.MapCarrier{}
		Propagator{}.Inject(ctx, m)
		sameContext(t, "propagator", ctx, Propagator{}.Extract(context.Background(), m))
		// Queue carrier, JSON and binary envelopes.
		restored, err := Restore(context.Background(), Capture(ctx))
		if err != nil {
			t.Fatal(err)
		}
		sameContext(t, "carrier", ctx, restored)
		bctx, payload, err := ExtractBinary(context.Background(), EncodeBinary(ctx, []byte{byte(i)}))
		if err != nil || len(payload) != 1 || payload[0] != byte(i) {
			t.Fatalf("binary: %v %x", err, payload)
		}
		sameContext(t, "binary", ctx, bctx)
		if i%10 == 0 {
			t.Logf("%s | %s", h.Get("tracestate"), h.Get("baggage"))
		}
	}
}

func TestInteropJSONEnvelope(t *testing.T) {
	env, err := NewMCPEnvelope(true)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	const request = `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"x"}}`
	r := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		ctx := randContext(t, r)
		frame, err := env.Inject(ctx, []byte(request))
		if err != nil {
			t.Fatal(err)
		}
		got, payload, err := env.Extract(context.Background(), frame)
		if err != nil {
			t.Fatal(err)
		}
		sameContext(t, "json", ctx, got)
		// The _meta object tracewire created goes with the members.
		if string(payload) != request {
			t.Fatalf("stripped payload %s", payload)
		}
	}
}

func TestPropagatorFieldsAndMultipleLines(t *testing.T) {
	if got := (Propagator{}).Fields(); strings.Join(got, ",") != "traceparent,tracestate,baggage" {
		t.Errorf("fields %v", got)
	}
	h := http.Header{}
	h.Add("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.Add("tracestate", "a=1")
	h.Add("tracestate", "b=2")
	h.Add("baggage", "k=v")
	h.Add("baggage", "k2=v2")
	ctx := Propagator{}.Extract(context.Background(), propagation.HeaderCarrier(h))
	if ts := trace.SpanContextFromContext(ctx).TraceState().String(); ts != "a=1,b=2" {
		t.Errorf("tracestate %q", ts)
	}
	if b := baggage.FromContext(ctx); b.Len() != 2 {
		t.Errorf("baggage %q", b.String())
	}
	// Two traceparent lines are invalid: a new trace starts, the issue is reported.
	h.Add("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	ctx, issues := ExtractWithIssues(context.Background(), h)
	if trace.SpanContextFromContext(ctx).IsValid() || len(issues) != 1 {
		t.Errorf("two traceparents: valid=%v issues=%v", trace.SpanContextFromContext(ctx).IsValid(), issues)
	}
	// Query-string extraction, as a browser sends it.
	qctx, issues := ExtractQuery(context.Background(), "?traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01&baggage=user%3Dalice")
	if !trace.SpanContextFromContext(qctx).IsValid() || baggage.FromContext(qctx).Member("user").Value() != "alice" || len(issues) != 0 {
		t.Errorf("query: %v %v", trace.SpanContextFromContext(qctx), issues)
	}
}
