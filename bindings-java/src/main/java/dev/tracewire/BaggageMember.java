package dev.tracewire;

import java.util.List;
import java.util.Objects;

/**
 * One W3C baggage member.
 *
 * @param key the key (an RFC 7230 token)
 * @param value the decoded value (any string; percent-encoded on the wire)
 * @param properties the member's properties in order
 */
public record BaggageMember(String key, String value, List<Property> properties) {
  /** Copies the property list. */
  public BaggageMember {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(value, "value");
    properties = List.copyOf(properties);
  }

  /** A member without properties. */
  public BaggageMember(String key, String value) {
    this(key, value, List.of());
  }

  /**
   * A baggage property: {@code key=value}, or a bare {@code key} when {@code value} is null.
   *
   * @param key the property key
   * @param value the decoded value, or null for a bare key
   */
  public record Property(String key, String value) {}
}
