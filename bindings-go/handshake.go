package tracewire

/*
#cgo noescape tw_bytes_free
#cgo nocallback tw_bytes_free
#cgo noescape tw_client_negotiated
#cgo nocallback tw_client_negotiated
#cgo noescape tw_client_request_headers
#cgo nocallback tw_client_request_headers
#cgo noescape tw_client_subprotocols
#cgo nocallback tw_client_subprotocols
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
// by a server in the handshake (as WebSocket subprotocols, docs/PROTOCOL.md
// section 3).
type Envelopes uint32

const (
	// EnvelopeJSON is the JSON envelope on text frames.
	EnvelopeJSON Envelopes = 1
	// EnvelopeBinary is the binary envelope on binary frames.
	EnvelopeBinary Envelopes = 2
	// AllEnvelopes is both formats.
	AllEnvelopes = EnvelopeJSON | EnvelopeBinary
	// NoEnvelopes: context travels only in the handshake.
	NoEnvelopes Envelopes = 0
)

// appRecords encodes application subprotocol names for the C ABI.
func appRecords(apps []string) []byte {
	var b []byte
	for _, a := range apps {
		b = appendRecord(b, a)
	}
	return b
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
	// Subprotocol is the subprotocol to answer in Sec-WebSocket-Protocol
	// ("" for none), exactly as the client offered it.
	Subprotocol string
	// AppProtocol is the application's subprotocol agreed with the client,
	// by its own name ("" for none).
	AppProtocol string
}

// ReadHandshake reads an upgrade request: the context from its headers,
// else its query parameters; the session id; and selects the subprotocol
// from the client's offer, the envelopes supported and the application's
// own subprotocols apps. Bad values never fail the handshake: see Issues.
// The error unwraps to ErrInvalidArgument for an application subprotocol
// that is not a token or starts with "tracewire.", or is ErrPanic.
func ReadHandshake(r *http.Request, supported Envelopes, apps []string) (*ServerHandshake, error) {
	headers := headerRecords(r.Header)
	query := ""
	if r.URL != nil {
		query = r.URL.RawQuery
	}
	appsIn := appRecords(apps)
	var out C.TwServerHandshake
	hp, hn := cBytes(headers)
	qp, qn := cString(query)
	if qp == nil {
		qp = (*C.uint8_t)(&nonNilC)
	}
	ap, an := cBytes(appsIn)
	err := takeError(C.tw_server_handshake(hp, hn, qp, qn, C.uint32_t(supported), ap, an, &out))
	runtime.KeepAlive(headers)
	runtime.KeepAlive(query)
	runtime.KeepAlive(appsIn)
	if err != nil {
		return nil, err
	}
	hs := &ServerHandshake{
		Issues:      issuesOut(&out.issues),
		Envelopes:   Envelopes(out.envelopes),
		SessionID:   goString(out.session_id),
		Subprotocol: goString(out.subprotocol),
		AppProtocol: goString(out.app_protocol),
	}
	hs.Context = traceContextFromC(&out.context)
	C.tw_server_handshake_free(&out)
	return hs, nil
}

var nonNilC C.uint8_t

// ClientHandshake is what a client sends in its upgrade request: its
// envelope offer, the application's own subprotocols and its session id.
type ClientHandshake struct {
	Offered Envelopes
	// AppProtocols are the application's subprotocols, in order of
	// preference, offered composed with the tracewire tokens and alone.
	AppProtocols []string
	SessionID    string
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
// and baggage of ctx: traceparent, tracestate, baggage and the session id
// (the offer is in Subprotocols). The error unwraps to ErrInvalidArgument for a
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
	err := takeError(C.tw_client_request_headers(&w.span, tp, tn, bp, bn, sp, sn, &headers, &session))
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

// Subprotocols returns the subprotocols to offer (websocket.DialOptions'
// Subprotocols), most preferred first. The error unwraps to
// ErrInvalidArgument for an application subprotocol that is not a token or
// starts with "tracewire.".
func (c *ClientHandshake) Subprotocols() ([]string, error) {
	apps := appRecords(c.AppProtocols)
	var out C.TwBytes
	ap, an := cBytes(apps)
	err := takeError(C.tw_client_subprotocols(C.uint32_t(c.Offered), ap, an, &out))
	runtime.KeepAlive(apps)
	if err != nil {
		return nil, err
	}
	tokens := records(view(out))
	C.tw_bytes_free(&out)
	return tokens, nil
}

// Negotiated says what the server's selected subprotocol ("" for none)
// means: the envelopes to use and the application's subprotocol ("" for
// none). No selection, or one that was not offered, means no envelopes.
func (c *ClientHandshake) Negotiated(selected string) (Envelopes, string, error) {
	apps := appRecords(c.AppProtocols)
	var env C.uint32_t
	var app C.TwBytes
	ap, an := cBytes(apps)
	var sp *C.uint8_t
	var sn C.size_t
	if selected != "" {
		sp, sn = cString(selected)
	}
	err := takeError(C.tw_client_negotiated(C.uint32_t(c.Offered), ap, an, sp, sn, &env, &app))
	runtime.KeepAlive(apps)
	runtime.KeepAlive(selected)
	if err != nil {
		return NoEnvelopes, "", err
	}
	name := goString(app)
	C.tw_bytes_free(&app)
	return Envelopes(env), name, nil
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
