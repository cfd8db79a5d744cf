package dev.tracewire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.context.Context;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/**
 * Many virtual threads at once (Java 21+; `make test` runs this class on the newest JDK it
 * finds): each native call's buffer is borrowed from a small pool, not kept per thread, so live
 * virtual threads do not each hold native memory; and no two threads ever share one.
 */
class VirtualThreadsTest {
  private static final int THREADS = 4000;

  /** Starts {@code task} on a new virtual thread (reflection: compiled for Java 17). */
  private static Thread startVirtual(Runnable task) throws ReflectiveOperationException {
    Method start = Thread.class.getMethod("startVirtualThread", Runnable.class);
    return (Thread) start.invoke(null, task);
  }

  private static long directBytes() {
    return ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
        .filter(pool -> pool.getName().equals("direct"))
        .mapToLong(BufferPoolMXBean::getMemoryUsed)
        .sum();
  }

  @Test
  void virtualThreadsBorrowBuffersAndNeverShareOne() throws Exception {
    boolean virtualThreads;
    try {
      Thread.class.getMethod("startVirtualThread", Runnable.class);
      virtualThreads = true;
    } catch (NoSuchMethodException e) {
      virtualThreads = false;
    }
    assumeTrue(virtualThreads, "virtual threads need Java 21+");

    JsonEnvelope envelope = JsonEnvelope.atDefaultPath();
    CountDownLatch done = new CountDownLatch(THREADS);
    CountDownLatch release = new CountDownLatch(1);
    ConcurrentLinkedQueue<String> wrong = new ConcurrentLinkedQueue<>();
    long before = directBytes();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < THREADS; i++) {
      String spanId = String.format("%016x", i + 1);
      threads.add(
          startVirtual(
              () -> {
                try {
                  Context cx =
                      Context.root()
                          .with(
                              Span.wrap(
                                  SpanContext.create(
                                      "4bf92f3577b34da6a3ce929d0e0e4736",
                                      spanId,
                                      TraceFlags.getSampled(),
                                      TraceState.getDefault())));
                  for (int n = 0; n < 20; n++) {
                    String sent = envelope.inject("{\"n\":" + n + "}", cx);
                    String got = envelope.extract(sent).context().spanId();
                    if (!spanId.equals(got)) {
                      wrong.add(spanId + " got " + got);
                    }
                  }
                } finally {
                  done.countDown();
                }
                try {
                  release.await(); // stay alive: a per-thread buffer would stay too
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              }));
    }
    done.await();
    long held = directBytes() - before;
    release.countDown();
    for (Thread t : threads) {
      t.join();
    }
    assertEquals(List.of(), List.copyOf(wrong));
    // Per thread, 16 KiB each would be about 64 MiB; the pool holds a few buffers.
    assertTrue(held < 8L << 20, "direct memory held by live virtual threads: " + held + " bytes");
  }
}
