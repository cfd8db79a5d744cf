package dev.tracewire.internal;

import java.nio.ByteBuffer;

/**
 * Every native method of tracewire, in one place. The bridge is not API: the public types in
 * {@code dev.tracewire} are. Layouts of the byte buffers are documented on the Rust side
 * ({@code bindings-java/native/src/}; the byte format itself, little-endian, is the bridge's:
 * {@code bindings-bridge/src/lib.rs}).
 *
 * <p>Conventions: {@code in}/{@code out} are addresses of direct buffers that the caller keeps
 * alive for the call; a function producing bytes returns their length, or minus the length
 * needed when {@code cap} is too small. Failures throw {@link dev.tracewire.TracewireException}
 * with the core's error code; a Rust panic throws one with code {@code panic} (100).
 */
public final class Native {
  static {
    NativeLoader.load();
  }

  /** {@link #w3c} operation: parse a traceparent (Rust: {@code W3cOp::ParseTraceParent}). */
  public static final int W3C_PARSE_TRACEPARENT = 0;

  /** {@link #w3c} operation: parse tracestate lines. */
  public static final int W3C_PARSE_TRACESTATE = 1;

  /** {@link #w3c} operation: insert into a tracestate. */
  public static final int W3C_TRACESTATE_INSERT = 2;

  /** {@link #w3c} operation: remove from a tracestate. */
  public static final int W3C_TRACESTATE_REMOVE = 3;

  /** {@link #w3c} operation: parse baggage lines. */
  public static final int W3C_PARSE_BAGGAGE = 4;

  /** {@link #w3c} operation: build baggage from members. */
  public static final int W3C_BUILD_BAGGAGE = 5;

  /** {@link #w3c} operation: what to send for a span context made from a received one. */
  public static final int W3C_PASS_ON = 6;

  /** {@link #modelDecide} event: the connection span (Rust: {@code ModelEvent::Open}). */
  public static final int MODEL_OPEN = 0;

  /** {@link #modelDecide} event: sending one message. */
  public static final int MODEL_SEND = 1;

  /** {@link #modelDecide} event: processing one received message. */
  public static final int MODEL_RECEIVE = 2;

  /** {@link #modelDecide} event: the close. */
  public static final int MODEL_CLOSE = 3;

  /** Envelope set bit: the JSON envelope (Rust: {@code tracewire_bridge::ENVELOPE_JSON}). */
  public static final int ENVELOPE_JSON = 1;

  /** Envelope set bit: the binary envelope. */
  public static final int ENVELOPE_BINARY = 2;

  /**
   * {@link #modelChoose} availability bit: the received context has a span context (Rust:
   * {@code tracewire_bridge::AVAILABLE_BITS}, in order).
   */
  public static final int AVAILABLE_REMOTE_HAS_SPAN = 1;

  /** {@link #modelChoose} availability bit: the received context has baggage. */
  public static final int AVAILABLE_REMOTE_HAS_BAGGAGE = 2;

  /** {@link #modelChoose} availability bit: the caller's context has a valid span. */
  public static final int AVAILABLE_AMBIENT_HAS_SPAN = 4;

  /** {@link #modelChoose} availability bit: the caller's span is in the connection's trace. */
  public static final int AVAILABLE_AMBIENT_IN_CONNECTION_TRACE = 8;

  /** {@link #modelChoose} availability bit: the caller's span is the connection span. */
  public static final int AVAILABLE_AMBIENT_IS_CONNECTION = 16;

  /** {@link #modelChoose} availability bit: there is a valid connection span. */
  public static final int AVAILABLE_CONNECTION_HAS_SPAN = 32;

  /** {@link #modelChoose} result: the mask of one code, the parent at bit 0 (Rust: {@code pack_applied}). */
  public static final int APPLIED_CODE_MASK = 255;

  /** {@link #modelChoose} result: the shift of the baggage source code. */
  public static final int APPLIED_BAGGAGE_SHIFT = 8;

  /** {@link #modelChoose} result: the bit set when the connection span is linked. */
  public static final int APPLIED_LINK_CONNECTION = 65536;

  /** {@link #modelChoose} result: the bit set when the received span context is linked. */
  public static final int APPLIED_LINK_REMOTE = 131072;

  /**
   * Default largest WebSocket message received, in bytes (Rust: {@code
   * tracewire::limits::WS_MAX_MESSAGE_SIZE}; pinned by a test in {@code native/src/lib.rs}).
   */
  public static final int WS_MAX_MESSAGE_SIZE = 1048576;

  /** Default largest WebSocket frame received, in bytes ({@code limits::WS_MAX_FRAME_SIZE}). */
  public static final int WS_MAX_FRAME_SIZE = 1048576;

  /** Default WebSocket write buffer, in bytes ({@code limits::WS_WRITE_BUFFER_SIZE}). */
  public static final int WS_WRITE_BUFFER_SIZE = 131072;

  /** Default most bytes queued for sending ({@code limits::WS_MAX_WRITE_BUFFER_SIZE}). */
  public static final int WS_MAX_WRITE_BUFFER_SIZE = 4194304;

  /** Default longest opening handshake, in ms ({@code limits::WS_HANDSHAKE_TIMEOUT}). */
  public static final int WS_HANDSHAKE_TIMEOUT_MILLIS = 10000;

  /**
   * Entries one cache keeps per thread (the cache policy; Rust: {@code
   * tracewire::limits::CACHE_ENTRIES}; pinned by a test in {@code native/src/lib.rs}).
   */
  public static final int CACHE_ENTRIES = 8;

  /** The longest key a cache keeps, in bytes ({@code limits::CACHE_MAX_KEY_BYTES}). */
  public static final int CACHE_MAX_KEY_BYTES = 1024;

  private Native() {}

  /** Makes sure the library is loaded (loading it on first use). */
  public static void ensureLoaded() {}

  public static native long address(ByteBuffer direct);

  public static native String fieldName(int index);

  public static native String errorName(int code);

  public static native void noop();

  public static native int testingPanic();

  public static native int testingError(int code);

  public static native int extract(long in, int inLen, long out, int cap);

  public static native int extractFields(long in, int inLen, long out, int cap);

  public static native int injectTraceParent(long in, long out, int cap);

  public static native int extractTraceParent(long in, int inLen, long out, int cap);

  public static native int inject(long in, int inLen, long out, int cap);

  public static native int serverHandshake(long in, int inLen, long out, int cap);

  public static native int clientRequest(long in, int inLen, long out, int cap);

  public static native int clientNegotiation(long in, int inLen, long out, int cap);

  public static native String newSessionId();

  public static native long jsonNew(String path, boolean mcp, boolean strip);

  public static native void jsonFree(long handle);

  public static native int jsonInject(
      long handle, long ctx, int ctxLen, long frame, int frameLen, long out, int cap);

  public static native int jsonExtract(long handle, long frame, int frameLen, long out, int cap);

  public static native int binaryEncode(
      long ctx, int ctxLen, long payload, int payloadLen, long out, int cap);

  public static native int binaryDecode(long frame, int frameLen, long out, int cap);

  public static native int toCarrier(long in, int inLen, long out, int cap);

  public static native int fromCarrier(long in, int inLen, long out, int cap);

  public static native int modelParse(String name);

  public static native int modelDecide(long in, int inLen, long out, int cap);

  public static native int trustAdmit(long in, int inLen, long out, int cap);

  public static native int trustSessionId(long in, int inLen, long out, int cap);

  public static native long budgetNew(long limit);

  public static native void budgetFree(long handle);

  public static native boolean budgetAdmit(long handle);

  public static native long budgetSkipped(long handle);

  public static native int modelChoose(long in, int inLen, int available);

  public static native int targetFromUrl(long in, int inLen, long out, int cap);

  public static native int targetFromRequest(long in, int inLen, long out, int cap);

  public static native boolean stripByDefault();

  public static native long codecNew(int envelopes, String path, boolean mcp, boolean strip);

  public static native void codecFree(long handle);

  public static native int codecEncode(
      long handle, int messageType, long ctx, int ctxLen, long payload, int payloadLen, long out,
      int cap);

  public static native int codecDecode(
      long handle, int messageType, long frame, int frameLen, long out, int cap);

  public static native long metricsNew(int kind);

  public static native void metricsFree(long handle);

  public static native void metricsRecord(long handle, long bytes);

  public static native void metricsRecordAt(long handle, long nanos, long bytes);

  public static native int metricsSnapshot(long handle, boolean intervals, long out, int cap);

  public static native int metricsNames(int kind, long out, int cap);

  public static native int w3c(int op, long in, int inLen, long out, int cap);
}
