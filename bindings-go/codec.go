package tracewire

/*
#cgo noescape tw_codec_new
#cgo nocallback tw_codec_new
#cgo noescape tw_codec_new_mcp
#cgo nocallback tw_codec_new_mcp
#cgo noescape tw_codec_free
#cgo nocallback tw_codec_free
#cgo noescape tw_codec_encode
#cgo nocallback tw_codec_encode
#cgo noescape tw_codec_decode
#cgo nocallback tw_codec_decode
#cgo noescape tw_received_free
#cgo nocallback tw_received_free
#include "tracewire.h"
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
)

// Codec is the core's message codec for one connection (docs/PROTOCOL.md
// section 3.4): for the envelopes both peers accepted, what goes on the
// wire for each outgoing data frame, what the application sees of each
// incoming one and what a malformed envelope records. It is safe for
// concurrent use. Close frees it; it is also freed when garbage collected.
type Codec struct {
	mu      sync.RWMutex
	h       *C.TwCodec
	cleanup runtime.Cleanup
}

// NewCodec creates the codec of a connection that negotiated envelopes,
// with the JSON envelope object at jsonPath (dot-separated; "" is the
// default member, "tracewire"). Received payloads get the core's default
// (the W3C members stripped) unless keepMembers is set. The error unwraps to
// ErrInvalidArgument for a path with an empty component.
func NewCodec(envelopes Envelopes, jsonPath string, keepMembers bool) (*Codec, error) {
	c := &Codec{}
	p, n := cString(jsonPath)
	err := takeError(C.tw_codec_new(C.uint32_t(envelopes), p, n, C.bool(keepMembers), &c.h))
	runtime.KeepAlive(jsonPath)
	return c.track(err)
}

// NewMCPCodec creates the codec of a connection in MCP / JSON-RPC mode: the
// JSON context in params._meta of requests and notifications and
// result._meta of results, read and written on every text frame whatever
// the handshake negotiated, as MCP peers do (envelopes still decides binary
// frames). keepMembers as for NewCodec.
func NewMCPCodec(envelopes Envelopes, keepMembers bool) (*Codec, error) {
	c := &Codec{}
	return c.track(takeError(C.tw_codec_new_mcp(C.uint32_t(envelopes), C.bool(keepMembers), &c.h)))
}

// track arms the cleanup of a handle just created, or returns err.
func (c *Codec) track(err error) (*Codec, error) {
	if err != nil {
		return nil, err
	}
	c.cleanup = runtime.AddCleanup(c, func(h *C.TwCodec) { C.tw_codec_free(&h) }, c.h)
	return c, nil
}

// Close frees the codec; further calls pass frames through untouched.
// Idempotent.
func (c *Codec) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h != nil {
		c.cleanup.Stop()
		C.tw_codec_free(&c.h)
	}
	return nil
}

// Write calls write with the frame to send for payload, sent in the span of
// ctx: payload itself when it cannot or need not carry an envelope, else
// the enveloped frame, which is valid only until write returns (it is not
// copied into Go memory). It returns what write returns.
func (c *Codec) Write(ctx context.Context, t MessageType, payload []byte, write func(frame []byte) error) error {
	return c.encode(ctx, t, payload, func(frame []byte, _ bool) error { return write(frame) })
}

// Encode returns the frame to send for payload, sent in the span of ctx,
// and whether it carries an envelope (false: it is payload itself).
func (c *Codec) Encode(ctx context.Context, t MessageType, payload []byte) (frame []byte, enveloped bool) {
	frame = payload
	_ = c.encode(ctx, t, payload, func(f []byte, env bool) error {
		if env {
			frame, enveloped = append([]byte(nil), f...), true
		}
		return nil
	})
	return frame, enveloped
}

func (c *Codec) encode(ctx context.Context, t MessageType, payload []byte, write func(frame []byte, enveloped bool) error) error {
	w := wireFrom(ctx)
	c.mu.RLock()
	if c.h == nil {
		c.mu.RUnlock()
		return write(payload, false)
	}
	var out C.TwBytes
	var enveloped C.bool
	pp, pn := cBytes(payload)
	tp, tn := cString(w.tracestate)
	bp, bn := cString(w.baggage)
	err := takeError(C.tw_codec_encode(c.h, C.uint32_t(t), pp, pn, &w.span, tp, tn, bp, bn, &out, &enveloped))
	c.mu.RUnlock()
	runtime.KeepAlive(payload)
	runtime.KeepAlive(&w)
	if err != nil || !bool(enveloped) {
		return write(payload, false)
	}
	defer C.tw_bytes_free(&out)
	return write(view(out), true)
}

// Received is what the application gets of one received frame.
type Received struct {
	// Outcome says whether the frame carried an envelope.
	Outcome Outcome
	// Remote holds the sender's context (span context and baggage, on top of
	// context.Background()) when the frame carried a valid envelope, else nil:
	// it is the Remote of the receive span's Sources.
	Remote context.Context
	// Payload is what the application sees: the frame without its envelope,
	// the frame itself (no envelope, or a malformed one), or a copy with the
	// JSON members stripped.
	Payload []byte
	// Err is why the envelope is malformed (nil otherwise); it unwraps to
	// ErrInvalidEnvelope, ErrInvalidTraceParent or
	// ErrUnsupportedEnvelopeVersion. The payload is still delivered.
	Err error
	// Event is what the receive span records for a malformed envelope (the
	// OpenTelemetry exception event, as the core writes it), else nil.
	Event *Event
	// BodySize is the application payload's size, as
	// messaging.message.body.size counts it: never the envelope, even when
	// the JSON members were kept in Payload.
	BodySize int
}

// Decode reads a received frame. It never fails: see Received.
func (c *Codec) Decode(t MessageType, frame []byte) Received {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.h == nil {
		return Received{Payload: frame, BodySize: len(frame)}
	}
	var out C.TwReceived
	fp, fn := cBytes(frame)
	err := takeError(C.tw_codec_decode(c.h, C.uint32_t(t), fp, fn, &out))
	runtime.KeepAlive(frame)
	if err != nil {
		return Received{Payload: frame, BodySize: len(frame)}
	}
	r := Received{Outcome: Outcome(out.outcome), BodySize: int(out.body_size)}
	if out.context.len > 0 {
		r.Remote = contextFromRecord(context.Background(), view(out.context))
	}
	if out.error != nil {
		r.Err = takeError(out.error)
		out.error = nil
	}
	if out.event.len > 0 {
		r.Event = eventFromRecord(view(out.event))
	}
	if out.payload_copy.ptr != nil {
		r.Payload = goBytes(out.payload_copy)
	} else {
		off, n := int(out.payload_offset), int(out.payload_len)
		r.Payload = frame[off : off+n : off+n]
	}
	if out.context.ptr != nil || out.payload_copy.ptr != nil || out.event.ptr != nil {
		C.tw_received_free(&out)
	}
	return r
}

// The outcomes are the C ABI's values; these lines stop compiling
// (constant overflow) if the two ever differ.
const (
	_ = Plain - C.TW_DECODED_PLAIN
	_ = C.TW_DECODED_PLAIN - Plain
	_ = Enveloped - C.TW_DECODED_ENVELOPED
	_ = C.TW_DECODED_ENVELOPED - Enveloped
	_ = Malformed - C.TW_DECODED_MALFORMED
	_ = C.TW_DECODED_MALFORMED - Malformed
)
