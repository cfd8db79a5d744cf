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

  /** {@link #modelDecide} event: the connection span (Rust: {@code ModelEvent::Open}). */
  public static final int MODEL_OPEN = 0;

  /** {@link #modelDecide} event: sending one message. */
  public static final int MODEL_SEND = 1;

  /** {@link #modelDecide} event: processing one received message. */
  public static final int MODEL_RECEIVE = 2;

  /** {@link #modelDecide} event: the close. */
  public static final int MODEL_CLOSE = 3;

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

  public static native int clientAccepted(int offered, long in, int inLen);

  public static native String newSessionId();

  public static native long jsonNew(String path, boolean strip);

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

  public static native long metricsNew(int kind);

  public static native void metricsFree(long handle);

  public static native void metricsRecord(long handle, long bytes);

  public static native void metricsRecordAt(long handle, long nanos, long bytes);

  public static native int metricsSnapshot(long handle, boolean intervals, long out, int cap);

  public static native int metricsNames(int kind, long out, int cap);

  public static native int w3c(int op, long in, int inLen, long out, int cap);
}
