package tracewire

/*
#cgo noescape tw_choose
#cgo nocallback tw_choose
#cgo noescape tw_close_decision_free
#cgo nocallback tw_close_decision_free
#cgo noescape tw_connection_close
#cgo nocallback tw_connection_close
#cgo noescape tw_connection_ends_at_upgrade
#cgo nocallback tw_connection_ends_at_upgrade
#cgo noescape tw_connection_free
#cgo nocallback tw_connection_free
#cgo noescape tw_connection_message
#cgo nocallback tw_connection_message
#cgo noescape tw_connection_new
#cgo nocallback tw_connection_new
#cgo noescape tw_connection_set_route
#cgo nocallback tw_connection_set_route
#cgo noescape tw_connection_open
#cgo nocallback tw_connection_open
#cgo noescape tw_message_size_key
#cgo nocallback tw_message_size_key
#cgo noescape tw_model_parse
#cgo nocallback tw_model_parse
#cgo noescape tw_span_decision_free
#cgo nocallback tw_span_decision_free
#include "tracewire.h"
*/
import "C"

import (
	"context"
	"encoding/binary"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Model is how spans on a connection relate to each other
// (docs/PROTOCOL.md section 7).
type Model uint32

const (
	// ModelConnection: one trace per connection; the connection span is the
	// ancestor of every message span. Suits short sessions.
	ModelConnection Model = 0
	// ModelMessage: one trace per request or stream, linked to the
	// connection span and tagged with the session id. Suits long-lived sockets.
	ModelMessage Model = 1
)

// ParseModel parses "connection" or "message" (case-insensitive). The error
// unwraps to ErrInvalidArgument.
func ParseModel(name string) (Model, error) {
	var out C.uint32_t
	p, n := cString(name)
	err := takeError(C.tw_model_parse(p, n, &out))
	runtime.KeepAlive(name)
	return Model(out), err
}

// String is "connection" or "message".
func (m Model) String() string {
	if m == ModelMessage {
		return "message"
	}
	return "connection"
}

// Role is which end of the connection this is.
type Role uint32

const (
	// RoleClient is the side that sent the upgrade request.
	RoleClient Role = 0
	// RoleServer is the side that accepted it.
	RoleServer Role = 1
)

// MessageType is the type of a data frame.
type MessageType uint32

const (
	// Text is a UTF-8 text frame.
	Text MessageType = 0
	// Binary is a binary frame.
	Binary MessageType = 1
)

// ParentSource is where a span's parent comes from. A decision lists
// candidates in order; the first available is the parent, and if none is,
// the span starts a new trace.
type ParentSource uint32

const (
	// ParentRemote is the context received with the handshake or the message.
	ParentRemote ParentSource = 0
	// ParentAmbient is the caller's current span.
	ParentAmbient ParentSource = 1
	// ParentAmbientInConnectionTrace is the caller's current span, if it is
	// in the connection span's trace.
	ParentAmbientInConnectionTrace ParentSource = 2
	// ParentConnection is the connection span.
	ParentConnection ParentSource = 3
)

// LinkSource is a span to link to, added when available and not the parent.
type LinkSource uint32

const (
	// LinkConnection is the connection span.
	LinkConnection LinkSource = 0
	// LinkRemote is the received span context, for a peer not trusted as a
	// parent (RemoteLink).
	LinkRemote LinkSource = 1
)

// MessageSizeKey is the one message-span attribute that changes from message
// to message (the payload size), as the core names it. A transport
// integration prepares a connection's Send and Receive decisions once,
// removes this key with Without, and adds it per message when it starts the
// span, instead of asking the core again for every message.
var MessageSizeKey = attribute.Key(staticString(C.tw_message_size_key()))

// Without returns the decision minus the attribute key (for a decision
// prepared once and completed per span).
func (d SpanDecision) Without(key attribute.Key) SpanDecision {
	attrs := make([]attribute.KeyValue, 0, len(d.Attributes))
	for _, kv := range d.Attributes {
		if kv.Key != key {
			attrs = append(attrs, kv)
		}
	}
	d.Attributes = attrs
	return d
}

// SpanDecision is everything needed to start one span, as the core decides
// it: name, kind, parent candidates, links and attributes.
type SpanDecision struct {
	Name       string
	Kind       trace.SpanKind
	Parents    []ParentSource
	Links      []LinkSource
	Attributes []attribute.KeyValue
}

// CloseDecision is what to record when a connection closes. With Span nil,
// set Attributes on the connection span and end it; otherwise start and end
// Span (the message model, whose connection span ended at the upgrade).
type CloseDecision struct {
	Attributes []attribute.KeyValue
	IsError    bool
	Span       *SpanDecision
}

func attrsOnly(b []byte) []attribute.KeyValue {
	_, a := attributesFromC(b, nil)
	return a
}

var spanKinds = map[C.uint32_t]trace.SpanKind{
	C.TW_SPAN_KIND_CLIENT:   trace.SpanKindClient,
	C.TW_SPAN_KIND_SERVER:   trace.SpanKindServer,
	C.TW_SPAN_KIND_PRODUCER: trace.SpanKindProducer,
	C.TW_SPAN_KIND_CONSUMER: trace.SpanKindConsumer,
	C.TW_SPAN_KIND_INTERNAL: trace.SpanKindInternal,
}

// interned holds the strings of span decisions (names, attribute keys and
// string values), which repeat on every message of a connection: decoding a
// decision then allocates nothing but its slices.
var interned memo[string]

// internAll returns the strings for items.
func internAll(items [][]byte) []string {
	out := make([]string, len(items))
	for i, b := range items {
		s, ok := interned.get(b)
		if !ok && len(b) > 0 {
			s = string(b)
			interned.put(s, s)
		}
		out[i] = s
	}
	return out
}

// attributesFromC decodes the bridge's attributes block (little-endian; see
// TwSpanDecision in the header): a u32 count, then per attribute a u32-length
// key, a tag byte and the value (0 string with a u32 length, 1 int64,
// 2 float64, 3 bool byte). A block that is short or has an unknown tag is
// decoded up to the bad attribute (the core writes every block, so that
// means a mismatched library, which the ABI version check reports).
func attributesFromC(b []byte, name []byte) (string, []attribute.KeyValue) {
	type raw struct {
		key, str []byte
		tag      byte
		num      uint64
	}
	var items [24]raw
	list := items[:0]
	next := func(n int) ([]byte, bool) {
		if n < 0 || n > len(b) {
			return nil, false
		}
		v := b[:n]
		b = b[n:]
		return v, true
	}
	u32 := func() (int, bool) {
		v, ok := next(4)
		if !ok {
			return 0, false
		}
		return int(binary.LittleEndian.Uint32(v)), true
	}
	count, ok := u32()
	for i := 0; ok && i < count; i++ {
		var r raw
		var n int
		var t []byte
		if n, ok = u32(); !ok {
			break
		}
		if r.key, ok = next(n); !ok {
			break
		}
		if t, ok = next(1); !ok {
			break
		}
		r.tag = t[0]
		switch r.tag {
		case 0:
			if n, ok = u32(); ok {
				r.str, ok = next(n)
			}
		case 1, 2:
			var v []byte
			if v, ok = next(8); ok {
				r.num = binary.LittleEndian.Uint64(v)
			}
		case 3:
			var v []byte
			if v, ok = next(1); ok {
				r.num = uint64(v[0])
				ok = v[0] <= 1
			}
		default:
			ok = false
		}
		if ok {
			list = append(list, r)
		}
	}
	strs := make([][]byte, 0, 2*len(list)+1)
	strs = append(strs, name)
	for _, r := range list {
		strs = append(strs, r.key)
		if r.tag == 0 {
			strs = append(strs, r.str)
		}
	}
	is := internAll(strs)
	out := make([]attribute.KeyValue, 0, len(list))
	j := 1
	for _, r := range list {
		key := attribute.Key(is[j])
		j++
		switch r.tag {
		case 0:
			out = append(out, key.String(is[j]))
			j++
		case 1:
			out = append(out, key.Int64(int64(r.num)))
		case 2:
			out = append(out, key.Float64(math.Float64frombits(r.num)))
		case 3:
			out = append(out, key.Bool(r.num == 1))
		}
	}
	return is[0], out
}

func decisionFromC(d *C.TwSpanDecision) SpanDecision {
	name, attrs := attributesFromC(view(d.attributes), view(d.name))
	out := SpanDecision{Name: name, Kind: spanKinds[d.kind], Attributes: attrs}
	for _, p := range d.parents[:d.parent_count] {
		out.Parents = append(out.Parents, ParentSource(p))
	}
	for _, l := range d.links[:d.link_count] {
		out.Links = append(out.Links, LinkSource(l))
	}
	C.tw_span_decision_free(d)
	return out
}

// ConnectionInfo describes one connection for the tracing model.
type ConnectionInfo struct {
	Model     Model
	Role      Role
	SessionID string
	// URLPath is the path of the WebSocket URL ("" is "/").
	URLPath string
	// ServerAddress is the host of the URL ("" when unknown).
	ServerAddress string
	// ServerPort is the port of the URL (0 when unknown).
	ServerPort int
	// Route is the route template the application matched ("/chat/{room}"
	// for "/chat/42"; "" when none): span names use it instead of the raw
	// path, whose cardinality is unbounded, and it is recorded as
	// http.route and messaging.destination.template.
	Route string
}

// Connection holds the facts about one connection that every span
// decision depends on. It is safe for concurrent use; Close frees it
// (idempotent), and it is also freed when garbage collected.
type Connection struct {
	mu      sync.RWMutex
	h       *C.TwConnection
	cleanup runtime.Cleanup
}

// NewConnection describes a connection. The error unwraps to
// ErrInvalidArgument for an unknown model or role or a port over 65535.
func NewConnection(info ConnectionInfo) (*Connection, error) {
	c := &Connection{}
	sp, sn := cString(info.SessionID)
	pp, pn := cString(info.URLPath)
	var ap *C.uint8_t
	var an C.size_t
	port := C.int32_t(-1)
	if info.ServerAddress != "" {
		ap, an = cString(info.ServerAddress)
		if info.ServerPort > 0 {
			port = C.int32_t(min(info.ServerPort, math.MaxInt32))
		}
	}
	err := takeError(C.tw_connection_new(C.uint32_t(info.Model), C.uint32_t(info.Role), sp, sn, pp, pn, ap, an, port, &c.h))
	if err == nil && info.Route != "" {
		rp, rn := cString(info.Route)
		if err = takeError(C.tw_connection_set_route(c.h, rp, rn)); err != nil {
			C.tw_connection_free(&c.h)
		}
	}
	runtime.KeepAlive(info)
	if err != nil {
		return nil, err
	}
	c.cleanup = runtime.AddCleanup(c, func(h *C.TwConnection) { C.tw_connection_free(&h) }, c.h)
	return c, nil
}

// Close frees the connection description. Idempotent.
func (c *Connection) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h != nil {
		c.cleanup.Stop()
		C.tw_connection_free(&c.h)
	}
	return nil
}

// EndsAtUpgrade reports whether the connection span ends when the upgrade
// completes (the message model) rather than at close.
func (c *Connection) EndsAtUpgrade() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out C.bool
	if c.h == nil || C.tw_connection_ends_at_upgrade(c.h, &out) != nil {
		return false
	}
	return bool(out)
}

// Open is the connection span: "connect {path}" (client) or "accept {path}" (server).
func (c *Connection) Open() (SpanDecision, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.h == nil {
		return SpanDecision{}, errClosed
	}
	var out C.TwSpanDecision
	if err := takeError(C.tw_connection_open(c.h, &out)); err != nil {
		return SpanDecision{}, err
	}
	return decisionFromC(&out), nil
}

// Send is the span for sending one data message of size payload bytes.
func (c *Connection) Send(t MessageType, size int) (SpanDecision, error) {
	return c.message(false, t, size)
}

// Receive is the span for processing one received data message of size
// payload bytes (without the envelope).
func (c *Connection) Receive(t MessageType, size int) (SpanDecision, error) {
	return c.message(true, t, size)
}

func (c *Connection) message(receive bool, t MessageType, size int) (SpanDecision, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.h == nil {
		return SpanDecision{}, errClosed
	}
	var out C.TwSpanDecision
	if err := takeError(C.tw_connection_message(c.h, C.bool(receive), C.uint32_t(t), C.uint64_t(size), &out)); err != nil {
		return SpanDecision{}, err
	}
	return decisionFromC(&out), nil
}

// Closed is what to record when the connection closes with code (negative:
// it ended without a close frame, recorded as 1006) and reason.
func (c *Connection) Closed(code int, reason string) (CloseDecision, error) {
	return c.closed(code, reason, 0)
}

func (c *Connection) closed(code int, reason string, receiveSpansSkipped uint64) (CloseDecision, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.h == nil {
		return CloseDecision{}, errClosed
	}
	if code > math.MaxInt32 {
		code = math.MaxInt32
	}
	var out C.TwCloseDecision
	rp, rn := cString(reason)
	err := takeError(C.tw_connection_close(c.h, C.int32_t(code), rp, rn, C.uint64_t(receiveSpansSkipped), &out))
	runtime.KeepAlive(reason)
	if err != nil {
		return CloseDecision{}, err
	}
	d := CloseDecision{
		Attributes: attrsOnly(view(out.attributes)),
		IsError:    bool(out.is_error),
	}
	if out.has_span {
		s := decisionFromC(&out.span)
		d.Span = &s
	}
	C.tw_close_decision_free(&out)
	return d, nil
}

// Sources are the spans and contexts a decision's parents, links and
// baggage may come from. Each span is used only when it holds a valid span
// context.
type Sources struct {
	// Remote is the context received with the handshake or the message
	// (its span context and baggage; nil when nothing was received).
	Remote context.Context
	// Connection is the connection span's context.
	Connection trace.SpanContext
	// ConnectionBaggage is the baggage of the context holding the
	// connection span (what a span parented by the connection span carries).
	ConnectionBaggage baggage.Baggage
}

// available reads the facts the core's choice depends on off the contexts
// (the TW_AVAILABLE_* bits; their meaning is the core's model::Available).
func available(ambient, remote, conn trace.SpanContext, remoteBaggage bool) C.uint32_t {
	var bits C.uint32_t
	if remote.IsValid() {
		bits |= C.TW_AVAILABLE_REMOTE_HAS_SPAN
	}
	if remoteBaggage {
		bits |= C.TW_AVAILABLE_REMOTE_HAS_BAGGAGE
	}
	if conn.IsValid() {
		bits |= C.TW_AVAILABLE_CONNECTION_HAS_SPAN
	}
	if ambient.IsValid() {
		bits |= C.TW_AVAILABLE_AMBIENT_HAS_SPAN
		if conn.IsValid() && ambient.TraceID() == conn.TraceID() {
			bits |= C.TW_AVAILABLE_AMBIENT_IN_CONNECTION_TRACE
			if ambient.SpanID() == conn.SpanID() {
				bits |= C.TW_AVAILABLE_AMBIENT_IS_CONNECTION
			}
		}
	}
	return bits
}

// choose asks the core how to apply the decision (model::choose): the
// packed TW_APPLIED_* word. The core's answers are remembered (see chosen).
func (d *SpanDecision) choose(bits C.uint32_t) (C.uint32_t, error) {
	key, ok := chooseKey(d.Parents, d.Links, bits)
	if ok {
		if e := chosen[key%uint64(len(chosen))].Load(); e>>32 == key && e&chosenValid != 0 {
			return C.uint32_t(e &^ chosenValid & 0xffffffff), nil
		}
	}
	var out C.uint32_t
	var pp, lp *C.uint32_t
	if len(d.Parents) > 0 {
		pp = (*C.uint32_t)(unsafe.Pointer(unsafe.SliceData(d.Parents)))
	}
	if len(d.Links) > 0 {
		lp = (*C.uint32_t)(unsafe.Pointer(unsafe.SliceData(d.Links)))
	}
	err := C.tw_choose(pp, C.size_t(len(d.Parents)), lp, C.size_t(len(d.Links)), bits, &out)
	runtime.KeepAlive(d)
	if err != nil {
		return 0, takeError(err)
	}
	if ok {
		chosen[key%uint64(len(chosen))].Store(key<<32 | chosenValid | uint64(out))
	}
	return out, nil
}

// chosen remembers the core's choice for a decision's candidates, links and
// availability bits: a pure function of the three, asked on every span of
// every message. A shared direct-mapped table as memo.go's (the cache
// policy), keyed by the exact packed inputs: each slot holds key<<32 |
// chosenValid | the packed answer (18 bits), so a lookup is one atomic load
// and nothing is ever stale.
var chosen [cacheSharedSlots]atomic.Uint64

const chosenValid = 1 << 31

// chooseKey packs the inputs of a choice into 30 bits: 6 availability bits,
// then 4 candidates and 4 links of 3 bits each (code + 1; 0 is none).
// Inputs too long or codes too large to pack are not remembered.
func chooseKey(parents []ParentSource, links []LinkSource, bits C.uint32_t) (uint64, bool) {
	if len(parents) > 4 || len(links) > 4 || bits >= 1<<6 {
		return 0, false
	}
	key := uint64(bits)
	for i, p := range parents {
		if p > 6 {
			return 0, false
		}
		key |= uint64(p+1) << (6 + 3*i)
	}
	for i, l := range links {
		if l > 6 {
			return 0, false
		}
		key |= uint64(l+1) << (18 + 3*i)
	}
	return key, true
}

// Start starts the span the decision describes with tracer, as the core's
// choice (model::choose) says for what is available: the parent (the
// remote context, the span in ctx, the connection span, or none: a new
// trace), whether the connection span is linked, and which baggage the
// returned context carries. ctx is the ambient context; the returned
// context is ctx with the new span and that baggage.
func (d SpanDecision) Start(ctx context.Context, tracer trace.Tracer, src Sources, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	ambient := trace.SpanContextFromContext(ctx)
	var remote trace.SpanContext
	var remoteBag baggage.Baggage
	if src.Remote != nil {
		remote = trace.SpanContextFromContext(src.Remote)
		remoteBag = baggage.FromContext(src.Remote)
	}
	applied, err := d.choose(available(ambient, remote, src.Connection, remoteBag.Len() > 0))
	if err != nil {
		// Only a decision not made by the core (an unknown source) fails:
		// start the span anyway, as a new trace with nothing carried over.
		applied = C.TW_APPLIED_PARENT_NEW_TRACE | C.TW_APPLIED_BAGGAGE_NONE<<8
	}
	all := make([]trace.SpanStartOption, 0, 4+len(opts))
	all = append(all, trace.WithSpanKind(d.Kind), trace.WithAttributes(d.Attributes...))
	parentCtx := ctx
	switch applied & 0xff {
	case C.TW_APPLIED_PARENT_REMOTE:
		parentCtx = trace.ContextWithSpanContext(ctx, remote)
	case C.TW_APPLIED_PARENT_AMBIENT:
	case C.TW_APPLIED_PARENT_CONNECTION:
		parentCtx = trace.ContextWithSpanContext(ctx, src.Connection)
	default:
		all = append(all, trace.WithNewRoot())
	}
	switch applied >> 8 & 0xff {
	case C.TW_APPLIED_BAGGAGE_REMOTE:
		parentCtx = baggage.ContextWithBaggage(parentCtx, remoteBag)
	case C.TW_APPLIED_BAGGAGE_AMBIENT:
	case C.TW_APPLIED_BAGGAGE_CONNECTION:
		parentCtx = baggage.ContextWithBaggage(parentCtx, src.ConnectionBaggage)
	default:
		if baggage.FromContext(parentCtx).Len() > 0 {
			parentCtx = baggage.ContextWithoutBaggage(parentCtx)
		}
	}
	if applied&C.TW_APPLIED_LINK_CONNECTION != 0 {
		all = append(all, trace.WithLinks(trace.Link{SpanContext: src.Connection}))
	}
	if applied&C.TW_APPLIED_LINK_REMOTE != 0 {
		all = append(all, trace.WithLinks(trace.Link{SpanContext: remote}))
	}
	all = append(all, opts...)
	return tracer.Start(parentCtx, d.Name, all...)
}

// Apply records the decision on span (the connection span, when Span is
// nil) or, in the message model, starts and ends the close span with
// tracer under ctx, linked to the connection span.
func (d CloseDecision) Apply(ctx context.Context, tracer trace.Tracer, connectionSpan trace.Span) {
	if d.Span == nil {
		if connectionSpan == nil {
			return
		}
		connectionSpan.SetAttributes(d.Attributes...)
		if d.IsError {
			connectionSpan.SetStatus(codes.Error, "")
		}
		connectionSpan.End()
		return
	}
	var conn trace.SpanContext
	if connectionSpan != nil {
		conn = connectionSpan.SpanContext()
	}
	_, span := d.Span.Start(ctx, tracer, Sources{Connection: conn})
	if d.IsError {
		span.SetStatus(codes.Error, "")
	}
	span.End()
}

// String is "remote", "ambient", "ambient_in_connection_trace" or "connection".
func (p ParentSource) String() string {
	switch p {
	case ParentRemote:
		return "remote"
	case ParentAmbient:
		return "ambient"
	case ParentAmbientInConnectionTrace:
		return "ambient_in_connection_trace"
	case ParentConnection:
		return "connection"
	}
	return "unknown"
}

// String is "connection" or "remote".
func (l LinkSource) String() string {
	switch l {
	case LinkConnection:
		return "connection"
	case LinkRemote:
		return "remote"
	}
	return "unknown"
}

// String is "text" or "binary".
func (t MessageType) String() string {
	if t == Binary {
		return "binary"
	}
	return "text"
}

// String is "client" or "server".
func (r Role) String() string {
	if r == RoleServer {
		return "server"
	}
	return "client"
}

// The constants above are the C ABI's values; these lines stop compiling
// (constant overflow) if the two ever differ.
const (
	_ = ModelConnection - C.TW_MODEL_CONNECTION
	_ = C.TW_MODEL_CONNECTION - ModelConnection
	_ = ModelMessage - C.TW_MODEL_MESSAGE
	_ = C.TW_MODEL_MESSAGE - ModelMessage
	_ = RoleClient - C.TW_ROLE_CLIENT
	_ = C.TW_ROLE_CLIENT - RoleClient
	_ = RoleServer - C.TW_ROLE_SERVER
	_ = C.TW_ROLE_SERVER - RoleServer
	_ = Text - C.TW_MESSAGE_TEXT
	_ = C.TW_MESSAGE_TEXT - Text
	_ = Binary - C.TW_MESSAGE_BINARY
	_ = C.TW_MESSAGE_BINARY - Binary
	_ = ParentRemote - C.TW_PARENT_REMOTE
	_ = C.TW_PARENT_REMOTE - ParentRemote
	_ = ParentAmbient - C.TW_PARENT_AMBIENT
	_ = C.TW_PARENT_AMBIENT - ParentAmbient
	_ = ParentAmbientInConnectionTrace - C.TW_PARENT_AMBIENT_IN_CONNECTION_TRACE
	_ = C.TW_PARENT_AMBIENT_IN_CONNECTION_TRACE - ParentAmbientInConnectionTrace
	_ = ParentConnection - C.TW_PARENT_CONNECTION
	_ = C.TW_PARENT_CONNECTION - ParentConnection
	_ = LinkConnection - C.TW_LINK_CONNECTION
	_ = C.TW_LINK_CONNECTION - LinkConnection
	_ = LinkRemote - C.TW_LINK_REMOTE
	_ = C.TW_LINK_REMOTE - LinkRemote
)
