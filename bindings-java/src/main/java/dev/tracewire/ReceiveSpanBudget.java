package dev.tracewire;

import dev.tracewire.internal.Cleaners;
import dev.tracewire.internal.Native;
import dev.tracewire.internal.NativeHandle;

/**
 * Counts one connection's process spans against {@link Trust#maxReceiveSpans()} (the core's
 * {@code model::ReceiveSpanBudget}). Lock-free and thread-safe.
 */
public final class ReceiveSpanBudget {
  private final NativeHandle handle;

  /** A budget of {@code limit} process spans; negative: no limit. */
  public ReceiveSpanBudget(long limit) {
    this.handle = new NativeHandle(Native.budgetNew(Math.max(limit, -1)), Native::budgetFree, "ReceiveSpanBudget");
    Cleaners.CLEANER.register(this, handle);
  }

  /** Whether the message just received gets a process span; when not, it is counted. */
  public boolean admit() {
    long h = handle.acquire();
    try {
      return Native.budgetAdmit(h);
    } finally {
      handle.release();
    }
  }

  /** How many received messages got no span. */
  public long skipped() {
    long h = handle.acquire();
    try {
      return Native.budgetSkipped(h);
    } finally {
      handle.release();
    }
  }
}
