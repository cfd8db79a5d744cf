package tracewire

/*
#cgo noescape tw_target_from_url
#cgo nocallback tw_target_from_url
#cgo noescape tw_target_from_request
#cgo nocallback tw_target_from_request
#include "tracewire.h"
*/
import "C"

import (
	"net/http"
	"runtime"
)

// Target is what a WebSocket URL says about a connection's spans, as the
// core reads it (docs/PROTOCOL.md section 7): the server address (host,
// lowercase, IPv6 without brackets), the port (explicit, else the scheme's
// default) and the path as sent on the wire (percent-encoded, no query,
// "/" when empty).
type Target struct {
	// Address is server.address ("" when unknown).
	Address string
	// Port is server.port (0 when unknown).
	Port int
	// Path is url.path and the path in span names.
	Path string
}

// ParseTarget reads a client's ws:// or wss:// URL. The error unwraps to
// ErrInvalidURL for anything else (another scheme, no host, a bad port).
func ParseTarget(url string) (Target, error) {
	var out C.TwBytes
	p, n := cString(url)
	err := takeError(C.tw_target_from_url(p, n, &out))
	runtime.KeepAlive(url)
	if err != nil {
		return Target{}, err
	}
	t := targetFromRecord(view(out))
	C.tw_bytes_free(&out)
	return t, nil
}

// RequestTarget is the server's view of an upgrade request: the Host
// header, the request target of the request line (r.RequestURI, the wire
// form) and, for a request that arrived over TLS, the wss default port.
// It never fails: what cannot be read is left out (see the core's
// Target::from_request_lenient).
func RequestTarget(r *http.Request) Target {
	scheme := C.TW_SCHEME_UNKNOWN
	if r.TLS != nil {
		scheme = C.TW_SCHEME_WSS
	}
	requestTarget := r.RequestURI
	if requestTarget == "" && r.URL != nil {
		// A request built in-process (not read from the wire) has no
		// RequestURI; its URL holds the same target.
		requestTarget = r.URL.RequestURI()
	}
	var host *string
	if r.Host != "" {
		host = &r.Host
	}
	return targetFromRequest(int(scheme), host, requestTarget)
}

// targetFromRequest is RequestTarget for its parts: scheme is
// C.TW_SCHEME_* (-1 unknown), host nil when absent.
func targetFromRequest(scheme int, host *string, requestTarget string) Target {
	var out C.TwBytes
	var hp *C.uint8_t
	var hn C.size_t
	if host != nil {
		hp, hn = cString(*host)
		if hp == nil {
			hp = &nonNilC // present but empty
		}
	}
	tp, tn := cString(requestTarget)
	err := takeError(C.tw_target_from_request(C.int32_t(scheme), hp, hn, tp, tn, &out))
	runtime.KeepAlive(host)
	runtime.KeepAlive(requestTarget)
	if err != nil {
		return targetFromRecord(nil)
	}
	t := targetFromRecord(view(out))
	C.tw_bytes_free(&out)
	return t
}
