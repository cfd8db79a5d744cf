package dev.tracewire;

import dev.tracewire.internal.Native;
import dev.tracewire.internal.Scratch;

/**
 * Baggage member properties between this package's decoded form and opentelemetry-java's
 * header-form {@code BaggageEntryMetadata} ({@code p1=v1;p2}). The core parses and serialises
 * them, so the property grammar is not written again in Java.
 */
final class BaggageMetadata {
  /** The {@code Native.w3c} operation that builds a baggage (as {@link W3C#buildBaggage}). */
  private static final int BUILD_BAGGAGE = 5;

  private BaggageMetadata() {}

  /**
   * A member from opentelemetry-java's key, value and header-form metadata. Metadata the core
   * rejects is dropped (the member is still kept), as a W3C baggage parser drops a bad property.
   */
  static BaggageMember member(String key, String value, String metadata) {
    if (metadata == null || metadata.isEmpty()) {
      return new BaggageMember(key, value);
    }
    try (Scratch s = Scratch.get()) {
      s.u32(1);
      s.str(key);
      s.str(value);
      s.str(metadata);
      s.u32(0);
      s.call((in, len, out, cap) -> Native.w3c(BUILD_BAGGAGE, in, len, out, cap));
      s.readU32();
      return ContextRecords.readMember(s);
    } catch (RuntimeException e) {
      return new BaggageMember(key, value);
    }
  }

  /** The header-form metadata of {@code m}'s properties ({@code ""} when it has none). */
  static String of(BaggageMember m) {
    if (m.properties().isEmpty()) {
      return "";
    }
    try (Scratch s = Scratch.get()) {
      s.u32(1);
      ContextRecords.writeMember(s, m);
      s.call((in, len, out, cap) -> Native.w3c(BUILD_BAGGAGE, in, len, out, cap));
      s.readU32();
      s.readStr();
      s.readStr();
      return s.readStr();
    } catch (RuntimeException e) {
      return "";
    }
  }
}
