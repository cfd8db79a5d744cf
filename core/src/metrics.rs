//! PLACEHOLDER: stream metrics. Being written on branch `stream-metrics`.

use std::time::Duration;

/// What a stream carries, which decides the names its metrics are recorded under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// Any stream of chunks.
    Generic,
    /// A model's output (tokens, synthesized audio): GenAI metric names.
    ModelOutput,
}

/// Placeholder.
#[derive(Debug)]
pub struct StreamMetrics {
    kind: StreamKind,
}

/// Placeholder.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamSnapshot {
    /// Chunks recorded.
    pub chunk_count: u64,
}

impl StreamMetrics {
    /// A new stream whose clock starts now.
    pub fn new(kind: StreamKind) -> Self {
        StreamMetrics { kind }
    }
    /// The stream kind.
    pub fn kind(&self) -> StreamKind {
        self.kind
    }
    /// Records one chunk of `bytes` bytes, now.
    pub fn record_chunk(&self, bytes: u64) {
        let _ = bytes;
    }
    /// Records one chunk at `elapsed` after the start.
    pub fn record_chunk_at(&self, elapsed: Duration, bytes: u64) {
        let _ = (elapsed, bytes);
    }
    /// A consistent view of what was recorded so far.
    pub fn snapshot(&self) -> StreamSnapshot {
        StreamSnapshot::default()
    }
}
