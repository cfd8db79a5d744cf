package tracewire

/*
#cgo noescape tw_binary_decode
#cgo nocallback tw_binary_decode
#cgo noescape tw_binary_header
#cgo nocallback tw_binary_header
#cgo noescape tw_bytes_free
#cgo nocallback tw_bytes_free
#cgo noescape tw_carrier_decode
#cgo nocallback tw_carrier_decode
#cgo noescape tw_carrier_encode
#cgo nocallback tw_carrier_encode
#cgo noescape tw_json_envelope_free
#cgo nocallback tw_json_envelope_free
#cgo noescape tw_json_envelope_new
#cgo nocallback tw_json_envelope_new
#cgo noescape tw_json_envelope_mcp
#cgo nocallback tw_json_envelope_mcp
#cgo noescape tw_json_extract
#cgo nocallback tw_json_extract
#cgo noescape tw_json_inject
#cgo nocallback tw_json_inject
#include "tracewire.h"
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
)

// Outcome says what decoding a received frame found.
type Outcome int

const (
	// Plain: the frame carries no envelope; the payload is the frame, untouched.
	Plain Outcome = iota
	// Enveloped: the frame carried a valid envelope.
	Enveloped
	// Malformed: the frame claims an envelope that is malformed; the payload
	// is the frame as it came and Err says why.
	Malformed
)

// String is "plain", "enveloped" or "malformed".
func (o Outcome) String() string {
	switch o {
	case Plain:
		return "plain"
	case Enveloped:
		return "enveloped"
	case Malformed:
		return "malformed"
	}
	return "unknown"
}

// Decoded is the result of decoding one received frame. Payload is always
// set, whatever the outcome: nothing is lost.
type Decoded struct {
	Outcome Outcome
	// Context is the received context (Enveloped only).
	Context TraceContext
	// Payload is what the application should see: a sub-slice of the frame,
	// or a copy when envelope members were stripped.
	Payload []byte
	// Err is why the envelope is malformed (Malformed only); it unwraps to
	// ErrInvalidEnvelope, ErrInvalidTraceParent or ErrUnsupportedEnvelopeVersion.
	Err error
}

// decodedFromC converts a C decoding result; with parent non-nil the
// context goes into an otel context instead of Decoded.Context (which needs
// the C call to have asked for the header forms).
func decodedFromC(frame []byte, d *C.TwDecoded, parent context.Context) (Decoded, context.Context) {
	var out Decoded
	ctx := parent
	switch d.outcome {
	case C.TW_DECODED_ENVELOPED:
		out.Outcome = Enveloped
		if parent != nil {
			ctx = contextFromC(parent, &d.context)
		} else {
			out.Context = traceContextFromC(&d.context)
		}
	case C.TW_DECODED_MALFORMED:
		out.Outcome = Malformed
		out.Err = takeError(d.error)
		d.error = nil
	}
	if d.payload_copy.ptr != nil {
		out.Payload = goBytes(d.payload_copy)
		C.tw_bytes_free(&d.payload_copy)
	} else {
		off, n := int(d.payload_offset), int(d.payload_len)
		out.Payload = frame[off : off+n : off+n]
	}
	return out, ctx
}

// JSONEnvelope carries the context in one envelope object of JSON text
// frames, holding "traceparent", "tracestate" and "baggage" members
// (docs/PROTOCOL.md section 4): at a member path (default "tracewire"), or
// in MCP mode at params._meta / result._meta. It is safe for concurrent
// use. Close frees it; it is also freed when garbage collected.
type JSONEnvelope struct {
	mu      sync.RWMutex
	h       *C.TwJsonEnvelope
	closed  bool
	cleanup runtime.Cleanup
}

// NewJSONEnvelope creates a JSON envelope whose envelope object lives at
// path (dot-separated; "" is the default member, "tracewire"). With strip,
// Decode removes its W3C members from the payload it returns (costs one
// copy). The error unwraps to ErrInvalidArgument for a path with an empty
// component.
func NewJSONEnvelope(path string, strip bool) (*JSONEnvelope, error) {
	e := &JSONEnvelope{}
	p, n := cString(path)
	err := takeError(C.tw_json_envelope_new(p, n, C.bool(strip), &e.h))
	runtime.KeepAlive(path)
	return e.track(err)
}

// NewMCPEnvelope creates a JSON envelope in MCP / JSON-RPC mode: the
// context in params._meta of requests and notifications and result._meta of
// results, each message of a batch its own. strip as for NewJSONEnvelope.
func NewMCPEnvelope(strip bool) (*JSONEnvelope, error) {
	e := &JSONEnvelope{}
	return e.track(takeError(C.tw_json_envelope_mcp(C.bool(strip), &e.h)))
}

// track arms the cleanup of a handle just created, or returns err.
func (e *JSONEnvelope) track(err error) (*JSONEnvelope, error) {
	if err != nil {
		return nil, err
	}
	// Safety net for a forgotten Close: free the handle once e is unreachable.
	e.cleanup = runtime.AddCleanup(e, func(h *C.TwJsonEnvelope) { C.tw_json_envelope_free(&h) }, e.h)
	return e, nil
}

// Close frees the envelope; further calls fail with ErrInvalidArgument.
// Idempotent.
func (e *JSONEnvelope) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed {
		e.closed = true
		e.cleanup.Stop()
		C.tw_json_envelope_free(&e.h)
	}
	return nil
}

var errClosed = &Error{Code: CodeInvalidArgument, Message: "use of a closed tracewire object"}

// Inject returns a copy of frame carrying the span context and baggage of
// ctx. A frame that is not a JSON object (or whose path holds a non-object)
// cannot carry them: the frame is returned unchanged with an error that
// unwraps to ErrNotJSONObject, so it can be sent as it is.
func (e *JSONEnvelope) Inject(ctx context.Context, frame []byte) ([]byte, error) {
	w := wireFrom(ctx)
	return e.inject(&w, frame)
}

// Encode is Inject for a TraceContext value.
func (e *JSONEnvelope) Encode(tc TraceContext, frame []byte) ([]byte, error) {
	w := tc.wire()
	return e.inject(&w, frame)
}

func (e *JSONEnvelope) inject(w *wire, frame []byte) ([]byte, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return frame, errClosed
	}
	var out C.TwBytes
	fp, fn := cBytes(frame)
	tp, tn := cString(w.tracestate)
	bp, bn := cString(w.baggage)
	err := takeError(C.tw_json_inject(e.h, fp, fn, &w.span, tp, tn, bp, bn, &out))
	runtime.KeepAlive(frame)
	runtime.KeepAlive(w)
	if err != nil {
		return frame, err
	}
	b := goBytes(out)
	C.tw_bytes_free(&out)
	return b, nil
}

// Decode reads the envelope of a received text frame. It never fails: see
// Decoded.
func (e *JSONEnvelope) Decode(frame []byte) Decoded {
	d, _ := e.decode(frame, nil)
	return d
}

// Extract returns parent with the frame's context (when it carries a valid
// envelope), the payload for the application (always), and the error when
// the envelope is malformed.
func (e *JSONEnvelope) Extract(parent context.Context, frame []byte) (context.Context, []byte, error) {
	d, ctx := e.decode(frame, parent)
	return ctx, d.Payload, d.Err
}

func (e *JSONEnvelope) decode(frame []byte, parent context.Context) (Decoded, context.Context) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return Decoded{Outcome: Malformed, Payload: frame, Err: errClosed}, parent
	}
	var out C.TwDecoded
	fp, fn := cBytes(frame)
	err := takeError(C.tw_json_extract(e.h, fp, fn, C.bool(parent == nil), &out))
	runtime.KeepAlive(frame)
	if err != nil {
		return Decoded{Outcome: Malformed, Payload: frame, Err: err}, parent
	}
	return decodedFromC(frame, &out, parent)
}

// EncodeBinary returns a binary frame: the binary envelope carrying the span
// context and baggage of ctx, then payload (docs/PROTOCOL.md section 5).
func EncodeBinary(ctx context.Context, payload []byte) []byte {
	w := wireFrom(ctx)
	return encodeBinary(&w, payload)
}

// EncodeBinaryContext is EncodeBinary for a TraceContext value.
func EncodeBinaryContext(tc TraceContext, payload []byte) []byte {
	w := tc.wire()
	return encodeBinary(&w, payload)
}

func encodeBinary(w *wire, payload []byte) []byte {
	// Only the envelope comes from the core; the payload is appended here,
	// so it is copied once and never crosses into C.
	var out C.TwBytes
	tp, tn := cString(w.tracestate)
	bp, bn := cString(w.baggage)
	err := takeError(C.tw_binary_header(&w.span, tp, tn, bp, bn, &out))
	runtime.KeepAlive(w)
	if err != nil {
		// Only a NULL pointer fails, which cannot happen here.
		return payload
	}
	header := view(out)
	frame := make([]byte, len(header)+len(payload))
	copy(frame, header)
	copy(frame[len(header):], payload)
	C.tw_bytes_free(&out)
	return frame
}

// DecodeBinary reads the envelope of a received binary frame. It never
// fails: see Decoded. The payload is a sub-slice of frame (no copy).
func DecodeBinary(frame []byte) Decoded {
	d, _ := decodeBinary(frame, nil)
	return d
}

// ExtractBinary returns parent with the frame's context (when it carries a
// valid envelope), the payload (always; a sub-slice of frame) and the error
// when the envelope is malformed.
func ExtractBinary(parent context.Context, frame []byte) (context.Context, []byte, error) {
	d, ctx := decodeBinary(frame, parent)
	return ctx, d.Payload, d.Err
}

func decodeBinary(frame []byte, parent context.Context) (Decoded, context.Context) {
	var out C.TwDecoded
	fp, fn := cBytes(frame)
	err := takeError(C.tw_binary_decode(fp, fn, C.bool(parent == nil), &out))
	runtime.KeepAlive(frame)
	if err != nil {
		return Decoded{Outcome: Malformed, Payload: frame, Err: err}, parent
	}
	return decodedFromC(frame, &out, parent)
}

// Capture serialises the span context and baggage of ctx into a small
// carrier for a queue item, a job record or any store (the capture half of
// docs/PROTOCOL.md section 6).
func Capture(ctx context.Context) []byte {
	w := wireFrom(ctx)
	return carrier(&w)
}

// Carrier is Capture for a TraceContext value.
func (tc TraceContext) Carrier() []byte {
	w := tc.wire()
	return carrier(&w)
}

func carrier(w *wire) []byte {
	var out C.TwBytes
	tp, tn := cString(w.tracestate)
	bp, bn := cString(w.baggage)
	err := takeError(C.tw_carrier_encode(&w.span, tp, tn, bp, bn, &out))
	runtime.KeepAlive(w)
	if err != nil {
		return nil
	}
	b := goBytes(out)
	C.tw_bytes_free(&out)
	return b
}

// Restore returns parent with the context captured in carrier, marked
// remote (the restore half). On bad bytes it returns parent and an error
// that unwraps to ErrInvalidEnvelope or ErrUnsupportedEnvelopeVersion.
func Restore(parent context.Context, carrier []byte) (context.Context, error) {
	var out C.TwContext
	p, n := cBytes(carrier)
	err := takeError(C.tw_carrier_decode(p, n, false, &out))
	runtime.KeepAlive(carrier)
	if err != nil {
		return parent, err
	}
	return contextFromC(parent, &out), nil
}

// ParseCarrier is Restore into a TraceContext value.
func ParseCarrier(carrier []byte) (TraceContext, error) {
	var out C.TwContext
	p, n := cBytes(carrier)
	err := takeError(C.tw_carrier_decode(p, n, true, &out))
	runtime.KeepAlive(carrier)
	if err != nil {
		return TraceContext{}, err
	}
	return traceContextFromC(&out), nil
}
