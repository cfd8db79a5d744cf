// Package tracewire carries OpenTelemetry trace context end to end over
// WebSocket, on top of go.opentelemetry.io/otel. It depends on no WebSocket
// library: the traced github.com/coder/websocket client and server are in
// tracewire.dev/go/twwebsocket, as otelhttp is apart from otel.
//
// All behaviour (W3C Trace Context and Baggage parsing and limits, the
// handshake carriers, the JSON and binary message envelopes, the tracing
// models and metric names) lives in the tracewire Rust core, reached through
// its C ABI (bindings-go/capi) with cgo. This package converts types, maps
// errors to Go conventions and applies the core's decisions with the otel-go
// SDK; it never chooses a span name or an attribute key itself.
//
// # Pieces
//
//   - Values: ParseTraceParent, ParseTraceState, ParseBaggage, NewBaggage and
//     TraceContext, convertible to and from otel-go types.
//   - HTTP headers: Inject and Extract on http.Header, ExtractRequest and
//     ExtractQuery for browsers (which cannot set WebSocket headers), and
//     Propagator, a propagation.TextMapPropagator backed by the core.
//   - Envelopes: JSONEnvelope (members of JSON-object text frames, optionally
//     at a path such as "params._meta") and EncodeBinary / DecodeBinary (a
//     compact prefix on binary frames). Decoding never loses a frame: the
//     payload is always returned, with a typed error when the envelope is
//     malformed. Codec is the core's message codec for one connection: what
//     each outgoing frame becomes for the negotiated envelopes, what the
//     application sees of each incoming one, and the exception Event a
//     malformed envelope records.
//   - Queues: Capture and Restore move a context through any store.
//   - Models: ParseTarget and RequestTarget read a URL or an upgrade request
//     as the core does (server.address, server.port, the raw url.path);
//     Connection gives the core's span decisions (SpanDecision) for each
//     event; SpanDecision.Start applies one with an otel-go tracer exactly
//     as the core's choice says (parent, link, the handler's baggage).
//   - Streams: StreamMetrics records chunk timings lock-free.
//   - Transports: ClientHandshake and ReadHandshake for the upgrade, and
//     MessageSizeKey with SpanDecision.Without to prepare a connection's
//     message spans once; package twwebsocket applies them to
//     github.com/coder/websocket, and another WebSocket library can be
//     integrated the same way.
//
// # Errors
//
// Functions return (*T, error) or (T, error). Every error from the core is
// an *Error with a stable Code that unwraps to a sentinel: use
// errors.Is(err, tracewire.ErrInvalidEnvelope) and friends. A panic inside
// the core is caught at the C boundary and surfaces as ErrPanic.
//
// # Building
//
// The module links the static library target/release/libtracewire_capi.a of
// the repository by path. Build it once with
//
//	make -C bindings-go lib
//
// (cargo build --release -p tracewire-capi) before go build or go test.
// Objects holding C memory (JSONEnvelope, Codec, Connection, StreamMetrics) are
// safe for concurrent use; Close frees them and is idempotent, and a
// runtime cleanup frees them if Close is forgotten.
package tracewire
