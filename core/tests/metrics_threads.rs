//! Concurrent recording into one `StreamMetrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};
use tracewire::{StreamKind, StreamMetrics};

const fn assert_send_sync<T: Send + Sync>() {}
const _: () = assert_send_sync::<StreamMetrics>();

// Miri is slow: fewer chunks there, still across several segments.
const PER_THREAD: u64 = if cfg!(miri) { 200 } else { 10_000 };
const THREADS: u64 = 4;

#[test]
fn many_threads_count_bytes_and_intervals_exactly() {
    let m = Arc::new(StreamMetrics::new(StreamKind::Generic));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let m = Arc::clone(&m);
            thread::spawn(move || {
                for i in 0..PER_THREAD {
                    m.record_chunk(t + i % 7);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("recorder thread");
    }
    let (s, intervals) = m.snapshot_and_intervals();
    let n = THREADS * PER_THREAD;
    let bytes: u64 = (0..THREADS)
        .map(|t| (0..PER_THREAD).map(|i| t + i % 7).sum::<u64>())
        .sum();
    assert_eq!(s.chunk_count, n);
    assert_eq!(s.bytes, bytes);
    assert_eq!(intervals.len() as u64, n - 1);
    assert!(intervals.iter().all(|&v| v >= 0.0));
    let (first, last) = (
        s.time_to_first_chunk.expect("first"),
        s.time_to_last_chunk.expect("last"),
    );
    assert!(0.0 <= first && first <= last);
    let (p50, p95, max) = (
        s.interval_p50.expect("p50"),
        s.interval_p95.expect("p95"),
        s.interval_max.expect("max"),
    );
    assert!(p50 <= p95 && p95 <= max);
}

#[test]
fn explicit_offsets_from_many_threads_keep_every_timestamp() {
    let m = Arc::new(StreamMetrics::new(StreamKind::ModelOutput));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let m = Arc::clone(&m);
            thread::spawn(move || {
                for i in 0..PER_THREAD {
                    m.record_chunk_at(Duration::from_nanos(1 + t * PER_THREAD + i), 1);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("recorder thread");
    }
    let s = m.snapshot();
    assert_eq!(s.chunk_count, THREADS * PER_THREAD);
    assert_eq!(s.bytes, THREADS * PER_THREAD);
    assert_eq!(s.time_to_first_chunk, Some(1e-9));
    assert_eq!(
        s.time_to_last_chunk,
        Some((THREADS * PER_THREAD) as f64 / 1e9)
    );
}

#[test]
fn snapshots_while_recording_are_sane() {
    let m = Arc::new(StreamMetrics::new(StreamKind::Generic));
    let done = Arc::new(AtomicBool::new(false));
    let recorders: Vec<_> = (0..2)
        .map(|_| {
            let m = Arc::clone(&m);
            thread::spawn(move || {
                for _ in 0..PER_THREAD {
                    m.record_chunk(3);
                }
            })
        })
        .collect();
    let reader = {
        let (m, done) = (Arc::clone(&m), Arc::clone(&done));
        thread::spawn(move || {
            let mut seen = 0;
            let mut snapshots = 0u32;
            while !done.load(Ordering::Acquire) || snapshots == 0 {
                let (s, intervals) = m.snapshot_and_intervals();
                // Count and bytes only grow; a timestamp not yet written is
                // skipped, so there are at most count - 1 intervals.
                assert!(s.chunk_count >= seen);
                assert!(s.bytes <= 3 * s.chunk_count);
                assert!(intervals.len() as u64 <= s.chunk_count.saturating_sub(1));
                assert!(intervals.iter().all(|&v| v >= 0.0));
                seen = s.chunk_count;
                snapshots += 1;
            }
        })
    };
    for h in recorders {
        h.join().expect("recorder thread");
    }
    done.store(true, Ordering::Release);
    reader.join().expect("reader thread");
    let s = m.snapshot();
    assert_eq!(s.chunk_count, 2 * PER_THREAD);
    assert_eq!(s.bytes, 6 * PER_THREAD);
}

#[test]
fn starting_at_an_earlier_instant_counts_from_it() {
    let Some(sent) = Instant::now().checked_sub(Duration::from_millis(50)) else {
        return;
    };
    let m = StreamMetrics::starting_at(StreamKind::ModelOutput, sent);
    assert_eq!(m.start(), sent);
    m.record_chunk(1);
    let ttfc = m.snapshot().time_to_first_chunk.expect("first chunk");
    assert!(ttfc >= 0.05, "{ttfc}");
}

#[test]
fn a_start_in_the_future_saturates_to_zero() {
    let m = StreamMetrics::starting_at(
        StreamKind::Generic,
        Instant::now() + Duration::from_secs(3600),
    );
    m.record_chunk(1);
    assert_eq!(m.snapshot().time_to_first_chunk, Some(0.0));
}
