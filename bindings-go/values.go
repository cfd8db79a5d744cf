package tracewire

/*
#cgo noescape tw_baggage_build
#cgo nocallback tw_baggage_build
#cgo noescape tw_baggage_free
#cgo nocallback tw_baggage_free
#cgo noescape tw_baggage_parse
#cgo nocallback tw_baggage_parse
#cgo noescape tw_context_free
#cgo nocallback tw_context_free
#cgo noescape tw_traceparent_format
#cgo nocallback tw_traceparent_format
#cgo noescape tw_traceparent_parse
#cgo nocallback tw_traceparent_parse
#cgo noescape tw_tracestate_free
#cgo nocallback tw_tracestate_free
#cgo noescape tw_tracestate_parse
#cgo nocallback tw_tracestate_parse
#cgo noescape tw_tracestate_update
#cgo nocallback tw_tracestate_update
#include "tracewire.h"
*/
import "C"

import (
	"context"
	"encoding/binary"
	"runtime"
	"unsafe"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
)

// TraceParent is a parsed W3C traceparent: the trace id, the id of the span
// that sent the context, and the trace flags (every bit kept, including the
// Level 2 random-trace-id bit and unknown bits).
type TraceParent struct {
	TraceID trace.TraceID
	SpanID  trace.SpanID
	Flags   trace.TraceFlags
}

// ParseTraceParent parses a traceparent header value (W3C Trace Context
// Level 2, section 3.2). A higher version is read by its version-00 fields.
// The error unwraps to ErrInvalidTraceParent.
func ParseTraceParent(value string) (*TraceParent, error) {
	var out C.TwSpanContext
	p, n := cString(value)
	err := takeError(C.tw_traceparent_parse(p, n, &out))
	runtime.KeepAlive(value)
	if err != nil {
		return nil, err
	}
	return spanOut(&out), nil
}

// String formats the traceparent as version 00 (55 characters). It returns
// "" when an id is all zeros, which no valid traceparent has.
func (tp TraceParent) String() string {
	in := spanIn(&tp)
	var out C.TwTraceParentText
	if err := takeError(C.tw_traceparent_format(&in, &out)); err != nil {
		return ""
	}
	return traceparentText(&out)
}

// IsSampled reports whether the sampled flag (bit 0) is set.
func (tp TraceParent) IsSampled() bool { return tp.Flags&trace.FlagsSampled != 0 }

// TraceStateEntry is one key/value member of a tracestate.
type TraceStateEntry struct {
	Key   string
	Value string
}

// TraceState is a W3C tracestate, validated by the core: an immutable list
// of entries with unique keys, leftmost the most recent. The zero value is
// the empty tracestate.
type TraceState struct {
	entries []TraceStateEntry
	header  string
}

func tracestateFromC(out *C.TwTraceState) TraceState {
	items := records(view(out.entries))
	ts := TraceState{header: goString(out.header)}
	if len(items) > 0 {
		ts.entries = make([]TraceStateEntry, 0, len(items)/2)
		for i := 0; i+1 < len(items); i += 2 {
			ts.entries = append(ts.entries, TraceStateEntry{Key: items[i], Value: items[i+1]})
		}
	}
	C.tw_tracestate_free(out)
	return ts
}

// ParseTraceState parses tracestate header lines, combined as if joined
// with "," (W3C Trace Context Level 2, section 3.3: at most 32 members;
// a duplicate key keeps its first entry). No lines give the empty state.
// The error unwraps to ErrInvalidTraceState.
func ParseTraceState(lines ...string) (TraceState, error) {
	var buf []byte
	for _, l := range lines {
		buf = appendRecord(buf, l)
	}
	var out C.TwTraceState
	p, n := cBytes(buf)
	err := takeError(C.tw_tracestate_parse(p, n, &out))
	runtime.KeepAlive(buf)
	if err != nil {
		return TraceState{}, err
	}
	return tracestateFromC(&out), nil
}

func (ts TraceState) update(key, value string, remove bool) (TraceState, error) {
	var buf []byte
	for _, e := range ts.entries {
		buf = appendRecord(buf, e.Key)
		buf = appendRecord(buf, e.Value)
	}
	var out C.TwTraceState
	bp, bn := cBytes(buf)
	kp, kn := cString(key)
	vp, vn := cString(value)
	err := takeError(C.tw_tracestate_update(bp, bn, kp, kn, vp, vn, C.bool(remove), &out))
	runtime.KeepAlive(buf)
	runtime.KeepAlive(key)
	runtime.KeepAlive(value)
	if err != nil {
		return ts, err
	}
	return tracestateFromC(&out), nil
}

// Insert returns the tracestate with key set to value, moved to the front;
// adding a 33rd entry drops the rightmost. The receiver is unchanged. The
// error unwraps to ErrInvalidTraceState for an invalid key or value.
func (ts TraceState) Insert(key, value string) (TraceState, error) {
	return ts.update(key, value, false)
}

// Delete returns the tracestate without key.
func (ts TraceState) Delete(key string) TraceState {
	out, err := ts.update(key, "", true)
	if err != nil {
		return ts
	}
	return out
}

// Entries returns a copy of the entries, in order.
func (ts TraceState) Entries() []TraceStateEntry {
	return append([]TraceStateEntry(nil), ts.entries...)
}

// Get returns the value of key.
func (ts TraceState) Get(key string) (string, bool) {
	for _, e := range ts.entries {
		if e.Key == key {
			return e.Value, true
		}
	}
	return "", false
}

// Len is the number of entries.
func (ts TraceState) Len() int { return len(ts.entries) }

// String is the header value: entries joined with "," and, if needed,
// shortened to 512 characters by dropping whole entries (section 3.3.1.5).
func (ts TraceState) String() string { return ts.header }

// Otel converts to the OpenTelemetry type. Entries otel-go refuses (Level 2
// keys starting with a digit, with "@" twice or a system part over 14
// characters) are left out; TraceContext.Context keeps them beside the span
// context.
func (ts TraceState) Otel() trace.TraceState { return otelTraceState(ts.entries) }

// otelTraceState builds an otel-go TraceState from entries the core parsed,
// keeping those otel-go accepts, in order.
func otelTraceState(entries []TraceStateEntry) trace.TraceState {
	var s trace.TraceState
	// Insert puts a key first: insert from the back to keep the order.
	for i := len(entries) - 1; i >= 0; i-- {
		if next, err := s.Insert(entries[i].Key, entries[i].Value); err == nil {
			s = next
		}
	}
	return s
}

// BaggageProperty is a property of a baggage member: a key and, for the
// key=value form, a value.
type BaggageProperty struct {
	Key      string
	Value    string
	HasValue bool
}

// BaggageMember is one baggage entry: a key, a percent-decoded value and its
// properties.
type BaggageMember struct {
	Key        string
	Value      string
	Properties []BaggageProperty
}

// Baggage is W3C Baggage, validated by the core: an immutable list of
// members with unique keys, in order. The zero value is empty baggage.
type Baggage struct {
	members []BaggageMember
	header  string
}

func baggageFromC(out *C.TwBaggage) Baggage {
	b := Baggage{header: goString(out.header)}
	raw := view(out.members)
	for len(raw) > 0 {
		var m BaggageMember
		var ok bool
		if m.Key, raw, ok = nextRecord(raw); !ok {
			break
		}
		m.Value, raw, _ = nextRecord(raw)
		var count string
		count, raw, _ = nextRecord(raw)
		if len(count) == 4 {
			n := binary.LittleEndian.Uint32([]byte(count))
			for range n {
				var p BaggageProperty
				var flag string
				p.Key, raw, _ = nextRecord(raw)
				flag, raw, _ = nextRecord(raw)
				p.Value, raw, _ = nextRecord(raw)
				p.HasValue = flag == "\x01"
				m.Properties = append(m.Properties, p)
			}
		}
		b.members = append(b.members, m)
	}
	C.tw_baggage_free(out)
	return b
}

func nextRecord(b []byte) (string, []byte, bool) {
	if len(b) < 4 {
		return "", nil, false
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n > len(b)-4 {
		return "", nil, false
	}
	return string(b[4 : 4+n]), b[4+n:], true
}

// ParseBaggage parses baggage header lines, combined as if joined with ","
// (W3C Baggage; values percent-decoded; a duplicate key's last value wins;
// members beyond 64 or 8192 bytes are dropped). No lines give empty baggage.
// The error unwraps to ErrInvalidBaggage.
func ParseBaggage(lines ...string) (Baggage, error) {
	var buf []byte
	for _, l := range lines {
		buf = appendRecord(buf, l)
	}
	var out C.TwBaggage
	p, n := cBytes(buf)
	err := takeError(C.tw_baggage_parse(p, n, &out))
	runtime.KeepAlive(buf)
	if err != nil {
		return Baggage{}, err
	}
	return baggageFromC(&out), nil
}

// NewBaggage builds baggage from members inserted in order: a key already
// present is replaced in place. The error unwraps to ErrInvalidBaggage for
// an invalid key or property, or a member over the limits.
func NewBaggage(members ...BaggageMember) (Baggage, error) {
	var buf []byte
	for _, m := range members {
		buf = appendRecord(buf, m.Key)
		buf = appendRecord(buf, m.Value)
		var count [4]byte
		binary.LittleEndian.PutUint32(count[:], uint32(len(m.Properties)))
		buf = appendRecord(buf, string(count[:]))
		for _, p := range m.Properties {
			buf = appendRecord(buf, p.Key)
			if p.HasValue {
				buf = appendRecord(buf, "\x01")
			} else {
				buf = appendRecord(buf, "\x00")
			}
			buf = appendRecord(buf, p.Value)
		}
	}
	var out C.TwBaggage
	p, n := cBytes(buf)
	err := takeError(C.tw_baggage_build(p, n, &out))
	runtime.KeepAlive(buf)
	if err != nil {
		return Baggage{}, err
	}
	return baggageFromC(&out), nil
}

// Insert returns the baggage with member set (replacing a member of the same
// key in place, else appended). The receiver is unchanged.
func (b Baggage) Insert(m BaggageMember) (Baggage, error) {
	return NewBaggage(append(b.Members(), m)...)
}

// Delete returns the baggage without key.
func (b Baggage) Delete(key string) Baggage {
	var keep []BaggageMember
	for _, m := range b.members {
		if m.Key != key {
			keep = append(keep, m)
		}
	}
	out, err := NewBaggage(keep...)
	if err != nil {
		return b
	}
	return out
}

// Members returns a copy of the members, in order.
func (b Baggage) Members() []BaggageMember {
	return append([]BaggageMember(nil), b.members...)
}

// Get returns the value of key.
func (b Baggage) Get(key string) (string, bool) {
	for _, m := range b.members {
		if m.Key == key {
			return m.Value, true
		}
	}
	return "", false
}

// Len is the number of members.
func (b Baggage) Len() int { return len(b.members) }

// String is the header value (percent-encoded, members joined with ",").
func (b Baggage) String() string { return b.header }

// Otel converts to the OpenTelemetry type. Members otel-go refuses are left out.
func (b Baggage) Otel() baggage.Baggage { return otelBaggage(b.members) }

// otelBaggage builds otel-go baggage from members the core parsed (values
// and property values already decoded), keeping those otel-go accepts.
func otelBaggage(members []BaggageMember) baggage.Baggage {
	ms := make([]baggage.Member, 0, len(members))
	for _, m := range members {
		var props []baggage.Property
		for _, p := range m.Properties {
			var prop baggage.Property
			var err error
			if p.HasValue {
				prop, err = baggage.NewKeyValuePropertyRaw(p.Key, p.Value)
			} else {
				prop, err = baggage.NewKeyProperty(p.Key)
			}
			if err == nil {
				props = append(props, prop)
			}
		}
		// Members otel-go refuses (its key grammar is stricter) are left out.
		if mem, err := baggage.NewMemberRaw(m.Key, m.Value, props...); err == nil {
			ms = append(ms, mem)
		}
	}
	bag, err := baggage.New(ms...)
	if err != nil {
		return baggage.Baggage{}
	}
	return bag
}

// TraceContext is everything propagated across one hop: the span context
// (TraceParent nil when there is none), its tracestate, the baggage (which
// may be present without a span context) and whether it came from another
// process.
type TraceContext struct {
	TraceParent *TraceParent
	TraceState  TraceState
	Baggage     Baggage
	Remote      bool
}

// IsEmpty reports whether there is nothing to propagate.
func (tc TraceContext) IsEmpty() bool { return tc.TraceParent == nil && tc.Baggage.Len() == 0 }

// FromContext reads the current span context and baggage of ctx.
func FromContext(ctx context.Context) TraceContext {
	w := wireFrom(ctx)
	var tc TraceContext
	if w.span.valid {
		tc.TraceParent = spanOut(&w.span)
		tc.Remote = trace.SpanContextFromContext(ctx).IsRemote()
		if w.tracestate != "" {
			tc.TraceState, _ = ParseTraceState(w.tracestate)
		}
	}
	if w.baggage != "" {
		tc.Baggage, _ = ParseBaggage(w.baggage)
	}
	return tc
}

// SpanContext is the OpenTelemetry span context (invalid without a TraceParent).
func (tc TraceContext) SpanContext() trace.SpanContext {
	if tc.TraceParent == nil {
		return trace.SpanContext{}
	}
	return trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    tc.TraceParent.TraceID,
		SpanID:     tc.TraceParent.SpanID,
		TraceFlags: tc.TraceParent.Flags,
		TraceState: tc.TraceState.Otel(),
		Remote:     tc.Remote,
	})
}

// Context returns parent with this span context (when there is one) and
// baggage (when not empty): what a receiver starts its span under. A
// tracestate otel-go cannot hold whole is kept beside the span context and
// passed on whole by Inject and FromContext.
func (tc TraceContext) Context(parent context.Context) context.Context {
	ctx := parent
	if sc := tc.SpanContext(); sc.IsValid() {
		ctx = trace.ContextWithSpanContext(ctx, sc)
		cfg := trace.SpanContextConfig{TraceID: sc.TraceID(), SpanID: sc.SpanID(), TraceFlags: sc.TraceFlags()}
		ctx = withReceived(ctx, cfg, tc.TraceState.entries, sc.TraceState())
	}
	if tc.Baggage.Len() > 0 {
		ctx = baggage.ContextWithBaggage(ctx, tc.Baggage.Otel())
	}
	return ctx
}

// wire is a context in the form the C ABI takes: the span context and the
// tracestate and baggage header values.
type wire struct {
	span       C.TwSpanContext
	tracestate string
	baggage    string
}

func wireFrom(ctx context.Context) wire {
	var w wire
	sc := trace.SpanContextFromContext(ctx)
	if sc.IsValid() {
		tid, sid := sc.TraceID(), sc.SpanID()
		*(*[16]byte)(unsafe.Pointer(&w.span.trace_id)) = tid
		*(*[8]byte)(unsafe.Pointer(&w.span.span_id)) = sid
		w.span.flags = C.uint8_t(sc.TraceFlags())
		w.span.valid = true
		if ts := sc.TraceState(); ts.Len() > 0 {
			w.tracestate = ts.String()
		}
		passOn(ctx, &w)
	}
	if bag := baggage.FromContext(ctx); bag.Len() > 0 {
		w.baggage = bag.String()
	}
	return w
}

func (tc TraceContext) wire() wire {
	w := wire{span: spanIn(tc.TraceParent), baggage: tc.Baggage.header}
	if tc.TraceParent != nil {
		w.tracestate = tc.TraceState.header
	}
	return w
}

// freeContext frees what a C context allocated; a context without
// tracestate and baggage allocated nothing, and no C call is made.
func freeContext(c *C.TwContext) {
	if c.record.ptr != nil || c.tracestate.ptr != nil || c.baggage.ptr != nil {
		C.tw_context_free(c)
	}
}

// contextFromC returns parent with the context a C call produced (and frees
// it): the span context from its bytes, the tracestate and baggage from the
// context record, already parsed by the core. An invalid span context
// leaves parent's span as it is.
func contextFromC(parent context.Context, c *C.TwContext) context.Context {
	cfg := trace.SpanContextConfig{
		TraceID:    trace.TraceID(*(*[16]byte)(unsafe.Pointer(&c.span.trace_id))),
		SpanID:     trace.SpanID(*(*[8]byte)(unsafe.Pointer(&c.span.span_id))),
		TraceFlags: trace.TraceFlags(c.span.flags),
		Remote:     bool(c.remote),
	}
	if c.record.ptr == nil {
		if c.span.valid {
			return trace.ContextWithSpanContext(parent, trace.NewSpanContext(cfg))
		}
		return parent
	}
	r := newReader(view(c.record))
	skipSpan(&r)
	ctx := withSections(parent, cfg, bool(c.span.valid), &r)
	freeContext(c)
	return ctx
}

// traceContextFromC converts a C context, produced with its header forms,
// into a TraceContext (and frees it): the entries and members come parsed
// in the record, the header forms from the core.
func traceContextFromC(c *C.TwContext) TraceContext {
	tc := TraceContext{TraceParent: spanOut(&c.span), Remote: bool(c.remote)}
	if c.record.ptr != nil {
		r := newReader(view(c.record))
		skipSpan(&r)
		tc.TraceState = TraceState{entries: entriesFromRecord(&r), header: goString(c.tracestate)}
		tc.Baggage = Baggage{members: membersFromRecord(&r), header: goString(c.baggage)}
	}
	freeContext(c)
	return tc
}
