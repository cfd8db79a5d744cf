package dev.tracewire;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * An {@link ExecutorService} that runs every task in the trace context that was current when it
 * was submitted, captured and restored through {@link ContextCarrier} (so the same code works
 * when the queue is outside the process). Under the OpenTelemetry Java agent, plain executors
 * already propagate context in-process; this wrapper is for everything else.
 */
public final class TracingExecutorService implements ExecutorService {
  private final ExecutorService delegate;

  private TracingExecutorService(ExecutorService delegate) {
    this.delegate = Objects.requireNonNull(delegate, "delegate");
  }

  /** Wraps {@code delegate}; shutting down the wrapper shuts down the delegate. */
  public static ExecutorService wrap(ExecutorService delegate) {
    return delegate instanceof TracingExecutorService ? delegate : new TracingExecutorService(delegate);
  }

  private static <T> List<Callable<T>> wrapAll(Collection<? extends Callable<T>> tasks) {
    List<Callable<T>> out = new ArrayList<>(tasks.size());
    for (Callable<T> t : tasks) {
      out.add(ContextCarrier.wrap(t));
    }
    return out;
  }

  @Override
  public void execute(Runnable command) {
    delegate.execute(ContextCarrier.wrap(command));
  }

  @Override
  public Future<?> submit(Runnable task) {
    return delegate.submit(ContextCarrier.wrap(task));
  }

  @Override
  public <T> Future<T> submit(Runnable task, T result) {
    return delegate.submit(ContextCarrier.wrap(task), result);
  }

  @Override
  public <T> Future<T> submit(Callable<T> task) {
    return delegate.submit(ContextCarrier.wrap(task));
  }

  @Override
  public <T> List<Future<T>> invokeAll(Collection<? extends Callable<T>> tasks)
      throws InterruptedException {
    return delegate.invokeAll(wrapAll(tasks));
  }

  @Override
  public <T> List<Future<T>> invokeAll(
      Collection<? extends Callable<T>> tasks, long timeout, TimeUnit unit)
      throws InterruptedException {
    return delegate.invokeAll(wrapAll(tasks), timeout, unit);
  }

  @Override
  public <T> T invokeAny(Collection<? extends Callable<T>> tasks)
      throws InterruptedException, ExecutionException {
    return delegate.invokeAny(wrapAll(tasks));
  }

  @Override
  public <T> T invokeAny(Collection<? extends Callable<T>> tasks, long timeout, TimeUnit unit)
      throws InterruptedException, ExecutionException, TimeoutException {
    return delegate.invokeAny(wrapAll(tasks), timeout, unit);
  }

  @Override
  public void shutdown() {
    delegate.shutdown();
  }

  @Override
  public List<Runnable> shutdownNow() {
    return delegate.shutdownNow();
  }

  @Override
  public boolean isShutdown() {
    return delegate.isShutdown();
  }

  @Override
  public boolean isTerminated() {
    return delegate.isTerminated();
  }

  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
    return delegate.awaitTermination(timeout, unit);
  }
}
