package tracewire

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
)

func TestDecodeHexIDIsExactOnEveryByte(t *testing.T) {
	for _, s := range []string{"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "0123456789abcdef0123456789abcdef", "ffffffffffffffff"} {
		want, _ := hex.DecodeString(s)
		got := make([]byte, len(s)/2)
		if !decodeHexID(got, []byte(s)) || string(got) != string(want) {
			t.Fatalf("%s: %x", s, got)
		}
	}
	for _, s := range []string{"00f067aa0ba902bG", "00F067aa0ba902b7", "00f067aa0ba902b/", "00f067aa0ba902b:", "00f067aa0ba902b`", "00f067aa0ba902bg", "00f067aa0ba902b\x80", "00f067aa0ba902b\xff", "0\x00f067aa0ba902b7"} {
		got := make([]byte, 8)
		if decodeHexID(got, []byte(s)) {
			t.Fatalf("%q accepted", s)
		}
	}
	for c := 0; c < 256; c++ {
		s := []byte("00f067aa0ba902b7")
		s[5] = byte(c)
		valid := (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
		if decodeHexID(make([]byte, 8), s) != valid {
			t.Fatalf("byte %#x", c)
		}
	}
}

// A context that comes back from the C ABI carries its tracestate and
// baggage parsed (the context record) and, for a TraceContext value, the
// core's header forms: nothing is parsed again in Go.
func TestContextsFromTheCABICarryParsedValuesAndTheCoresHeaderForms(t *testing.T) {
	var entries []string
	for i := range 32 {
		entries = append(entries, fmt.Sprintf("k%02d=%s", i, strings.Repeat("v", 26)))
	}
	h := http.Header{}
	h.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.Set("tracestate", strings.Join(entries, ","))
	h.Set("baggage", "k=a%20b;p=1,n=2")
	ctx := Extract(context.Background(), h)
	r, err := http.NewRequest(http.MethodGet, "http://example.com/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header = h
	hs, err := ReadHandshake(r, AllEnvelopes, nil)
	if err != nil {
		t.Fatal(err)
	}
	tc := hs.Context
	if !tc.Remote || tc.TraceParent == nil {
		t.Fatalf("%+v", tc)
	}
	// Every entry is kept; the header form is the core's, shortened to 512.
	if tc.TraceState.Len() != 32 || len(tc.TraceState.String()) > 512 || !strings.HasPrefix(tc.TraceState.String(), "k00=") {
		t.Errorf("tracestate: %d entries, header %q", tc.TraceState.Len(), tc.TraceState.String())
	}
	if tc.TraceState.Otel().Len() != 32 || trace.SpanContextFromContext(ctx).TraceState().Len() != 32 {
		t.Error("otel-go's tracestate lost entries")
	}
	if v, _ := tc.Baggage.Get("k"); v != "a b" || tc.Baggage.String() != "k=a%20b;p=1,n=2" {
		t.Errorf("baggage %q, header %q", v, tc.Baggage.String())
	}
	if m := baggage.FromContext(ctx).Member("k"); m.Value() != "a b" || len(m.Properties()) != 1 {
		t.Errorf("otel-go baggage member %v", m)
	}
	// Restore (into an otel context) and ParseCarrier (a value) agree.
	carrier := tc.Carrier()
	parsed, err := ParseCarrier(carrier)
	if err != nil {
		t.Fatal(err)
	}
	rctx, err := Restore(context.Background(), carrier)
	if err != nil {
		t.Fatal(err)
	}
	if got := FromContext(rctx); got.TraceState.String() != parsed.TraceState.String() || got.Baggage.Len() != parsed.Baggage.Len() || parsed.Baggage.String() != "k=a%20b;p=1,n=2" {
		t.Errorf("restored %v / %v, parsed %v / %v", got.TraceState, got.Baggage, parsed.TraceState, parsed.Baggage)
	}
}
