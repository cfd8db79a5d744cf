/**
 * tracewire for Java: OpenTelemetry trace context carried end to end over WebSocket, with the
 * protocol implemented once in the Rust core and reached through JNI (the jar loads its native
 * library by itself).
 *
 * <ul>
 *   <li>{@link dev.tracewire.TraceContext}: the propagated context; {@link dev.tracewire.W3C}:
 *       the core's W3C value rules.
 *   <li>{@link dev.tracewire.TracewirePropagator}: a {@code TextMapPropagator} for {@code
 *       traceparent}, {@code tracestate} and {@code baggage}; {@link dev.tracewire.Headers}:
 *       headers and query strings.
 *   <li>{@link dev.tracewire.ServerHandshake} and {@link dev.tracewire.ClientHandshake}: the
 *       WebSocket upgrade (context, envelope negotiation, session id).
 *   <li>{@link dev.tracewire.JsonEnvelope} and {@link dev.tracewire.BinaryEnvelope}: context
 *       inside messages; decoding returns a {@link dev.tracewire.Decoded} that always carries
 *       the payload.
 *   <li>{@link dev.tracewire.ConnectionModel} and {@link dev.tracewire.ConnectionTracer}: the
 *       core's span decisions ({@code connection} and {@code message} models) applied with
 *       opentelemetry-java.
 *   <li>{@link dev.tracewire.StreamMetrics}: time to first chunk, inter-chunk intervals and more,
 *       as span attributes and histograms.
 *   <li>{@link dev.tracewire.ContextCarrier} and {@link dev.tracewire.TracingExecutorService}:
 *       async capture and restore.
 * </ul>
 *
 * <p>Errors carry the core's {@link dev.tracewire.ErrorCode} in a {@link
 * dev.tracewire.TracewireException}.
 */
package dev.tracewire;
