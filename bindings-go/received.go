package tracewire

/*
#cgo noescape tw_pass_on
#cgo nocallback tw_pass_on
#include "tracewire.h"
*/
import "C"

import (
	"context"
	"runtime"
	"strings"
	"unsafe"

	"go.opentelemetry.io/otel/trace"
)

// received is a received context whose tracestate otel-go's span context
// cannot carry whole: trace.TraceState rejects keys W3C Level 2 allows (starting
// with a digit, "@" twice, a system part over 14 characters), and W3C requires a received
// tracestate to be passed on. Kept in the context.Context beside the span
// context, so every context derived from it (child spans included) passes
// the whole state on. (otel-go keeps the random flag in the spans it
// starts, so a flag alone is not held.)
type received struct {
	span trace.SpanContextConfig
	// tracestate is the whole received state, accepted the header of the
	// members otel-go's TraceState held.
	tracestate, accepted string
}

type receivedKey struct{}

// withReceived returns ctx holding the received span context span with its
// whole tracestate (entries) when otel-go's TraceState (accepted) left
// members out; else ctx as it is.
func withReceived(ctx context.Context, span trace.SpanContextConfig, entries []TraceStateEntry, accepted trace.TraceState) context.Context {
	if accepted.Len() == len(entries) {
		return ctx
	}
	var whole strings.Builder
	for i, e := range entries {
		if i > 0 {
			whole.WriteByte(',')
		}
		whole.WriteString(e.Key)
		whole.WriteByte('=')
		whole.WriteString(e.Value)
	}
	return context.WithValue(ctx, receivedKey{}, &received{span: span, tracestate: whole.String(), accepted: accepted.String()})
}

// passOn sets w's flags and tracestate to what the core says to send for it
// (Received::pass_on) when ctx holds a received context of w's trace. On an
// error (otel-go accepted a state the core does not) w is sent as it is.
func passOn(ctx context.Context, w *wire) {
	rec, ok := ctx.Value(receivedKey{}).(*received)
	if !ok || [16]byte(rec.span.TraceID) != *(*[16]byte)(unsafe.Pointer(&w.span.trace_id)) {
		return
	}
	span := spanIn(&TraceParent{TraceID: rec.span.TraceID, SpanID: rec.span.SpanID, Flags: rec.span.TraceFlags})
	var out C.TwTraceState
	rp, rn := cString(rec.tracestate)
	ap, an := cString(rec.accepted)
	sp, sn := cString(w.tracestate)
	err := C.tw_pass_on(&span, rp, rn, ap, an, &w.span, sp, sn, &out)
	runtime.KeepAlive(rec)
	runtime.KeepAlive(w)
	if err != nil {
		_ = takeError(err)
		return
	}
	w.tracestate = goString(out.header)
	C.tw_tracestate_free(&out)
}
