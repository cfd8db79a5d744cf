package dev.tracewire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Bad input: typed exceptions where there is no result, nothing lost where there is. */
class BadInputTest {
  private static final TraceContext CTX =
      W3C.parseTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");

  @Test
  void jsonInjectIntoANonObjectIsNotJsonObject() {
    try (JsonEnvelope env = JsonEnvelope.atDefaultPath()) {
      for (String frame : List.of("[1,2]", "\"s\"", "42", "", "not json")) {
        TracewireException e =
            assertThrows(TracewireException.class, () -> env.inject(frame, CTX), frame);
        assertEquals(ErrorCode.NOT_JSON_OBJECT, e.code(), frame);
      }
    }
    try (JsonEnvelope env = JsonEnvelope.atPath("params._meta")) {
      TracewireException e =
          assertThrows(TracewireException.class, () -> env.inject("{\"params\":[1]}", CTX));
      assertEquals(ErrorCode.NOT_JSON_OBJECT, e.code());
    }
  }

  @Test
  void malformedJsonEnvelopeKeepsTheWholeFrame() {
    try (JsonEnvelope env = new JsonEnvelope("", true)) {
      String frame = "{\"tracewire\":{\"traceparent\":\"00-zz\"},\"text\":\"hi\"}";
      Decoded d = env.extract(frame);
      assertEquals(Decoded.Kind.MALFORMED, d.kind());
      assertEquals(ErrorCode.INVALID_TRACEPARENT, d.error().code());
      assertEquals(frame, d.payloadText());
      assertTrue(d.context().isEmpty());
      // Not well-formed JSON carries no envelope: delivered as it came.
      String brokenFrame =
          "{\"tracewire\":{\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\"},";
      Decoded broken = env.extract(brokenFrame);
      assertEquals(Decoded.Kind.PLAIN, broken.kind());
      assertEquals(brokenFrame, broken.payloadText());
    }
  }

  @Test
  void malformedBinaryEnvelopeKeepsTheWholeFrame() {
    byte[] truncated = {(byte) 0xF5, 0x54, 0x57, 2, 0, 32, 1, 9, 9};
    Decoded d = BinaryEnvelope.decode(truncated);
    assertEquals(Decoded.Kind.MALFORMED, d.kind());
    assertEquals(ErrorCode.INVALID_ENVELOPE, d.error().code());
    assertArrayEquals(truncated, d.payloadBytes());
    byte[] v1 = {(byte) 0xF5, 0x54, 0x57, 1, 0, 7};
    assertEquals(ErrorCode.UNSUPPORTED_ENVELOPE_VERSION, BinaryEnvelope.decode(v1).error().code());
    // A later version is skipped by its length: the payload after it is delivered.
    byte[] v3 = {(byte) 0xF5, 0x54, 0x57, 3, 0, 8, 0, 0, 'h', 'i'};
    Decoded skipped = BinaryEnvelope.decode(v3);
    assertEquals(ErrorCode.UNSUPPORTED_ENVELOPE_VERSION, skipped.error().code());
    assertArrayEquals(new byte[] {'h', 'i'}, skipped.payloadBytes());
  }

  @Test
  void randomBytesNeverThrowAndNeverLoseBytes() {
    Random r = new Random(7);
    try (JsonEnvelope env = new JsonEnvelope("a.b", true)) {
      for (int i = 0; i < 3000; i++) {
        byte[] b = new byte[r.nextInt(80)];
        r.nextBytes(b);
        if (i % 3 == 0 && b.length > 3) {
          b[0] = (byte) 0xF5;
          b[1] = 0x54;
          b[2] = 0x57;
        }
        Decoded bin = BinaryEnvelope.decode(b);
        if (bin.kind() != Decoded.Kind.ENVELOPED) {
          // The whole frame, or the tail after an envelope of a later version.
          byte[] p = bin.payloadBytes();
          assertArrayEquals(Arrays.copyOfRange(b, b.length - p.length, b.length), p);
          assertTrue(
              p.length == b.length
                  || bin.error().code() == ErrorCode.UNSUPPORTED_ENVELOPE_VERSION);
        }
        Decoded js = env.extract(b);
        if (js.kind() != Decoded.Kind.ENVELOPED) {
          assertArrayEquals(b, js.payloadBytes());
        }
      }
    }
  }

  @Test
  void aCorruptCarrierIsATypedError() {
    byte[] good = CTX.toCarrier();
    assertEquals(CTX.traceId(), TraceContext.fromCarrier(good).traceId());
    byte[] extra = Arrays.copyOf(good, good.length + 1);
    assertEquals(ErrorCode.INVALID_ENVELOPE,
        assertThrows(TracewireException.class, () -> TraceContext.fromCarrier(extra)).code());
    assertEquals(ErrorCode.INVALID_ENVELOPE,
        assertThrows(TracewireException.class, () -> TraceContext.fromCarrier(new byte[] {1, 2})).code());
    assertEquals(ErrorCode.INVALID_ENVELOPE,
        assertThrows(TracewireException.class, () -> ContextCarrier.restore(new byte[0])).code());
  }

  @Test
  void badConfigurationIsInvalidArgument() {
    assertEquals(ErrorCode.INVALID_ARGUMENT,
        assertThrows(TracewireException.class, () -> TracingModel.parse("session")).code());
    assertEquals(TracingModel.MESSAGE, TracingModel.parse(" Message "));
    assertEquals(ErrorCode.INVALID_ARGUMENT,
        assertThrows(TracewireException.class, () -> new JsonEnvelope("a..b", false)).code());
    assertEquals(ErrorCode.INVALID_ARGUMENT,
        assertThrows(TracewireException.class, () -> TraceContext.of("ab", null, (byte) 0, List.of(), List.of(), false)).code());
  }

  @Test
  void closedObjectsThrowAndCloseIsIdempotent() {
    JsonEnvelope env = JsonEnvelope.atDefaultPath();
    env.close();
    env.close();
    assertThrows(IllegalStateException.class, () -> env.extract("{}"));
    StreamMetrics m = new StreamMetrics(StreamMetrics.Kind.GENERIC);
    m.close();
    m.close();
    assertThrows(IllegalStateException.class, () -> m.recordChunk(1));
  }

  @Test
  void invalidHandshakeValuesAreReportedNotThrown() {
    Extracted x =
        Headers.extract(
            Map.of(
                "traceparent", List.of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
                "tracestate", List.of("BAD KEY=1"),
                "baggage", List.of("ok=1")));
    assertTrue(x.context().hasSpanContext());
    assertTrue(x.context().traceState().isEmpty());
    assertEquals("1", x.context().baggage().get(0).value());
    assertEquals(List.of(ErrorCode.INVALID_TRACESTATE), x.issues().stream().map(Issue::code).toList());
  }

  @Test
  void largeFramesGrowTheBuffers() {
    byte[] big = new byte[3 << 20];
    Arrays.fill(big, (byte) 'x');
    String text = "{\"data\":\"" + new String(big, StandardCharsets.US_ASCII) + "\"}";
    try (JsonEnvelope env = JsonEnvelope.atDefaultPath()) {
      String out = env.inject(text, CTX);
      assertTrue(out.startsWith("{\"tracewire\":{\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736"));
      assertEquals(text.length() + 86, out.length());
      Decoded d = env.extract(out);
      assertEquals(CTX.traceId(), d.context().traceId());
      ByteBuffer direct = ByteBuffer.allocateDirect(text.length()).put(text.getBytes(StandardCharsets.US_ASCII)).flip();
      ByteBuffer viaDirect = env.inject(direct, CTX.storeIn(io.opentelemetry.context.Context.root()));
      assertEquals(out.length(), viaDirect.remaining());
      // Stripped by default: the receiver sees the frame as it was before injection.
      assertEquals(text.length(), d.payloadSize());
    }
    byte[] frame = BinaryEnvelope.encode(CTX, big);
    Decoded d = BinaryEnvelope.decode(frame);
    assertEquals(big.length, d.payloadSize());
    ByteBuffer direct = ByteBuffer.allocateDirect(frame.length).put(frame).flip();
    assertEquals(big.length, BinaryEnvelope.decode(direct).payloadSize());
    // A small call after the large one still works (buffers shrink back).
    assertFalse(BinaryEnvelope.decode(new byte[] {1}).isEnveloped());
  }
}
