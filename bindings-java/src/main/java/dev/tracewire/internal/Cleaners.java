package dev.tracewire.internal;

import java.lang.ref.Cleaner;

/** The one {@link Cleaner} of the library (a single daemon thread). Internal: not API. */
public final class Cleaners {
  /** Frees native handles whose owners were not closed. */
  public static final Cleaner CLEANER = Cleaner.create();

  private Cleaners() {}
}
