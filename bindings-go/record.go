package tracewire

// Readers of the bridge's byte format (little-endian; the grammar is in
// bindings-bridge/src/lib.rs and wire.rs): target, event and context records.

import (
	"context"
	"encoding/binary"

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

// spanFromRecord reads the head of a context record: flags, then (bit 0)
// the hex trace and span ids and the trace flags. ok is false when there is
// no span context or an id is not hex.
func spanFromRecord(r *reader) (cfg trace.SpanContextConfig, ok bool) {
	flags := r.u8()
	cfg.Remote = flags&2 != 0
	if flags&1 == 0 {
		return cfg, false
	}
	ok1 := decodeHexID(cfg.TraceID[:], r.take(32))
	ok2 := decodeHexID(cfg.SpanID[:], r.take(16))
	cfg.TraceFlags = trace.TraceFlags(r.u8())
	return cfg, ok1 && ok2 && r.ok
}

// decodeHexID decodes src, 2*len(dst) lowercase hex digits (as the record
// writes them), into dst; false for a wrong length or any other byte. The
// ids are on every received context, so this works on 8 digits at a time
// (SWAR) instead of encoding/hex's digit-by-digit loop. len(dst) must be a
// multiple of 4.
func decodeHexID(dst, src []byte) bool {
	if len(src) != 2*len(dst) {
		return false
	}
	const ones, high = 0x0101010101010101, 0x8080808080808080
	ok := true
	for i := 0; i+8 <= len(src); i += 8 {
		x := binary.LittleEndian.Uint64(src[i : i+8])
		// Each byte must be '0'-'9' or 'a'-'f'.
		ok = ok && x&high == 0 && byteBetween(x, '0'-1, '9'+1)|byteBetween(x, 'a'-1, 'f'+1) == high
		// Digit value: the low nibble, plus 9 for a letter (bit 6 set).
		n := x&(ones*0x0f) + (x>>6)&ones*9
		// Pair the nibbles of each 16-bit lane, then gather the four bytes.
		n = (n<<4 | n>>8) & 0x00ff00ff00ff00ff
		n = (n | n>>8) & 0x0000ffff0000ffff
		n = (n | n>>16) & 0xffffffff
		binary.LittleEndian.PutUint32(dst[i/2:], uint32(n))
	}
	return ok
}

// byteBetween sets the high bit of each byte b of x with m < b < n (every
// byte of x below 0x80; m, n at most 128), as in "Bit Twiddling Hacks".
func byteBetween(x, m, n uint64) uint64 {
	const ones, low7 = 0x0101010101010101, 0x7f7f7f7f7f7f7f7f
	return (ones*(127+n) - x&low7) & ^x & (x&low7 + ones*(127-m)) & (ones * 0x80)
}

// contextFromRecord returns parent with the context record's span context
// (when valid) and baggage (when not empty).
func contextFromRecord(parent context.Context, b []byte) context.Context {
	r := newReader(b)
	cfg, hasSpan := spanFromRecord(&r)
	return withSections(parent, cfg, hasSpan, &r)
}

// skipSpan reads past the head of a context record (the flags and, with
// bit 0, the ids and trace flags) and returns the flags: for a reader that
// has the span context as bytes already.
func skipSpan(r *reader) byte {
	flags := r.u8()
	if flags&1 != 0 {
		r.take(32 + 16 + 1)
	}
	return flags
}

// withSections returns parent with the span context cfg (when hasSpan) and
// the tracestate and baggage sections of a record read by r (past the
// head). The tracestate entries and baggage members come already parsed by
// the core: they go straight into otel-go's values, not through a header
// string.
func withSections(parent context.Context, cfg trace.SpanContextConfig, hasSpan bool, r *reader) context.Context {
	tsStart := r.b
	for n := r.u32(); r.ok && n > 0; n-- {
		r.str()
		r.str()
	}
	ts := tsStart[:len(tsStart)-len(r.b)]
	if r.ok && len(ts) > 4 {
		cfg.TraceState = traceStateFromRecord(ts)
	}
	bag := r.b
	ctx := parent
	if hasSpan && r.ok {
		if sc := trace.NewSpanContext(cfg); sc.IsValid() {
			ctx = trace.ContextWithSpanContext(ctx, sc)
			if len(ts) > 4 && cfg.TraceState.Len() != int(binary.LittleEndian.Uint32(ts)) {
				tr := newReader(ts)
				ctx = withReceived(ctx, cfg, entriesFromRecord(&tr), cfg.TraceState)
			}
		}
	}
	if r.ok && len(bag) > 4 {
		ctx = baggage.ContextWithBaggage(ctx, baggageFromRecord(bag))
	}
	return ctx
}

// entriesFromRecord reads list<str key, str value>, in order.
func entriesFromRecord(r *reader) []TraceStateEntry {
	n := int(r.u32())
	if n == 0 || !r.ok {
		return nil
	}
	entries := make([]TraceStateEntry, 0, min(n, 32))
	for i := 0; i < n && r.ok; i++ {
		k, v := r.str(), r.str()
		entries = append(entries, TraceStateEntry{Key: string(k), Value: string(v)})
	}
	return entries
}

// membersFromRecord reads list<member>: str key, str value, str metadata,
// list<str key, u8 has_value, str value> (the decoded properties).
func membersFromRecord(r *reader) []BaggageMember {
	n := int(r.u32())
	if n == 0 || !r.ok {
		return nil
	}
	members := make([]BaggageMember, 0, min(n, 64))
	for i := 0; i < n && r.ok; i++ {
		m := BaggageMember{Key: string(r.str()), Value: string(r.str())}
		r.str() // the header-form metadata; the decoded properties follow
		for np := r.u32(); r.ok && np > 0; np-- {
			p := BaggageProperty{Key: string(r.str())}
			p.HasValue = r.u8() != 0
			p.Value = string(r.str())
			m.Properties = append(m.Properties, p)
		}
		members = append(members, m)
	}
	return members
}

// traceStateFromRecord converts a tracestate section to otel-go's value.
func traceStateFromRecord(section []byte) trace.TraceState {
	if v, ok := recordTraceStates.get(section); ok {
		return v
	}
	r := newReader(section)
	ts := otelTraceState(entriesFromRecord(&r))
	recordTraceStates.put(string(section), ts)
	return ts
}

// baggageFromRecord converts a baggage section to otel-go's value.
func baggageFromRecord(section []byte) baggage.Baggage {
	if v, ok := recordBaggages.get(section); ok {
		return v
	}
	r := newReader(section)
	bag := otelBaggage(membersFromRecord(&r))
	recordBaggages.put(string(section), bag)
	return bag
}
