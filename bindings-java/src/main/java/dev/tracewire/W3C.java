package dev.tracewire;

import dev.tracewire.internal.Native;
import dev.tracewire.internal.Scratch;
import java.util.ArrayList;
import java.util.List;

/**
 * The core's W3C value rules, for callers that handle the values themselves: parse a {@code
 * traceparent}, parse, update and serialise a {@code tracestate} (32 members, 512 characters,
 * updated keys move to the front) and a {@code baggage} (64 members, 8192 bytes, percent
 * encoding). The results are exactly what every tracewire language produces.
 */
public final class W3C {
  private W3C() {}

  /** A parsed {@code tracestate}: the entries in order and their header form. */
  public record TraceStateValue(List<TraceStateEntry> entries, String header) {
    /** Copies the entries. */
    public TraceStateValue {
      entries = List.copyOf(entries);
    }
  }

  /** A parsed {@code baggage}: the members in order and their header form. */
  public record BaggageValue(List<BaggageMember> members, String header) {
    /** Copies the members. */
    public BaggageValue {
      members = List.copyOf(members);
    }
  }

  /**
   * Parses a {@code traceparent} (W3C Trace Context Level 2; a higher version is read by its
   * first four fields). The result is a remote context without tracestate or baggage.
   *
   * @throws TracewireException {@code invalid_traceparent}
   */
  public static TraceContext parseTraceParent(String value) {
    try (Scratch s = Scratch.get()) {
      s.str(value);
      s.call((in, len, out, cap) -> Native.w3c(Native.W3C_PARSE_TRACEPARENT, in, len, out, cap));
      return ContextRecords.read(s);
    }
  }

  /**
   * Parses the lines of a {@code tracestate} header, combined as if joined with commas.
   *
   * @throws TracewireException {@code invalid_tracestate}
   */
  public static TraceStateValue parseTraceState(List<String> lines) {
    try (Scratch s = Scratch.get()) {
      writeLines(s, lines);
      s.call((in, len, out, cap) -> Native.w3c(Native.W3C_PARSE_TRACESTATE, in, len, out, cap));
      return readTraceState(s);
    }
  }

  /**
   * Sets {@code key} to {@code value}, moving it to the front; adding to a full list drops the
   * rightmost entry.
   *
   * @throws TracewireException {@code invalid_tracestate} for an invalid key or value (nothing
   *     changes)
   */
  public static TraceStateValue insertTraceState(
      List<TraceStateEntry> entries, String key, String value) {
    try (Scratch s = Scratch.get()) {
      writeEntries(s, entries);
      s.str(key);
      s.str(value);
      s.call((in, len, out, cap) -> Native.w3c(Native.W3C_TRACESTATE_INSERT, in, len, out, cap));
      return readTraceState(s);
    }
  }

  /** Removes {@code key} (absent: no change). */
  public static TraceStateValue removeTraceState(List<TraceStateEntry> entries, String key) {
    try (Scratch s = Scratch.get()) {
      writeEntries(s, entries);
      s.str(key);
      s.call((in, len, out, cap) -> Native.w3c(Native.W3C_TRACESTATE_REMOVE, in, len, out, cap));
      return readTraceState(s);
    }
  }

  /**
   * Parses the lines of a {@code baggage} header; members over the limits are dropped.
   *
   * @throws TracewireException {@code invalid_baggage}
   */
  public static BaggageValue parseBaggage(List<String> lines) {
    try (Scratch s = Scratch.get()) {
      writeLines(s, lines);
      s.call((in, len, out, cap) -> Native.w3c(Native.W3C_PARSE_BAGGAGE, in, len, out, cap));
      return readBaggage(s);
    }
  }

  /**
   * Builds a baggage from members in order (a repeated key replaces the earlier value in place)
   * and serialises it.
   *
   * @throws TracewireException {@code invalid_baggage} for an invalid key or property
   */
  public static BaggageValue buildBaggage(List<BaggageMember> members) {
    try (Scratch s = Scratch.get()) {
      s.u32(members.size());
      for (BaggageMember m : members) {
        ContextRecords.writeMember(s, m);
      }
      s.call((in, len, out, cap) -> Native.w3c(Native.W3C_BUILD_BAGGAGE, in, len, out, cap));
      return readBaggage(s);
    }
  }

  private static void writeLines(Scratch s, List<String> lines) {
    s.u32(lines.size());
    for (String l : lines) {
      s.str(l);
    }
  }

  private static void writeEntries(Scratch s, List<TraceStateEntry> entries) {
    s.u32(entries.size());
    for (TraceStateEntry e : entries) {
      s.str(e.key());
      s.str(e.value());
    }
  }

  private static TraceStateValue readTraceState(Scratch s) {
    int n = s.readU32();
    List<TraceStateEntry> entries = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      entries.add(new TraceStateEntry(s.readStr(), s.readStr()));
    }
    return new TraceStateValue(entries, s.readStr());
  }

  private static BaggageValue readBaggage(Scratch s) {
    int n = s.readU32();
    List<BaggageMember> members = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      members.add(ContextRecords.readMember(s));
    }
    return new BaggageValue(members, s.readStr());
  }
}
