package dev.tracewire.internal;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongConsumer;

/**
 * A native handle shared by concurrent callers and freed exactly once, never while a call
 * that acquired it is running. Also the {@link java.lang.ref.Cleaner} action of its owner (it
 * must not reference the owner). Internal: not API.
 */
public final class NativeHandle implements Runnable {
  private static final int CLOSED = 1 << 30;

  private final long handle;
  private final LongConsumer free;
  private final String what;
  private final AtomicInteger state = new AtomicInteger();
  private final AtomicBoolean freed = new AtomicBoolean();

  public NativeHandle(long handle, LongConsumer free, String what) {
    this.handle = handle;
    this.free = free;
    this.what = what;
  }

  /** The handle, for one call; pair with {@link #release()} in a finally block. */
  public long acquire() {
    if (state.incrementAndGet() >= CLOSED) {
      release();
      throw new IllegalStateException(what + " is closed");
    }
    return handle;
  }

  public void release() {
    if (state.decrementAndGet() == CLOSED) {
      freeOnce();
    }
  }

  public boolean isClosed() {
    return state.get() >= CLOSED;
  }

  /** Idempotent: frees now, or when the last running call releases. */
  public void close() {
    int before = state.getAndUpdate(v -> v >= CLOSED ? v : v + CLOSED);
    if (before == 0) {
      freeOnce();
    }
  }

  /** The Cleaner action: the owner is unreachable. */
  @Override
  public void run() {
    close();
  }

  private void freeOnce() {
    if (freed.compareAndSet(false, true)) {
      free.accept(handle);
    }
  }
}
