//! `record_chunk` cost, uncontended and with two threads on one stream.
//!
//! A stream keeps 8 bytes per chunk, so the recording loops start a fresh
//! `StreamMetrics` every `BLOCK` chunks (at most 8 MiB each) and time only the
//! recording, not the creation or the drop.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};
use tracewire::{StreamKind, StreamMetrics};

const BLOCK: u64 = 1 << 20;

/// Times `iters` calls of `record` on fresh streams of at most `BLOCK` chunks.
fn timed_blocks(iters: u64, record: impl Fn(&StreamMetrics, u64)) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(BLOCK);
        let m = StreamMetrics::new(StreamKind::ModelOutput);
        let start = Instant::now();
        for i in 0..n {
            record(&m, i);
        }
        total += start.elapsed();
        drop(black_box(m));
        left -= n;
    }
    total
}

fn uncontended(c: &mut Criterion) {
    c.bench_function("record_chunk/uncontended", |b| {
        b.iter_custom(|iters| timed_blocks(iters, |m, _| m.record_chunk(black_box(64))))
    });
    // Without the clock read, to show what `Instant::now` costs on its own.
    c.bench_function("record_chunk_at/uncontended", |b| {
        b.iter_custom(|iters| {
            timed_blocks(iters, |m, i| {
                m.record_chunk_at(black_box(Duration::from_nanos(i)), black_box(64))
            })
        })
    });
    c.bench_function("instant_now", |b| b.iter(Instant::now));
}

fn two_threads(c: &mut Criterion) {
    // Each of two threads records `iters` chunks into the same stream; the
    // reported time per iteration is the slower thread's time per chunk.
    c.bench_function("record_chunk/2_threads_same_stream", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(BLOCK / 2);
                let m = Arc::new(StreamMetrics::new(StreamKind::ModelOutput));
                let barrier = Arc::new(Barrier::new(2));
                let workers: Vec<_> = (0..2)
                    .map(|_| {
                        let (m, barrier) = (Arc::clone(&m), Arc::clone(&barrier));
                        thread::spawn(move || {
                            barrier.wait();
                            let start = Instant::now();
                            for _ in 0..n {
                                m.record_chunk(black_box(64));
                            }
                            start.elapsed()
                        })
                    })
                    .collect();
                total += workers
                    .into_iter()
                    .map(|w| w.join().unwrap_or_default())
                    .max()
                    .unwrap_or_default();
                left -= n;
            }
            total
        })
    });
}

fn snapshot(c: &mut Criterion) {
    let m = StreamMetrics::new(StreamKind::ModelOutput);
    for i in 0..10_000u64 {
        m.record_chunk_at(Duration::from_micros(i * 20 + (i * 7919) % 13), 64);
    }
    c.bench_function("snapshot/10k_chunks", |b| {
        b.iter(|| black_box(&m).snapshot())
    });
}

criterion_group!(benches, uncontended, two_threads, snapshot);
criterion_main!(benches);
