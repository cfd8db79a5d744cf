package tracewire

/*
#include "tracewire.h"
*/
import "C"

import (
	"context"
	"runtime"
	"sync/atomic"
)

// RemoteContext is what a received context (from the handshake or a
// message) does to the spans this side starts for it (docs/PROTOCOL.md
// section 12).
type RemoteContext uint32

const (
	// RemoteParent trusts the peer: its span context is the parent.
	RemoteParent RemoteContext = 0
	// RemoteLink starts a new trace (sampled by the local sampler alone)
	// linked to the peer's span context.
	RemoteLink RemoteContext = 1
	// RemoteIgnore drops the peer's span context.
	RemoteIgnore RemoteContext = 2
)

// BaggagePolicy is which received baggage members reach the handler.
type BaggagePolicy uint32

const (
	// BaggageKeepAll keeps every member.
	BaggageKeepAll BaggagePolicy = 0
	// BaggageAllowKeys keeps the members whose key is listed.
	BaggageAllowKeys BaggagePolicy = 1
	// BaggageDrop keeps none.
	BaggageDrop BaggagePolicy = 2
)

// Trust is a connection's trust policy, decided by the core (model::Trust):
// nil is the trusted default. Safe for concurrent use; it is freed when
// garbage collected.
type Trust struct {
	h *C.TwTrust
}

// NewTrust makes a policy: remote, baggage (allowedKeys are used with
// BaggageAllowKeys) and the most received messages that get a process span
// (negative: no limit). The error unwraps to ErrInvalidArgument for an
// unknown policy or a limit over 2^32 - 1.
func NewTrust(remote RemoteContext, baggage BaggagePolicy, allowedKeys []string, maxReceiveSpans int) (*Trust, error) {
	var keys []byte
	for _, k := range allowedKeys {
		keys = appendRecord(keys, k)
	}
	kp, kn := cBytes(keys)
	t := &Trust{}
	err := takeError(C.tw_trust_new(C.uint32_t(remote), C.uint32_t(baggage), kp, kn, C.int64_t(maxReceiveSpans), &t.h))
	runtime.KeepAlive(keys)
	if err != nil {
		return nil, err
	}
	runtime.AddCleanup(t, func(h *C.TwTrust) { C.tw_trust_free(&h) }, t.h)
	return t, nil
}

// Untrusted is the policy for a peer on the internet: its context only
// linked from a new trace, its baggage dropped, a session id of this side's
// own (server), at most 1024 process spans per connection.
func Untrusted() *Trust {
	t := &Trust{}
	if takeError(C.tw_trust_untrusted(&t.h)) != nil {
		panic("tracewire: the core has no untrusted policy") // only a NULL pointer fails
	}
	runtime.AddCleanup(t, func(h *C.TwTrust) { C.tw_trust_free(&h) }, t.h)
	return t
}

// Admit returns the context received (its span context and baggage) as
// the policy admits it, to start spans from: baggage filtered, the span
// context dropped under RemoteIgnore. A nil policy admits it unchanged.
func (t *Trust) Admit(received context.Context) context.Context {
	if t == nil || received == nil {
		return received
	}
	w := wireFrom(received)
	tp, tn := cString(w.tracestate)
	bp, bn := cString(w.baggage)
	var out C.TwContext
	err := takeError(C.tw_trust_admit(t.h, &w.span, tp, tn, bp, bn, &out))
	runtime.KeepAlive(w)
	runtime.KeepAlive(t)
	if err != nil {
		// Only a span context the core rejects fails: admit nothing of it.
		return context.Background()
	}
	return contextFromC(context.Background(), &out)
}

// WithTrust returns the connection with policy t (nil: itself). A server
// that does not trust its client as a parent records a session id of its
// own (SessionID).
func (c *Connection) WithTrust(t *Trust) (*Connection, error) {
	if t == nil {
		return c, nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.h == nil {
		return nil, errClosed
	}
	out := &Connection{}
	err := takeError(C.tw_connection_with_trust(c.h, t.h, &out.h))
	runtime.KeepAlive(t)
	if err != nil {
		return nil, err
	}
	out.cleanup = runtime.AddCleanup(out, func(h *C.TwConnection) { C.tw_connection_free(&h) }, out.h)
	return out, nil
}

// SessionID is the session id the connection records.
func (c *Connection) SessionID() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out C.TwBytes
	if c.h == nil || C.tw_connection_session_id(c.h, &out) != nil {
		return ""
	}
	s := goString(out)
	C.tw_bytes_free(&out)
	return s
}

// ReceiveSpanBudget counts one connection's process spans against its
// policy's limit. Safe for concurrent use.
type ReceiveSpanBudget struct {
	h       *C.TwReceiveSpanBudget
	skipped atomic.Uint64
}

// NewReceiveSpanBudget is a budget of limit process spans (negative: no
// limit). The error unwraps to ErrInvalidArgument for a limit over 2^32 - 1.
func NewReceiveSpanBudget(limit int) (*ReceiveSpanBudget, error) {
	b := &ReceiveSpanBudget{}
	if err := takeError(C.tw_receive_span_budget_new(C.int64_t(max(limit, -1)), &b.h)); err != nil {
		return nil, err
	}
	runtime.AddCleanup(b, func(h *C.TwReceiveSpanBudget) { C.tw_receive_span_budget_free(&h) }, b.h)
	return b, nil
}

// ReceiveSpanBudget is a new budget for the connection's policy.
func (c *Connection) ReceiveSpanBudget() (*ReceiveSpanBudget, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.h == nil {
		return nil, errClosed
	}
	b := &ReceiveSpanBudget{}
	if err := takeError(C.tw_connection_receive_span_budget(c.h, &b.h)); err != nil {
		return nil, err
	}
	runtime.AddCleanup(b, func(h *C.TwReceiveSpanBudget) { C.tw_receive_span_budget_free(&h) }, b.h)
	return b, nil
}

// Admit reports whether the message just received gets a process span;
// when not, it is counted in Skipped.
func (b *ReceiveSpanBudget) Admit() bool {
	var spanned C.bool
	var skipped C.uint64_t
	if C.tw_receive_span_budget_admit(b.h, &spanned, &skipped) != nil {
		return true // only a NULL handle fails
	}
	runtime.KeepAlive(b)
	b.skipped.Store(uint64(skipped))
	return bool(spanned)
}

// Skipped is how many received messages got no span.
func (b *ReceiveSpanBudget) Skipped() uint64 { return b.skipped.Load() }

// ClosedAfter is Closed with the count of received messages budget gave no
// span, recorded when not 0 (tracewire.receive_spans.skipped).
func (c *Connection) ClosedAfter(code int, reason string, budget *ReceiveSpanBudget) (CloseDecision, error) {
	var skipped uint64
	if budget != nil {
		skipped = budget.Skipped()
	}
	return c.closed(code, reason, skipped)
}

// The constants above are the C ABI's values; these lines stop compiling
// (constant overflow) if the two ever differ.
const (
	_ = RemoteParent - C.TW_REMOTE_CONTEXT_PARENT
	_ = C.TW_REMOTE_CONTEXT_PARENT - RemoteParent
	_ = RemoteLink - C.TW_REMOTE_CONTEXT_LINK
	_ = C.TW_REMOTE_CONTEXT_LINK - RemoteLink
	_ = RemoteIgnore - C.TW_REMOTE_CONTEXT_IGNORE
	_ = C.TW_REMOTE_CONTEXT_IGNORE - RemoteIgnore
	_ = BaggageKeepAll - C.TW_BAGGAGE_KEEP_ALL
	_ = C.TW_BAGGAGE_KEEP_ALL - BaggageKeepAll
	_ = BaggageAllowKeys - C.TW_BAGGAGE_ALLOW_KEYS
	_ = C.TW_BAGGAGE_ALLOW_KEYS - BaggageAllowKeys
	_ = BaggageDrop - C.TW_BAGGAGE_DROP
	_ = C.TW_BAGGAGE_DROP - BaggageDrop
)
