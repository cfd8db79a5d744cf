package tracewire

/*
#cgo noescape tw_extract
#cgo nocallback tw_extract
#cgo noescape tw_extract_values
#cgo nocallback tw_extract_values
#cgo noescape tw_header_names
#cgo nocallback tw_header_names
#cgo noescape tw_inject_headers
#cgo nocallback tw_inject_headers
#cgo noescape tw_injected_free
#cgo nocallback tw_injected_free
#include "tracewire.h"
*/
import "C"

import (
	"context"
	"net/http"
	"net/textproto"
	"runtime"
	"strings"
	"unsafe"

	"go.opentelemetry.io/otel/propagation"
)

// Header and query parameter names, as the core defines them (lowercase).
var (
	HeaderTraceParent = cName(C.tw_header_names().traceparent)
	HeaderTraceState  = cName(C.tw_header_names().tracestate)
	HeaderBaggage     = cName(C.tw_header_names().baggage)
	// HeaderSession carries the session id chosen by the client.
	HeaderSession = cName(C.tw_header_names().session)
)

// The same names in net/http's canonical form, for direct map access.
var (
	canonTraceParent = textproto.CanonicalMIMEHeaderKey(HeaderTraceParent)
	canonTraceState  = textproto.CanonicalMIMEHeaderKey(HeaderTraceState)
	canonBaggage     = textproto.CanonicalMIMEHeaderKey(HeaderBaggage)
)

func cName(p *C.char) string { return C.GoString(p) }

// Inject writes the span context and baggage of ctx into h as the W3C
// traceparent, tracestate and baggage headers (each only when there is
// something to write), replacing earlier values.
func Inject(ctx context.Context, h http.Header) {
	w := wireFrom(ctx)
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

// The core's header forms of otel-go's tracestate and baggage strings,
// remembered so that a context seen before is not parsed again.
var (
	canonTraceStates memo[string]
	canonBaggages    memo[string]
)

// injectWire returns the header values the core writes for w ("" for a
// header not to write).
func injectWire(w *wire) (traceparent, tracestate, bg string) {
	if !w.span.valid && w.baggage == "" {
		// Nothing to propagate: the core writes nothing.
		return "", "", ""
	}
	var out C.TwInjected
	cts, okT := w.tracestate, w.tracestate == ""
	if !okT {
		cts, okT = canonTraceStates.get(unsafe.Slice(unsafe.StringData(w.tracestate), len(w.tracestate)))
	}
	cbg, okB := w.baggage, w.baggage == ""
	if !okB {
		cbg, okB = canonBaggages.get(unsafe.Slice(unsafe.StringData(w.baggage), len(w.baggage)))
	}
	if okT && okB {
		// Fast path: both values are in the core's header form already.
		tp, tn := cString(cts)
		bp, bn := cString(cbg)
		err := C.tw_inject_headers(&w.span, tp, tn, bp, bn, true, &out)
		runtime.KeepAlive(w)
		runtime.KeepAlive(cts)
		runtime.KeepAlive(cbg)
		if err != nil {
			_ = takeError(err) // only an all-zero id, which otel-go never marks valid
			return "", "", ""
		}
		if out.has_traceparent {
			traceparent = traceparentText(&out.traceparent)
		}
		if out.tracestate_given {
			tracestate = cts
		}
		if out.baggage_given {
			bg = cbg
		}
		return traceparent, tracestate, bg
	}
	tp, tn := cString(w.tracestate)
	bp, bn := cString(w.baggage)
	err := C.tw_inject_headers(&w.span, tp, tn, bp, bn, false, &out)
	runtime.KeepAlive(w)
	if err != nil {
		_ = takeError(err)
		return "", "", ""
	}
	if out.has_traceparent {
		traceparent = traceparentText(&out.traceparent)
		tracestate = goString(out.tracestate)
		if w.tracestate != "" {
			canonTraceStates.put(w.tracestate, tracestate)
		}
	}
	bg = goString(out.baggage)
	if w.baggage != "" {
		canonBaggages.put(w.baggage, bg)
	}
	C.tw_injected_free(&out)
	return traceparent, tracestate, bg
}

// Extract returns ctx with the remote span context and baggage read from
// the W3C headers in h. Invalid values are ignored as W3C requires (an
// invalid traceparent leaves ctx's span as it is); ExtractWithIssues says
// what was ignored.
func Extract(ctx context.Context, h http.Header) context.Context {
	out, _ := ExtractWithIssues(ctx, h)
	return out
}

// ExtractWithIssues is Extract, also returning what was ignored and why
// (each error unwraps to ErrInvalidTraceParent, ErrInvalidTraceState or
// ErrInvalidBaggage).
func ExtractWithIssues(ctx context.Context, h http.Header) (context.Context, []error) {
	return extractValues(ctx, h[canonTraceParent], h[canonTraceState], h[canonBaggage])
}

func extractValues(ctx context.Context, tp, ts, bg []string) (context.Context, []error) {
	if len(tp) == 0 && len(bg) == 0 {
		// Without either header the core finds nothing and reports nothing
		// (a tracestate alone is never read): skip the C call.
		return ctx, nil
	}
	var tpv string
	if len(tp) > 0 {
		tpv = tp[0]
	}
	tsv, bgv := joinLines(ts), joinLines(bg)
	var out C.TwContext
	var issues C.TwIssues
	p1, n1 := cString(tpv)
	p2, n2 := cString(tsv)
	p3, n3 := cString(bgv)
	err := C.tw_extract_values(p1, n1, C.uint32_t(len(tp)), p2, n2, p3, n3, false, &out, &issues)
	runtime.KeepAlive(tpv)
	runtime.KeepAlive(tsv)
	runtime.KeepAlive(bgv)
	if err != nil {
		return ctx, []error{takeError(err)}
	}
	return contextFromC(ctx, &out), issuesOut(&issues)
}

// joinLines combines header lines as W3C says (as if joined with ",").
func joinLines(lines []string) string {
	switch len(lines) {
	case 0:
		return ""
	case 1:
		return lines[0]
	}
	return strings.Join(lines, ",")
}

// headerRecords encodes header lines for the C ABI (records: name, value, ...).
func headerRecords(h http.Header, only ...string) []byte {
	var buf []byte
	add := func(k string, vs []string) {
		for _, v := range vs {
			buf = appendRecord(buf, k)
			buf = appendRecord(buf, v)
		}
	}
	if len(only) == 0 {
		for k, vs := range h {
			add(k, vs)
		}
		return buf
	}
	for _, k := range only {
		add(k, h.Values(k))
	}
	return buf
}

// ExtractRequest returns ctx with the context of an HTTP request: from the
// W3C headers, else from the query parameters of the same names (browsers
// cannot set headers on a WebSocket), with the precedence of
// docs/PROTOCOL.md section 3.2.
func ExtractRequest(ctx context.Context, r *http.Request) (context.Context, []error) {
	return extractFull(ctx, headerRecords(r.Header, HeaderTraceParent, HeaderTraceState, HeaderBaggage), &r.URL.RawQuery)
}

// ExtractQuery returns ctx with the context read from a URL query string
// ("traceparent=...&tracestate=...&baggage=..."; a leading "?" is ignored).
func ExtractQuery(ctx context.Context, rawQuery string) (context.Context, []error) {
	return extractFull(ctx, nil, &rawQuery)
}

func extractFull(ctx context.Context, headers []byte, query *string) (context.Context, []error) {
	var out C.TwContext
	var issues C.TwIssues
	hp, hn := cBytes(headers)
	var qp *C.uint8_t
	var qn C.size_t
	if query != nil {
		qp, qn = cString(*query)
		if qp == nil {
			// An empty query is still a query: pass a non-NULL pointer.
			qp = (*C.uint8_t)(unsafe.Pointer(&nonNil))
			qn = 0
		}
	}
	err := C.tw_extract(hp, hn, qp, qn, false, &out, &issues)
	runtime.KeepAlive(headers)
	runtime.KeepAlive(query)
	if err != nil {
		return ctx, []error{takeError(err)}
	}
	return contextFromC(ctx, &out), issuesOut(&issues)
}

// Propagator is an OpenTelemetry TextMapPropagator backed by the core: W3C
// Trace Context (Level 2) and W3C Baggage in one, with the core's parsing,
// limits and serialisation. Register it with
// otel.SetTextMapPropagator(tracewire.Propagator{}).
type Propagator struct{}

var _ propagation.TextMapPropagator = Propagator{}

// Inject implements propagation.TextMapPropagator.
func (Propagator) Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
	if h, ok := carrier.(propagation.HeaderCarrier); ok {
		Inject(ctx, http.Header(h))
		return
	}
	w := wireFrom(ctx)
	tp, ts, bg := injectWire(&w)
	if tp != "" {
		carrier.Set(HeaderTraceParent, tp)
	}
	if ts != "" {
		carrier.Set(HeaderTraceState, ts)
	}
	if bg != "" {
		carrier.Set(HeaderBaggage, bg)
	}
}

// Extract implements propagation.TextMapPropagator. Carriers that implement
// propagation.ValuesGetter (such as HeaderCarrier) give every header line.
func (Propagator) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	if h, ok := carrier.(propagation.HeaderCarrier); ok {
		return Extract(ctx, http.Header(h))
	}
	get := func(name string) []string {
		if vg, ok := carrier.(propagation.ValuesGetter); ok {
			return vg.Values(name)
		}
		if v := carrier.Get(name); v != "" {
			return []string{v}
		}
		return nil
	}
	out, _ := extractValues(ctx, get(HeaderTraceParent), get(HeaderTraceState), get(HeaderBaggage))
	return out
}

// Fields implements propagation.TextMapPropagator.
func (Propagator) Fields() []string {
	return []string{HeaderTraceParent, HeaderTraceState, HeaderBaggage}
}

// nonNil gives a non-NULL pointer for an empty but present input.
var nonNil byte
