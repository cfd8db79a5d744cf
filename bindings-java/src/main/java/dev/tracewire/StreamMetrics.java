package dev.tracewire;

import dev.tracewire.internal.Cleaners;
import dev.tracewire.internal.Native;
import dev.tracewire.internal.NativeHandle;
import dev.tracewire.internal.Scratch;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongHistogram;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.api.trace.Span;
import java.time.Duration;
import java.util.List;
import java.util.OptionalDouble;

/**
 * Latency metrics of one stream of chunks (audio up, tokens or audio down): time to first
 * chunk, time to last chunk, chunk count, bytes and the inter-chunk intervals (mean, p50, p95,
 * max), in seconds. Recording is lock-free in the core and safe from any number of threads;
 * names of the span attributes and histograms come from the core ({@code gen_ai.*} names for a
 * model's output).
 *
 * <p>{@link #close()} frees the native state (idempotent; calls after it throw {@link
 * IllegalStateException}); a {@link java.lang.ref.Cleaner} frees it if you forget.
 *
 * <pre>{@code
 * try (StreamMetrics m = new StreamMetrics(StreamMetrics.Kind.MODEL_OUTPUT)) {
 *   for (byte[] chunk : tokens) { m.recordChunk(chunk.length); }
 *   m.recordTo(span);                       // span attributes
 *   StreamMetrics.instruments(meter, Kind.MODEL_OUTPUT).record(m, attrs);  // histograms
 * }
 * }</pre>
 */
public final class StreamMetrics implements AutoCloseable {
  /** What a stream carries, which decides the names its metrics are recorded under. */
  public enum Kind {
    /** Any stream of chunks. */
    GENERIC,
    /** A model's output (tokens, synthesized audio): GenAI metric names. */
    MODEL_OUTPUT
  }

  /**
   * A consistent view of what was recorded. Times are seconds from the stream's start; optional
   * values are empty until there are chunks (intervals: until there are two).
   *
   * @param chunkCount chunks recorded
   * @param bytes total bytes recorded
   * @param timeToFirstChunk time of the first chunk
   * @param timeToLastChunk time of the last chunk
   * @param intervalMean mean inter-chunk interval
   * @param intervalP50 median inter-chunk interval (nearest rank)
   * @param intervalP95 95th percentile inter-chunk interval (nearest rank)
   * @param intervalMax longest inter-chunk interval
   * @param attributes the span attributes for this snapshot, named by the core
   * @param intervals every interval in order, when requested (else empty)
   */
  public record Snapshot(
      long chunkCount,
      long bytes,
      OptionalDouble timeToFirstChunk,
      OptionalDouble timeToLastChunk,
      OptionalDouble intervalMean,
      OptionalDouble intervalP50,
      OptionalDouble intervalP95,
      OptionalDouble intervalMax,
      Attributes attributes,
      double[] intervals) {}

  /**
   * One histogram as the core defines it.
   *
   * @param name the instrument name
   * @param unit the UCUM unit
   * @param description the description
   * @param boundaries the explicit bucket boundaries, ascending (given to the SDK as advice)
   */
  public record Histogram(String name, String unit, String description, List<Double> boundaries) {}

  private final Kind kind;
  private final NativeHandle handle;

  /** A new stream of {@code kind} whose clock starts now. */
  public StreamMetrics(Kind kind) {
    this.kind = kind;
    long h = Native.metricsNew(kind.ordinal());
    this.handle = new NativeHandle(h, Native::metricsFree, "StreamMetrics");
    Cleaners.CLEANER.register(this, handle);
  }

  /** The stream kind. */
  public Kind kind() {
    return kind;
  }

  /** Records one chunk of {@code bytes} bytes, now. Lock-free. */
  public void recordChunk(long bytes) {
    long h = handle.acquire();
    try {
      Native.metricsRecord(h, bytes);
    } finally {
      handle.release();
    }
  }

  /** Records one chunk at {@code elapsedNanos} after the start (e.g. a transport's timestamp). */
  public void recordChunkAt(long elapsedNanos, long bytes) {
    long h = handle.acquire();
    try {
      Native.metricsRecordAt(h, elapsedNanos, bytes);
    } finally {
      handle.release();
    }
  }

  /** {@link #recordChunkAt(long, long)} with a {@link Duration}. */
  public void recordChunkAt(Duration elapsed, long bytes) {
    recordChunkAt(elapsed.toNanos(), bytes);
  }

  /** A snapshot without the list of intervals. */
  public Snapshot snapshot() {
    return snapshot(false);
  }

  /** A snapshot, with every interval when {@code withIntervals}. */
  public Snapshot snapshot(boolean withIntervals) {
    long h = handle.acquire();
    try (Scratch s = Scratch.get()) {
      s.call((in, len, out, cap) -> Native.metricsSnapshot(h, withIntervals, out, cap));
      long count = s.readI64();
      long bytes = s.readI64();
      OptionalDouble[] opt = new OptionalDouble[6];
      for (int i = 0; i < 6; i++) {
        boolean present = s.readU8() != 0;
        double v = s.readF64();
        opt[i] = present ? OptionalDouble.of(v) : OptionalDouble.empty();
      }
      Attributes attrs = ConnectionModel.readAttributes(s);
      int n = s.readU32();
      double[] intervals = new double[n];
      for (int i = 0; i < n; i++) {
        intervals[i] = s.readF64();
      }
      return new Snapshot(count, bytes, opt[0], opt[1], opt[2], opt[3], opt[4], opt[5], attrs, intervals);
    } finally {
      handle.release();
    }
  }

  /** Sets the snapshot's attributes on {@code span}. */
  public void recordTo(Span span) {
    span.setAllAttributes(snapshot().attributes());
  }

  /**
   * The core's histograms for {@code kind}: time to first chunk, time to last chunk, chunk
   * interval, chunk count, bytes.
   */
  public static List<Histogram> histogramNames(Kind kind) {
    try (Scratch s = Scratch.get()) {
      s.call((in, len, out, cap) -> Native.metricsNames(kind.ordinal(), out, cap));
      Histogram[] h = new Histogram[5];
      for (int i = 0; i < 5; i++) {
        String name = s.readStr();
        String unit = s.readStr();
        String description = s.readStr();
        Double[] boundaries = new Double[s.readU32()];
        for (int b = 0; b < boundaries.length; b++) {
          boundaries[b] = s.readF64();
        }
        h[i] = new Histogram(name, unit, description, List.of(boundaries));
      }
      return List.of(h);
    }
  }

  /** The histograms of a stream kind on {@code meter}; create once, record many streams. */
  public static Instruments instruments(Meter meter, Kind kind) {
    return new Instruments(meter, kind);
  }

  /** OpenTelemetry histograms for streams of one kind, named by the core. Thread-safe. */
  public static final class Instruments {
    private final Kind kind;
    private final DoubleHistogram timeToFirstChunk;
    private final DoubleHistogram timeToLastChunk;
    private final DoubleHistogram chunkInterval;
    private final LongHistogram chunkCount;
    private final LongHistogram bytes;

    Instruments(Meter meter, Kind kind) {
      this.kind = kind;
      List<Histogram> n = histogramNames(kind);
      timeToFirstChunk = doubles(meter, n.get(0));
      timeToLastChunk = doubles(meter, n.get(1));
      chunkInterval = doubles(meter, n.get(2));
      chunkCount = longs(meter, n.get(3));
      bytes = longs(meter, n.get(4));
    }

    private static DoubleHistogram doubles(Meter meter, Histogram h) {
      return meter
          .histogramBuilder(h.name())
          .setUnit(h.unit())
          .setDescription(h.description())
          .setExplicitBucketBoundariesAdvice(h.boundaries())
          .build();
    }

    private static LongHistogram longs(Meter meter, Histogram h) {
      List<Long> boundaries = h.boundaries().stream().map(Double::longValue).toList();
      return meter
          .histogramBuilder(h.name())
          .ofLongs()
          .setUnit(h.unit())
          .setDescription(h.description())
          .setExplicitBucketBoundariesAdvice(boundaries)
          .build();
    }

    /** The stream kind. */
    public Kind kind() {
      return kind;
    }

    /**
     * Records a finished stream: the times to first and last chunk, every interval, the chunk
     * count and the bytes.
     */
    public void record(StreamMetrics metrics, Attributes attributes) {
      Snapshot s = metrics.snapshot(true);
      s.timeToFirstChunk().ifPresent(v -> timeToFirstChunk.record(v, attributes));
      s.timeToLastChunk().ifPresent(v -> timeToLastChunk.record(v, attributes));
      for (double i : s.intervals()) {
        chunkInterval.record(i, attributes);
      }
      chunkCount.record(s.chunkCount(), attributes);
      bytes.record(s.bytes(), attributes);
    }
  }

  /** Frees the native state; later calls throw {@link IllegalStateException}. Idempotent. */
  @Override
  public void close() {
    handle.close();
  }
}
