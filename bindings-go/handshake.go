package tracewire

/*
#cgo noescape tw_bytes_free
#cgo nocallback tw_bytes_free
#cgo noescape tw_client_accepted
#cgo nocallback tw_client_accepted
#cgo noescape tw_client_request_headers
#cgo nocallback tw_client_request_headers
#cgo noescape tw_envelopes_parse
#cgo nocallback tw_envelopes_parse
#cgo noescape tw_new_session_id
#cgo nocallback tw_new_session_id
#cgo noescape tw_server_handshake
#cgo nocallback tw_server_handshake
#cgo noescape tw_server_handshake_free
#cgo nocallback tw_server_handshake_free
#include "tracewire.h"
*/
import "C"

import (
	"context"
	"net/http"
	"runtime"
	"strings"
)

// Envelopes is a set of envelope formats, offered by a client or accepted
// by a server in the handshake (the tracewire-envelope header).
type Envelopes uint32

const (
	// EnvelopeJSON is the JSON envelope on text frames (token "json").
	EnvelopeJSON Envelopes = 1
	// EnvelopeBinary is the binary envelope on binary frames (token "binary").
	EnvelopeBinary Envelopes = 2
	// AllEnvelopes is both formats.
	AllEnvelopes = EnvelopeJSON | EnvelopeBinary
	// NoEnvelopes: context travels only in the handshake.
	NoEnvelopes Envelopes = 0
)

// ParseEnvelopes reads a tracewire-envelope value (comma-separated tokens,
// case-insensitive; unknown tokens ignored).
func ParseEnvelopes(value string) Envelopes {
	var out C.uint32_t
	p, n := cString(value)
	_ = takeError(C.tw_envelopes_parse(p, n, &out))
	runtime.KeepAlive(value)
	return Envelopes(out)
}

// Has reports whether every format of o is in e.
func (e Envelopes) Has(o Envelopes) bool { return e&o == o }

// String lists the formats ("json", "binary", "json, binary" or "none").
func (e Envelopes) String() string {
	var parts []string
	if e.Has(EnvelopeJSON) {
		parts = append(parts, "json")
	}
	if e.Has(EnvelopeBinary) {
		parts = append(parts, "binary")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// ServerHandshake is what a server learns from an upgrade request and what
// it answers (docs/PROTOCOL.md section 3).
type ServerHandshake struct {
	// Context is the client's context (empty when none was sent or it was invalid).
	Context TraceContext
	// Issues says what was ignored while extracting, and why.
	Issues []error
	// Envelopes are the formats both sides will use.
	Envelopes Envelopes
	// SessionID is the client's session id, or a new one.
	SessionID string
	// ResponseHeader holds the headers to add to the 101 response.
	ResponseHeader http.Header
}

// ReadHandshake reads an upgrade request: the context from its headers,
// else its query parameters; the envelope offer intersected with supported;
// the session id. Bad values never fail the handshake: see Issues. The error
// is only for a failure of the binding itself (ErrPanic).
func ReadHandshake(r *http.Request, supported Envelopes) (*ServerHandshake, error) {
	headers := headerRecords(r.Header)
	query := ""
	if r.URL != nil {
		query = r.URL.RawQuery
	}
	var out C.TwServerHandshake
	hp, hn := cBytes(headers)
	qp, qn := cString(query)
	if qp == nil {
		qp = (*C.uint8_t)(&nonNilC)
	}
	err := takeError(C.tw_server_handshake(hp, hn, qp, qn, C.uint32_t(supported), &out))
	runtime.KeepAlive(headers)
	runtime.KeepAlive(query)
	if err != nil {
		return nil, err
	}
	hs := &ServerHandshake{
		Issues:         issuesOut(&out.issues),
		Envelopes:      Envelopes(out.envelopes),
		SessionID:      goString(out.session_id),
		ResponseHeader: http.Header{},
	}
	resp := records(view(out.response_headers))
	for i := 0; i+1 < len(resp); i += 2 {
		hs.ResponseHeader.Add(resp[i], resp[i+1])
	}
	hs.Context = traceContextFromC(&out.context)
	C.tw_server_handshake_free(&out)
	return hs, nil
}

var nonNilC C.uint8_t

// ClientHandshake is what a client sends in its upgrade request: its
// envelope offer and session id.
type ClientHandshake struct {
	Offered   Envelopes
	SessionID string
}

// NewSessionID returns a new random session id (32 lowercase hex characters).
func NewSessionID() string {
	var out C.TwBytes
	if err := takeError(C.tw_new_session_id(&out)); err != nil {
		return ""
	}
	s := goString(out)
	C.tw_bytes_free(&out)
	return s
}

// NewClientHandshake offers the given envelopes with a new session id.
func NewClientHandshake(offered Envelopes) *ClientHandshake {
	return &ClientHandshake{Offered: offered, SessionID: NewSessionID()}
}

// RequestHeader returns the upgrade request headers for the span context
// and baggage of ctx: traceparent, tracestate, baggage, the envelope offer
// and the session id. The error unwraps to ErrInvalidArgument for a
// session id that is not 1 to 128 visible ASCII characters.
func (c *ClientHandshake) RequestHeader(ctx context.Context) (http.Header, error) {
	w := wireFrom(ctx)
	return c.requestHeader(&w)
}

// RequestHeaderFor is RequestHeader for a TraceContext value.
func (c *ClientHandshake) RequestHeaderFor(tc TraceContext) (http.Header, error) {
	w := tc.wire()
	return c.requestHeader(&w)
}

func (c *ClientHandshake) requestHeader(w *wire) (http.Header, error) {
	var headers, session C.TwBytes
	tp, tn := cString(w.tracestate)
	bp, bn := cString(w.baggage)
	sp, sn := cString(c.SessionID)
	err := takeError(C.tw_client_request_headers(&w.span, tp, tn, bp, bn, C.uint32_t(c.Offered), sp, sn, &headers, &session))
	runtime.KeepAlive(w)
	runtime.KeepAlive(c)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	items := records(view(headers))
	for i := 0; i+1 < len(items); i += 2 {
		h.Set(items[i], items[i+1])
	}
	c.SessionID = goString(session)
	C.tw_bytes_free(&headers)
	C.tw_bytes_free(&session)
	return h, nil
}

// Accepted returns the envelopes to use from the server's 101 response
// headers: what it accepted out of what was offered. A server that does not
// know tracewire answers nothing, and the result is NoEnvelopes.
func (c *ClientHandshake) Accepted(response http.Header) Envelopes {
	headers := headerRecords(response, HeaderEnvelope)
	var out C.uint32_t
	hp, hn := cBytes(headers)
	_ = takeError(C.tw_client_accepted(C.uint32_t(c.Offered), hp, hn, &out))
	runtime.KeepAlive(headers)
	return Envelopes(out)
}

// InjectContext writes a TraceContext value into h as W3C headers (each
// only when there is something to write), replacing earlier values.
func InjectContext(tc TraceContext, h http.Header) {
	w := tc.wire()
	tp, ts, bg := injectWire(&w)
	if tp != "" {
		h[canonTraceParent] = []string{tp}
	}
	if ts != "" {
		h[canonTraceState] = []string{ts}
	}
	if bg != "" {
		h[canonBaggage] = []string{bg}
	}
}

// The constants above are the C ABI's values; these lines stop compiling
// (constant overflow) if the two ever differ.
const (
	_ = EnvelopeJSON - C.TW_ENVELOPE_JSON
	_ = C.TW_ENVELOPE_JSON - EnvelopeJSON
	_ = EnvelopeBinary - C.TW_ENVELOPE_BINARY
	_ = C.TW_ENVELOPE_BINARY - EnvelopeBinary
)
