package dev.tracewire;

/**
 * One {@code tracestate} list-member.
 *
 * @param key the vendor key
 * @param value the opaque value
 */
public record TraceStateEntry(String key, String value) {}
