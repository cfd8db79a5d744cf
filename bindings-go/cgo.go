package tracewire

// The bridging layer: every C call of the package goes through this file's
// helpers. Rust never keeps a Go pointer past a call and never calls back
// into Go, which the noescape and nocallback directives tell the compiler.

/*
#cgo CFLAGS: -I${SRCDIR}/capi/include
#cgo LDFLAGS: ${SRCDIR}/../target/release/libtracewire_capi.a -lm -ldl -lpthread -lrt -lutil -lgcc_s
#cgo noescape tw_abi_version
#cgo nocallback tw_abi_version
#cgo noescape tw_error_code
#cgo nocallback tw_error_code
#cgo noescape tw_error_free
#cgo nocallback tw_error_free
#cgo noescape tw_error_message
#cgo nocallback tw_error_message
#include "tracewire.h"
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"go.opentelemetry.io/otel/trace"
)

// abiVersion is the C ABI version this package was written against.
const abiVersion = 4

func init() {
	if v := C.tw_abi_version(); v != abiVersion {
		panic(fmt.Sprintf("tracewire: the linked libtracewire_capi.a has ABI version %d, this package needs %d; rebuild it with `make -C bindings-go lib`", v, abiVersion))
	}
}

// cBytes borrows b for the duration of one C call.
func cBytes(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b))), C.size_t(len(b))
}

// cString borrows s for the duration of one C call, without copying.
func cString(s string) (*C.uint8_t, C.size_t) {
	if s == "" {
		return nil, 0 // NULL with length 0 is the empty input (and skips cgo's pointer check)
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.StringData(s))), C.size_t(len(s))
}

// takeError converts a C error into a Go *Error and frees it; nil for NULL.
func takeError(e *C.TwError) error {
	if e == nil {
		return nil
	}
	code := Code(C.tw_error_code(e))
	msg := C.GoString(C.tw_error_message(e))
	C.tw_error_free(e)
	return &Error{Code: code, Message: msg}
}

// goString copies Rust-owned bytes into a Go string (does not free them).
func goString(b C.TwBytes) string {
	if b.ptr == nil || b.len == 0 {
		return ""
	}
	return C.GoStringN((*C.char)(unsafe.Pointer(b.ptr)), C.int(b.len))
}

// traceparentText copies the 55 characters of a traceparent written by C
// into a Go string (without letting the struct escape to the heap, as a
// call to C.GoStringN would).
func traceparentText(t *C.TwTraceParentText) string {
	return string(unsafe.Slice((*byte)(unsafe.Pointer(&t.text[0])), len(t.text)))
}

// goBytes copies Rust-owned bytes into a Go slice (does not free them).
func goBytes(b C.TwBytes) []byte {
	if b.ptr == nil || b.len == 0 {
		return nil
	}
	return C.GoBytes(unsafe.Pointer(b.ptr), C.int(b.len))
}

// view borrows Rust-owned bytes as a Go slice; valid until they are freed.
func view(b C.TwBytes) []byte {
	if b.ptr == nil || b.len == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(b.ptr)), int(b.len))
}

// appendRecord appends one item of the records format the C ABI uses for
// lists: a 32-bit little-endian length, then the bytes.
func appendRecord(buf []byte, s string) []byte {
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(s)))
	return append(buf, s...)
}

// records splits a records buffer (copying each item into a Go string).
func records(b []byte) []string {
	var out []string
	for len(b) >= 4 {
		n := int(binary.LittleEndian.Uint32(b))
		b = b[4:]
		if n > len(b) {
			break
		}
		out = append(out, string(b[:n]))
		b = b[n:]
	}
	return out
}

// spanIn converts a span context for the C ABI.
func spanIn(tp *TraceParent) C.TwSpanContext {
	var s C.TwSpanContext
	if tp == nil {
		return s
	}
	*(*[16]byte)(unsafe.Pointer(&s.trace_id)) = [16]byte(tp.TraceID)
	*(*[8]byte)(unsafe.Pointer(&s.span_id)) = [8]byte(tp.SpanID)
	s.flags = C.uint8_t(tp.Flags)
	s.valid = true
	return s
}

// spanOut converts a span context from the C ABI (nil when not valid).
func spanOut(s *C.TwSpanContext) *TraceParent {
	if !s.valid {
		return nil
	}
	return &TraceParent{
		TraceID: trace.TraceID(*(*[16]byte)(unsafe.Pointer(&s.trace_id))),
		SpanID:  trace.SpanID(*(*[8]byte)(unsafe.Pointer(&s.span_id))),
		Flags:   trace.TraceFlags(s.flags),
	}
}

// issuesOut converts extraction issues.
func issuesOut(i *C.TwIssues) []error {
	if i.count == 0 {
		return nil
	}
	out := make([]error, 0, int(i.count))
	for _, c := range i.codes[:i.count] {
		out = append(out, &Error{Code: Code(c), Message: "ignored while extracting: " + Code(c).String()})
	}
	return out
}
