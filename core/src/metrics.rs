//! Stream metrics: time to first and last chunk, chunk count, bytes and the
//! distribution of inter-chunk intervals, recorded without locks.
//!
//! A [`StreamMetrics`] is created when a stream starts (usually when the
//! request is sent, see [`StreamMetrics::starting_at`]) and every received or
//! sent chunk is recorded with [`StreamMetrics::record_chunk`]. Recording is a
//! few atomic operations and never takes a lock, so any number of threads may
//! record into one stream while another takes a [`StreamMetrics::snapshot`].
//!
//! ```
//! use std::time::Duration;
//! use tracewire::{StreamKind, StreamMetrics};
//!
//! let m = StreamMetrics::new(StreamKind::ModelOutput);
//! m.record_chunk_at(Duration::from_millis(200), 10);
//! m.record_chunk_at(Duration::from_millis(250), 12);
//! m.record_chunk_at(Duration::from_millis(400), 8);
//! let s = m.snapshot();
//! assert_eq!(s.chunk_count, 3);
//! assert_eq!(s.bytes, 30);
//! assert_eq!(s.time_to_first_chunk, Some(0.2));
//! assert_eq!(s.interval_max, Some(0.15));
//! let attrs = s.attributes(m.kind());
//! assert_eq!(attrs[2].key, "gen_ai.response.time_to_first_chunk");
//! ```
//!
//! # Definitions
//!
//! All durations are in **seconds** (`f64`), computed from whole nanoseconds
//! as `ns / 1e9`. Every language computes them the same way, so the shared
//! vectors in `tests/vectors/metrics.json` hold for all of them.
//!
//! - *time to first chunk* / *time to last chunk*: the smallest / largest
//!   offset from the start of the stream at which a chunk was recorded.
//! - *intervals*: between consecutive chunks in recording order, so `n`
//!   chunks give `n - 1` intervals. An interval whose later chunk carries an
//!   earlier timestamp (two threads racing, or an out-of-order replay) counts
//!   as 0, never negative.
//! - *mean*: the sum of the intervals in nanoseconds divided by their number.
//! - *p50*, *p95*: exact, by the **nearest-rank** method: the interval at
//!   index `ceil(p / 100 * k) - 1` of the `k` intervals sorted ascending.
//!   No interpolation.
//! - *max*: the largest interval.
//!
//! Values that do not exist (no chunk yet, fewer than two chunks) are `None`
//! and are left out of the span attributes and histograms.
//!
//! # Names
//!
//! Bindings take every name from here ([`StreamSnapshot::attributes`],
//! [`StreamKind::metric_names`]) and never spell one themselves. A
//! [`StreamKind::ModelOutput`] stream uses the OpenTelemetry GenAI semantic
//! conventions where they define a name; everything else lives under
//! `tracewire.stream.*`.
//!
//! Span attributes, in the order [`StreamSnapshot::attributes`] returns them:
//!
//! | Value                 | `Generic`                               | `ModelOutput`                           | Type   |
//! |-----------------------|-----------------------------------------|-----------------------------------------|--------|
//! | chunk count           | `tracewire.stream.chunk_count`          | `tracewire.stream.chunk_count`          | int    |
//! | bytes                 | `tracewire.stream.bytes`                | `tracewire.stream.bytes`                | int    |
//! | time to first chunk   | `tracewire.stream.time_to_first_chunk`  | `gen_ai.response.time_to_first_chunk`   | double |
//! | time to last chunk    | `tracewire.stream.time_to_last_chunk`   | `tracewire.stream.time_to_last_chunk`   | double |
//! | interval mean         | `tracewire.stream.interval.mean`        | `tracewire.stream.interval.mean`        | double |
//! | interval p50          | `tracewire.stream.interval.p50`         | `tracewire.stream.interval.p50`         | double |
//! | interval p95          | `tracewire.stream.interval.p95`         | `tracewire.stream.interval.p95`         | double |
//! | interval max          | `tracewire.stream.interval.max`         | `tracewire.stream.interval.max`         | double |
//!
//! Histograms ([`MetricNames`]), each recorded when the stream ends:
//!
//! | Histogram             | `Generic`                               | `ModelOutput`                                   | Unit      | Recorded                         |
//! |-----------------------|-----------------------------------------|-------------------------------------------------|-----------|----------------------------------|
//! | time to first chunk   | `tracewire.stream.time_to_first_chunk`  | `gen_ai.client.operation.time_to_first_chunk`   | `s`       | once, if there was a chunk       |
//! | time to last chunk    | `tracewire.stream.time_to_last_chunk`   | `tracewire.stream.time_to_last_chunk`           | `s`       | once, if there was a chunk       |
//! | chunk interval        | `tracewire.stream.chunk_interval`       | `gen_ai.client.operation.time_per_output_chunk` | `s`       | once per interval                |
//! | chunk count           | `tracewire.stream.chunk_count`          | `tracewire.stream.chunk_count`                  | `{chunk}` | once                             |
//! | bytes                 | `tracewire.stream.bytes`                | `tracewire.stream.bytes`                        | `By`      | once                             |
//!
//! The GenAI names are those of the GenAI semantic conventions (status:
//! development): the metrics `gen_ai.client.operation.time_to_first_chunk` and
//! `gen_ai.client.operation.time_per_output_chunk`, and the span attribute
//! `gen_ai.response.time_to_first_chunk`.
//!
//! # Memory
//!
//! Exact percentiles need every interval, so a stream keeps one `u64` (the
//! chunk's timestamp) per chunk until it is dropped: 8 bytes a chunk, in
//! segments of doubling size (the first holds 32).

use crate::attributes::KeyValue;
use crate::clock::Instant;
use std::alloc::{self, Layout};
use std::fmt;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::time::Duration;

/// What a stream carries, which decides the names its metrics are recorded under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// Any stream of chunks: `tracewire.stream.*` names.
    Generic,
    /// A model's output (tokens, synthesized audio): GenAI metric names.
    ModelOutput,
}

/// The name, unit, description and bucket boundaries of one histogram, as
/// the OpenTelemetry metrics API takes them when the instrument is created.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Histogram {
    /// The instrument name, e.g. `gen_ai.client.operation.time_to_first_chunk`.
    pub name: &'static str,
    /// The UCUM unit: `s`, `{chunk}` or `By`.
    pub unit: &'static str,
    /// A one-sentence description.
    pub description: &'static str,
    /// The explicit bucket boundaries (the advice every SDK takes at
    /// creation), ascending. The SDK default (0, 5, 10, 25, ... 10000) is made
    /// for milliseconds and would put nearly every value in seconds into its
    /// first bucket.
    pub boundaries: &'static [f64],
}

/// Boundaries of the GenAI time histograms, in seconds: the explicit bucket
/// boundaries the GenAI semantic conventions give for
/// `gen_ai.client.operation.duration`, `time_to_first_chunk` and
/// `time_per_output_chunk` (10 ms doubling to 81.92 s).
pub const GEN_AI_TIME_BOUNDARIES: &[f64] = &[
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/// Boundaries of the generic stream time histograms, in seconds. Generic
/// streams are mostly audio and other media whose chunks come every 10 to
/// 100 ms, so the range starts at 1 ms (1-2-5 steps up to a minute), finer
/// at the low end than the GenAI list.
pub const STREAM_TIME_BOUNDARIES: &[f64] = &[
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 60.0,
];

/// Boundaries of the chunk-count histogram: powers of 4 from 1 to 4^10 (about
/// a million chunks), as the GenAI conventions bucket token counts.
pub const CHUNK_COUNT_BOUNDARIES: &[f64] = &[
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0,
];

/// Boundaries of the stream-bytes histogram: powers of 4 from 64 B to 64 MiB.
pub const BYTES_BOUNDARIES: &[f64] = &[
    64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0,
    67108864.0,
];

/// The histograms a stream's metrics are recorded into, decided by its
/// [`StreamKind`]. See the module docs for when each is recorded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricNames {
    /// Time to first chunk, in seconds: [`StreamSnapshot::time_to_first_chunk`].
    pub time_to_first_chunk: Histogram,
    /// Time to last chunk, in seconds: [`StreamSnapshot::time_to_last_chunk`].
    pub time_to_last_chunk: Histogram,
    /// Every inter-chunk interval, in seconds: [`StreamMetrics::snapshot_and_intervals`].
    pub chunk_interval: Histogram,
    /// Chunks per stream: [`StreamSnapshot::chunk_count`].
    pub chunk_count: Histogram,
    /// Bytes per stream: [`StreamSnapshot::bytes`].
    pub bytes: Histogram,
}

const TIME_TO_LAST_CHUNK: Histogram = Histogram {
    name: "tracewire.stream.time_to_last_chunk",
    unit: "s",
    description: "Time from the start of the stream to its last chunk.",
    boundaries: STREAM_TIME_BOUNDARIES,
};

const CHUNK_COUNT: Histogram = Histogram {
    name: "tracewire.stream.chunk_count",
    unit: "{chunk}",
    description: "Number of chunks in the stream.",
    boundaries: CHUNK_COUNT_BOUNDARIES,
};

const BYTES: Histogram = Histogram {
    name: "tracewire.stream.bytes",
    unit: "By",
    description: "Total size of the stream's chunks.",
    boundaries: BYTES_BOUNDARIES,
};

const GENERIC_NAMES: MetricNames = MetricNames {
    time_to_first_chunk: Histogram {
        name: "tracewire.stream.time_to_first_chunk",
        unit: "s",
        description: "Time from the start of the stream to its first chunk.",
        boundaries: STREAM_TIME_BOUNDARIES,
    },
    time_to_last_chunk: TIME_TO_LAST_CHUNK,
    chunk_interval: Histogram {
        name: "tracewire.stream.chunk_interval",
        unit: "s",
        description: "Time between consecutive chunks, recorded for each chunk after the first.",
        boundaries: STREAM_TIME_BOUNDARIES,
    },
    chunk_count: CHUNK_COUNT,
    bytes: BYTES,
};

// Names and briefs from the GenAI semantic conventions (metrics.yaml).
const MODEL_OUTPUT_NAMES: MetricNames = MetricNames {
    time_to_first_chunk: Histogram {
        name: "gen_ai.client.operation.time_to_first_chunk",
        unit: "s",
        description: "Time to receive the first chunk, measured from when the client issues the generation request to when the first chunk is received in the response stream.",
        boundaries: GEN_AI_TIME_BOUNDARIES,
    },
    time_to_last_chunk: TIME_TO_LAST_CHUNK,
    chunk_interval: Histogram {
        name: "gen_ai.client.operation.time_per_output_chunk",
        unit: "s",
        description: "Time per output chunk, recorded for each chunk received after the first one, measured as the time elapsed from the end of the previous chunk to the end of the current chunk.",
        boundaries: GEN_AI_TIME_BOUNDARIES,
    },
    chunk_count: CHUNK_COUNT,
    bytes: BYTES,
};

impl StreamKind {
    /// The histograms this kind of stream is recorded into.
    ///
    /// ```
    /// use tracewire::StreamKind;
    /// let names = StreamKind::ModelOutput.metric_names();
    /// assert_eq!(names.time_to_first_chunk.name, "gen_ai.client.operation.time_to_first_chunk");
    /// assert_eq!(names.time_to_first_chunk.unit, "s");
    /// assert_eq!(StreamKind::Generic.metric_names().bytes.unit, "By");
    /// ```
    pub const fn metric_names(self) -> &'static MetricNames {
        match self {
            StreamKind::Generic => &GENERIC_NAMES,
            StreamKind::ModelOutput => &MODEL_OUTPUT_NAMES,
        }
    }

    /// The keys of the stream span's attributes that its histograms carry too,
    /// in this order (the span keeps all of them; a metric keeps only these,
    /// so its cardinality stays bounded).
    ///
    /// `ModelOutput`: the attributes the GenAI conventions list for
    /// `gen_ai.client.operation.time_to_first_chunk` and
    /// `time_per_output_chunk`; `gen_ai.operation.name` and
    /// `gen_ai.provider.name` are required there, so set them on a GenAI
    /// stream's span. `Generic`: the peer and the error.
    ///
    /// ```
    /// use tracewire::StreamKind;
    /// assert_eq!(StreamKind::ModelOutput.metric_attribute_keys()[0], "gen_ai.operation.name");
    /// assert!(!StreamKind::Generic.metric_attribute_keys().contains(&"url.full"));
    /// ```
    pub const fn metric_attribute_keys(self) -> &'static [&'static str] {
        match self {
            StreamKind::Generic => &["server.address", "server.port", "error.type"],
            StreamKind::ModelOutput => &[
                "gen_ai.operation.name",
                "gen_ai.provider.name",
                "gen_ai.request.model",
                "gen_ai.response.model",
                "server.address",
                "server.port",
                "error.type",
            ],
        }
    }

    /// The span attribute key for the time to first chunk.
    const fn time_to_first_chunk_key(self) -> &'static str {
        match self {
            StreamKind::Generic => "tracewire.stream.time_to_first_chunk",
            StreamKind::ModelOutput => "gen_ai.response.time_to_first_chunk",
        }
    }
}

/// What a stream recorded up to one moment. Durations are in seconds; a value
/// that does not exist yet is `None`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamSnapshot {
    /// Chunks recorded.
    pub chunk_count: u64,
    /// Sum of the recorded chunk sizes, in bytes.
    pub bytes: u64,
    /// Earliest chunk offset from the start, in seconds; `None` without chunks.
    pub time_to_first_chunk: Option<f64>,
    /// Latest chunk offset from the start, in seconds; `None` without chunks.
    pub time_to_last_chunk: Option<f64>,
    /// Mean inter-chunk interval, in seconds; `None` with fewer than two chunks.
    pub interval_mean: Option<f64>,
    /// Median inter-chunk interval (nearest rank), in seconds.
    pub interval_p50: Option<f64>,
    /// 95th percentile inter-chunk interval (nearest rank), in seconds.
    pub interval_p95: Option<f64>,
    /// Largest inter-chunk interval, in seconds.
    pub interval_max: Option<f64>,
}

impl StreamSnapshot {
    /// The span attributes for this snapshot, named for `kind`, in the order
    /// of the table in the module docs. Values that are `None` are left out;
    /// the count and bytes are always present.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tracewire::{StreamKind, StreamMetrics, Value};
    /// let m = StreamMetrics::new(StreamKind::Generic);
    /// m.record_chunk_at(Duration::from_millis(5), 100);
    /// let attrs = m.snapshot().attributes(StreamKind::Generic);
    /// let keys: Vec<_> = attrs.iter().map(|kv| kv.key).collect();
    /// assert_eq!(keys, [
    ///     "tracewire.stream.chunk_count",
    ///     "tracewire.stream.bytes",
    ///     "tracewire.stream.time_to_first_chunk",
    ///     "tracewire.stream.time_to_last_chunk",
    /// ]);
    /// assert_eq!(attrs[1].value, Value::Int(100));
    /// ```
    pub fn attributes(&self, kind: StreamKind) -> Vec<KeyValue> {
        let mut out = Vec::with_capacity(8);
        out.push(KeyValue::new(
            "tracewire.stream.chunk_count",
            self.chunk_count,
        ));
        out.push(KeyValue::new("tracewire.stream.bytes", self.bytes));
        let optional = [
            (kind.time_to_first_chunk_key(), self.time_to_first_chunk),
            (
                "tracewire.stream.time_to_last_chunk",
                self.time_to_last_chunk,
            ),
            ("tracewire.stream.interval.mean", self.interval_mean),
            ("tracewire.stream.interval.p50", self.interval_p50),
            ("tracewire.stream.interval.p95", self.interval_p95),
            ("tracewire.stream.interval.max", self.interval_max),
        ];
        out.extend(
            optional
                .into_iter()
                .filter_map(|(key, v)| v.map(|v| KeyValue::new(key, v))),
        );
        out
    }
}

/// log2 of the first segment's length.
const FIRST_SHIFT: u32 = 5;
/// The first segment's length; segment `k` holds `FIRST_LEN << k` slots.
const FIRST_LEN: u64 = 1 << FIRST_SHIFT;
/// Enough segments to address every `u64` index (the last ones can never be
/// allocated, which `locate` and `segment` handle without panicking).
const SEGMENTS: usize = (64 - FIRST_SHIFT) as usize;

/// Where slot `index` lives: (segment, offset within it).
///
/// Shifting the index by `FIRST_LEN` makes segment `k` exactly the indices
/// whose shifted value has its top bit at `FIRST_SHIFT + k`.
#[inline]
fn locate(index: u64) -> Option<(usize, usize)> {
    let shifted = index.checked_add(FIRST_LEN)?;
    let top = 63 - shifted.leading_zeros();
    let segment = (top - FIRST_SHIFT) as usize;
    let offset = usize::try_from(shifted - (1u64 << top)).ok()?;
    Some((segment, offset))
}

/// The layout of segment `k`, or `None` if it cannot exist on this platform.
fn segment_layout(k: usize) -> Option<Layout> {
    let len = usize::try_from(FIRST_LEN.checked_shl(u32::try_from(k).ok()?)?).ok()?;
    if len == 0 {
        return None;
    }
    Layout::array::<AtomicU64>(len).ok()
}

/// Lock-free metrics for one stream of chunks. `Send + Sync`: share it by
/// reference or in an `Arc` and record from any thread.
///
/// Every chunk's timestamp is kept in an append-only, segmented array of
/// atomics, so snapshots can compute exact percentiles; memory grows by 8
/// bytes a chunk and is freed when the value is dropped.
pub struct StreamMetrics {
    kind: StreamKind,
    start: Instant,
    /// Chunks recorded; each recorder's `fetch_add` result is its slot index.
    count: AtomicU64,
    bytes: AtomicU64,
    /// Lazily allocated segments of slots. A slot holds the chunk's offset
    /// from `start` in nanoseconds plus one, so 0 means "not written yet".
    segments: [AtomicPtr<AtomicU64>; SEGMENTS],
}

impl StreamMetrics {
    /// A new stream whose clock starts now.
    pub fn new(kind: StreamKind) -> Self {
        Self::starting_at(kind, Instant::now())
    }

    /// A new stream whose clock started at `start`, typically when the request
    /// that opened the stream was sent. Chunks recorded before `start` (if it
    /// lies in the future) count as recorded at offset 0.
    ///
    /// ```
    /// use std::time::Instant;
    /// use tracewire::{StreamKind, StreamMetrics};
    /// let sent = Instant::now();
    /// // ... send the request, receive the first chunk ...
    /// let m = StreamMetrics::starting_at(StreamKind::ModelOutput, sent);
    /// m.record_chunk(42);
    /// assert!(m.snapshot().time_to_first_chunk.is_some());
    /// ```
    pub fn starting_at(kind: StreamKind, start: Instant) -> Self {
        StreamMetrics {
            kind,
            start,
            count: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            segments: [const { AtomicPtr::new(ptr::null_mut()) }; SEGMENTS],
        }
    }

    /// The stream kind.
    pub fn kind(&self) -> StreamKind {
        self.kind
    }

    /// The instant the stream's clock started.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Records one chunk of `bytes` bytes, now (on the monotonic clock).
    #[inline]
    pub fn record_chunk(&self, bytes: u64) {
        let elapsed = Instant::now().saturating_duration_since(self.start);
        self.record_chunk_at(elapsed, bytes);
    }

    /// Records one chunk of `bytes` bytes received (or sent) at `at`: for a
    /// transport that already read the clock for the frame, which saves the
    /// second clock read (the larger part of [`record_chunk`](Self::record_chunk)'s
    /// cost). An `at` before the start counts as offset 0.
    ///
    /// ```
    /// use std::time::Instant;
    /// use tracewire::{StreamKind, StreamMetrics};
    /// let m = StreamMetrics::new(StreamKind::Generic);
    /// let received = Instant::now();
    /// m.record_chunk_at_instant(received, 512);
    /// assert_eq!(m.snapshot().bytes, 512);
    /// ```
    #[inline]
    pub fn record_chunk_at_instant(&self, at: Instant, bytes: u64) {
        self.record_chunk_at(at.saturating_duration_since(self.start), bytes);
    }

    /// Records one chunk of `bytes` bytes at `elapsed` after the start: for
    /// replays and deterministic tests. Offsets need not be increasing; an
    /// interval that would be negative counts as 0.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tracewire::{StreamKind, StreamMetrics};
    /// let m = StreamMetrics::new(StreamKind::Generic);
    /// for ms in [10, 20, 40] {
    ///     m.record_chunk_at(Duration::from_millis(ms), 1);
    /// }
    /// let s = m.snapshot();
    /// assert_eq!(s.interval_p50, Some(0.01));
    /// assert_eq!(s.interval_mean, Some(0.015));
    /// ```
    #[inline]
    pub fn record_chunk_at(&self, elapsed: Duration, bytes: u64) {
        // The stored value is ns + 1 so that 0 can mean "not written yet"; an
        // offset beyond u64::MAX - 1 ns (584 years) is clamped.
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let stored = ns.saturating_add(1);
        let index = self.count.fetch_add(1, Ordering::Relaxed);
        // Counted before its bytes are added, and the add releases the count:
        // a snapshot, which reads the bytes (acquire) before the count, never
        // shows bytes of a chunk it does not count.
        self.bytes.fetch_add(bytes, Ordering::Release);
        if let Some(slot) = self.slot(index) {
            // Relaxed suffices: the value is self-contained, and the segment's
            // zeroed memory was published by the Release of its installation.
            slot.store(stored, Ordering::Relaxed);
        }
        // Without a slot (allocation failed) the chunk still counts, but its
        // timestamp is lost: snapshots skip it like an unwritten slot.
    }

    /// The slot for `index`, allocating its segment if needed.
    #[inline]
    fn slot(&self, index: u64) -> Option<&AtomicU64> {
        let (k, offset) = locate(index)?;
        let mut seg = self.segments.get(k)?.load(Ordering::Acquire);
        if seg.is_null() {
            seg = self.install_segment(k)?;
        }
        // SAFETY: `seg` is non-null, so it points to segment `k`, allocated
        // by `install_segment` with `FIRST_LEN << k` zero-initialised
        // `AtomicU64`s, and `offset < FIRST_LEN << k` by `locate`. The segment
        // is freed only in `drop`, which cannot run while `&self` is borrowed.
        Some(unsafe { &*seg.add(offset) })
    }

    /// Allocates segment `k` and installs it, or returns the one another
    /// thread installed first. `None` if the allocation is impossible or fails.
    #[cold]
    fn install_segment(&self, k: usize) -> Option<*mut AtomicU64> {
        let layout = segment_layout(k)?;
        // SAFETY: `layout` has a non-zero size (len > 0, AtomicU64 is 8
        // bytes). All-zero bytes are a valid `AtomicU64` holding 0.
        let fresh = unsafe { alloc::alloc_zeroed(layout) }.cast::<AtomicU64>();
        if fresh.is_null() {
            return None;
        }
        match self.segments.get(k)?.compare_exchange(
            ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => Some(fresh),
            Err(winner) => {
                // SAFETY: `fresh` was allocated just above with `layout` and
                // was never shared, since the exchange failed.
                unsafe { alloc::dealloc(fresh.cast(), layout) };
                Some(winner)
            }
        }
    }

    /// A view of what was recorded so far. Safe to call while other threads
    /// record: chunks whose timestamp is not written yet are left out of the
    /// durations (the count and bytes may already include them).
    pub fn snapshot(&self) -> StreamSnapshot {
        self.collect(|_| {})
    }

    /// The snapshot together with every inter-chunk interval in seconds, in
    /// recording order: the values for the [`MetricNames::chunk_interval`]
    /// histogram, consistent with the snapshot's statistics.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tracewire::{StreamKind, StreamMetrics};
    /// let m = StreamMetrics::new(StreamKind::ModelOutput);
    /// for ms in [100, 130, 150] {
    ///     m.record_chunk_at(Duration::from_millis(ms), 1);
    /// }
    /// let (snapshot, intervals) = m.snapshot_and_intervals();
    /// assert_eq!(intervals, [0.03, 0.02]);
    /// assert_eq!(snapshot.interval_max, Some(0.03));
    /// ```
    pub fn snapshot_and_intervals(&self) -> (StreamSnapshot, Vec<f64>) {
        let mut intervals = Vec::new();
        let snapshot = self.collect(|ns| {
            intervals.clear();
            intervals.extend(ns.iter().map(|&v| seconds(v)));
        });
        (snapshot, intervals)
    }

    /// Computes the snapshot; `intervals` sees the intervals in recording
    /// order (nanoseconds) before they are sorted.
    fn collect(&self, intervals: impl FnOnce(&[u64])) -> StreamSnapshot {
        // Bytes first: see record_chunk_at.
        let bytes = self.bytes.load(Ordering::Acquire);
        let chunk_count = self.count.load(Ordering::Relaxed);
        let stamps = self.timestamps(chunk_count);
        let mut snap = StreamSnapshot {
            chunk_count,
            bytes,
            time_to_first_chunk: stamps.iter().min().map(|&ns| seconds(ns)),
            time_to_last_chunk: stamps.iter().max().map(|&ns| seconds(ns)),
            ..StreamSnapshot::default()
        };
        let mut gaps: Vec<u64> = stamps
            .windows(2)
            .map(|w| w[1].saturating_sub(w[0]))
            .collect();
        intervals(&gaps);
        if gaps.is_empty() {
            return snap;
        }
        gaps.sort_unstable();
        let total: u128 = gaps.iter().map(|&g| u128::from(g)).sum();
        let k = gaps.len();
        snap.interval_mean = Some(total as f64 / k as f64 / 1e9);
        snap.interval_p50 = nearest_rank(&gaps, 50).map(seconds);
        snap.interval_p95 = nearest_rank(&gaps, 95).map(seconds);
        snap.interval_max = gaps.last().map(|&ns| seconds(ns));
        snap
    }

    /// The written timestamps (ns) of slots `0..count`, in slot order.
    fn timestamps(&self, count: u64) -> Vec<u64> {
        let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(1 << 24));
        let mut index = 0u64;
        for (k, segment) in self.segments.iter().enumerate() {
            if index >= count {
                break;
            }
            let Some(layout) = segment_layout(k) else {
                break;
            };
            let len = layout.size() / size_of::<AtomicU64>();
            let seg = segment.load(Ordering::Acquire);
            if seg.is_null() {
                // A recorder counted its chunk but has not installed the
                // segment yet: nothing in it is written.
                index = index.saturating_add(len as u64);
                continue;
            }
            let take = usize::try_from(count - index).map_or(len, |left| left.min(len));
            // SAFETY: a non-null segment pointer points to `len` initialised
            // `AtomicU64`s (see `install_segment`) that live until `drop`.
            let slots = unsafe { std::slice::from_raw_parts(seg.cast_const(), len) };
            out.extend(
                slots[..take]
                    .iter()
                    .map(|s| s.load(Ordering::Relaxed))
                    .filter(|&v| v != 0)
                    .map(|v| v - 1),
            );
            index = index.saturating_add(len as u64);
        }
        out
    }
}

/// The nearest-rank percentile `p` of ascending `sorted`: the value at index
/// `ceil(p * k / 100) - 1`, computed in integers so no rounding can shift it.
fn nearest_rank(sorted: &[u64], p: u64) -> Option<u64> {
    let k = sorted.len() as u64;
    let rank = (p * k).div_ceil(100).checked_sub(1)?;
    sorted.get(usize::try_from(rank).ok()?).copied()
}

/// Nanoseconds to seconds, the one conversion every language performs.
fn seconds(ns: u64) -> f64 {
    ns as f64 / 1e9
}

impl fmt::Debug for StreamMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamMetrics")
            .field("kind", &self.kind)
            .field("start", &self.start)
            .field("chunk_count", &self.count.load(Ordering::Relaxed))
            .field("bytes", &self.bytes.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Drop for StreamMetrics {
    fn drop(&mut self) {
        for (k, segment) in self.segments.iter_mut().enumerate() {
            let seg = *segment.get_mut();
            if seg.is_null() {
                continue;
            }
            if let Some(layout) = segment_layout(k) {
                // SAFETY: a non-null segment `k` was allocated by
                // `install_segment` with exactly this layout, and `&mut self`
                // guarantees no recorder or snapshot still uses it.
                unsafe { alloc::dealloc(seg.cast(), layout) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_maps_segments_of_doubling_size() {
        assert_eq!(locate(0), Some((0, 0)));
        assert_eq!(locate(31), Some((0, 31)));
        assert_eq!(locate(32), Some((1, 0)));
        assert_eq!(locate(95), Some((1, 63)));
        assert_eq!(locate(96), Some((2, 0)));
        assert_eq!(
            locate(u64::MAX - FIRST_LEN).map(|l| l.0),
            Some(SEGMENTS - 1)
        );
        assert_eq!(locate(u64::MAX), None);
    }

    #[test]
    fn nearest_rank_boundaries() {
        let v: Vec<u64> = (1..=20).collect();
        assert_eq!(nearest_rank(&v, 95), Some(19));
        let v: Vec<u64> = (1..=21).collect();
        assert_eq!(nearest_rank(&v, 95), Some(20));
        assert_eq!(nearest_rank(&[7], 50), Some(7));
        assert_eq!(nearest_rank(&[1, 2], 50), Some(1));
        assert_eq!(nearest_rank(&[], 50), None);
    }

    #[test]
    fn huge_offsets_clamp_instead_of_wrapping() {
        let m = StreamMetrics::new(StreamKind::Generic);
        m.record_chunk_at(Duration::MAX, 1);
        let s = m.snapshot();
        assert_eq!(s.time_to_first_chunk, Some(seconds(u64::MAX - 1)));
    }

    #[test]
    fn chunks_across_several_segments() {
        let m = StreamMetrics::new(StreamKind::Generic);
        for i in 0..1000u64 {
            m.record_chunk_at(Duration::from_nanos(i * 10), 1);
        }
        let (s, intervals) = m.snapshot_and_intervals();
        assert_eq!(s.chunk_count, 1000);
        assert_eq!(intervals.len(), 999);
        assert_eq!(s.interval_max, Some(1e-8));
        assert_eq!(s.time_to_last_chunk, Some(9990.0 / 1e9));
    }
}
