package dev.tracewire;

import dev.tracewire.internal.Native;

/** Run in a child JVM by {@link PackagingTest}: loads the library and reports. */
public final class LoaderProbe {
  private LoaderProbe() {}

  public static void main(String[] args) {
    try {
      Native.ensureLoaded();
      System.out.println("loaded");
    } catch (Throwable t) {
      Throwable c = t instanceof ExceptionInInitializerError && t.getCause() != null ? t.getCause() : t;
      System.out.println(c.getMessage());
      System.exit(3);
    }
  }
}
