package dev.tracewire;

/**
 * Something a receiver ignored while extracting a context (extraction itself never fails).
 *
 * @param code what kind of value was ignored
 * @param message why
 */
public record Issue(ErrorCode code, String message) {}
