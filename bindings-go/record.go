package tracewire

// Readers of the bridge's byte format (little-endian; the grammar is in
// bindings-bridge/src/lib.rs and wire.rs): target, event and context records.

import (
	"context"
	"encoding/binary"
	"encoding/hex"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
)

// reader reads the byte format; after a short read ok is false and every
// further read returns zero values.
type reader struct {
	b  []byte
	ok bool
}

func newReader(b []byte) reader { return reader{b: b, ok: true} }

func (r *reader) take(n int) []byte {
	if !r.ok || n < 0 || n > len(r.b) {
		r.ok = false
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() byte {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (r *reader) i32() int32 { return int32(r.u32()) }

// str is a length-prefixed string, borrowed from the buffer.
func (r *reader) str() []byte { return r.take(int(r.u32())) }

// targetFromRecord reads a target record: str address (empty: unknown),
// i32 port (-1: unknown), str path.
func targetFromRecord(b []byte) Target {
	r := newReader(b)
	t := Target{Address: string(r.str())}
	if p := r.i32(); p >= 0 {
		t.Port = int(p)
	}
	t.Path = string(r.str())
	return t
}

// Event is something to record on a span, as the core decides it (the
// OpenTelemetry exception event for a malformed envelope).
type Event struct {
	Name       string
	Attributes []attribute.KeyValue
}

// eventFromRecord reads an event record: str name, attributes.
func eventFromRecord(b []byte) *Event {
	r := newReader(b)
	name := r.str()
	if !r.ok {
		return nil
	}
	n, attrs := attributesFromC(r.b, name)
	return &Event{Name: n, Attributes: attrs}
}

// The tracestate and baggage sections of context records repeat across
// messages (a stream carries the same ones): each conversion to otel-go's
// values is remembered by the section's bytes.
var (
	recordTraceStates memo[trace.TraceState]
	recordBaggages    memo[baggage.Baggage]
)

// contextFromRecord returns parent with the context record's span context
// (when valid) and baggage (when not empty). The tracestate entries and
// baggage members come already parsed by the core: they go straight into
// otel-go's values, not through a header string.
func contextFromRecord(parent context.Context, b []byte) context.Context {
	r := newReader(b)
	flags := r.u8()
	var cfg trace.SpanContextConfig
	hasSpan := flags&1 != 0
	if hasSpan {
		_, err1 := hex.Decode(cfg.TraceID[:], r.take(32))
		_, err2 := hex.Decode(cfg.SpanID[:], r.take(16))
		cfg.TraceFlags = trace.TraceFlags(r.u8())
		cfg.Remote = flags&2 != 0
		hasSpan = err1 == nil && err2 == nil
	}
	tsStart := r.b
	for n := r.u32(); r.ok && n > 0; n-- {
		r.str()
		r.str()
	}
	if ts := tsStart[:len(tsStart)-len(r.b)]; r.ok && len(ts) > 4 {
		cfg.TraceState = traceStateFromRecord(ts)
	}
	bag := r.b
	ctx := parent
	if hasSpan && r.ok {
		if sc := trace.NewSpanContext(cfg); sc.IsValid() {
			ctx = trace.ContextWithSpanContext(ctx, sc)
		}
	}
	if r.ok && len(bag) > 4 {
		ctx = baggage.ContextWithBaggage(ctx, baggageFromRecord(bag))
	}
	return ctx
}

// traceStateFromRecord converts list<str key, str value>, in order.
func traceStateFromRecord(section []byte) trace.TraceState {
	if v, ok := recordTraceStates.get(section); ok {
		return v
	}
	r := newReader(section)
	n := int(r.u32())
	entries := make([][2]string, 0, min(n, 32))
	for i := 0; i < n && r.ok; i++ {
		k, v := r.str(), r.str()
		entries = append(entries, [2]string{string(k), string(v)})
	}
	var ts trace.TraceState
	// Insert puts a key first: insert from the back to keep the order.
	for i := len(entries) - 1; i >= 0; i-- {
		if next, err := ts.Insert(entries[i][0], entries[i][1]); err == nil {
			ts = next
		}
	}
	recordTraceStates.put(string(section), ts)
	return ts
}

// baggageFromRecord converts list<member>: str key, str value, str
// metadata, list<str key, u8 has_value, str value> (the decoded properties).
func baggageFromRecord(section []byte) baggage.Baggage {
	if v, ok := recordBaggages.get(section); ok {
		return v
	}
	r := newReader(section)
	n := int(r.u32())
	members := make([]baggage.Member, 0, min(n, 64))
	for i := 0; i < n && r.ok; i++ {
		key, value := string(r.str()), string(r.str())
		r.str() // the header-form metadata; the decoded properties follow
		var props []baggage.Property
		for np := r.u32(); r.ok && np > 0; np-- {
			pk, has, pv := string(r.str()), r.u8() != 0, string(r.str())
			var p baggage.Property
			var err error
			if has {
				p, err = baggage.NewKeyValuePropertyRaw(pk, pv)
			} else {
				p, err = baggage.NewKeyProperty(pk)
			}
			if err == nil {
				props = append(props, p)
			}
		}
		// Members otel-go refuses (its key grammar is stricter) are left out.
		if m, err := baggage.NewMemberRaw(key, value, props...); err == nil {
			members = append(members, m)
		}
	}
	bag, err := baggage.New(members...)
	if err != nil {
		bag = baggage.Baggage{}
	}
	recordBaggages.put(string(section), bag)
	return bag
}
