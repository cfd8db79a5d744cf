// Package twwebsocket traces github.com/coder/websocket connections with
// tracewire, as otelhttp traces net/http for OpenTelemetry: the package
// tracewire holds the protocol, and only this package depends on the
// WebSocket library.
//
// Dial and Accept (or Handler, an http.Handler) wrap websocket.Dial and
// websocket.Accept: the upgrade request carries the caller's trace context
// and a session id, and offers the envelopes as subprotocols (composed with
// the application's own), one of which the server selects; the connection
// span, and a send or process span per message, follow the core's tracing
// model; each message carries its span's context in the envelope both peers
// agreed on. A peer that does not know tracewire sees an ordinary WebSocket
// and ordinary frames.
//
// By default the application receives JSON payloads without the envelope
// members (what the peer wrote), as in every tracewire language;
// Options.KeepEnvelope leaves them in.
//
// Both ends apply the core's WebSocket limits (docs/PROTOCOL.md section
// 11.1) unless Options say otherwise: messages up to
// tracewire.WSMaxMessageSize (1 MiB; a larger one closes the connection
// with 1009 before the application sees it) and an opening handshake of at
// most tracewire.WSHandshakeTimeout (10 s). A server should also set
// http.Server.ReadHeaderTimeout, which bounds the upgrade request before
// Accept runs.
package twwebsocket
