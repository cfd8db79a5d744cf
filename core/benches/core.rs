//! Core benchmarks, with opentelemetry_sdk's propagator measured in the same
//! run on the same headers. After criterion's own output, a summary prints
//! each comparison as a ratio (read back from criterion's estimates).

use criterion::{BenchmarkId, Criterion, Throughput};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use std::collections::HashMap;
use std::hint::black_box;
use tracewire::envelope::{binary, json::JsonEnvelope};
use tracewire::otel::W3CPropagator;
use tracewire::{Baggage, TraceContext, TraceParent, TraceState};

const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TS8: &str = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,a1=x,b2=yy,c3@vendor=zzz,d4=1234,e5=abc,f6=00f067aa0ba902b7";
const BAG8: &str = "userId=alice,serverNode=DF%2028,isProduction=false,tenant=acme;ttl=30,region=eu-west-1,session=5f3c9a,feature=new-ui,locale=fr-FR";

fn headers(tracestate: bool) -> HashMap<String, String> {
    let mut h = HashMap::new();
    h.insert("traceparent".to_owned(), TP.to_owned());
    if tracestate {
        h.insert("tracestate".to_owned(), TS8.to_owned());
    }
    h
}

fn context() -> TraceContext {
    TraceContext {
        traceparent: TraceParent::parse(TP).ok(),
        tracestate: TraceState::parse(TS8).unwrap_or_default(),
        ..Default::default()
    }
}

/// [`context`] with eight baggage members, as a gateway forwards them.
fn context_with_baggage() -> TraceContext {
    TraceContext {
        baggage: Baggage::parse(BAG8).unwrap_or_default(),
        ..context()
    }
}

/// A JSON object of about `size` bytes, shaped like an application message.
fn json_object(size: usize) -> Vec<u8> {
    let mut s = String::from(r#"{"type":"transcript","seq":17,"items":["#);
    while s.len() + 40 < size {
        s.push_str(r#"{"w":"hello","t":0.25,"c":0.98},"#);
    }
    s.push_str(r#"{"w":"end","t":1.0,"c":1.0}]}"#);
    s.into_bytes()
}

fn traceparent(c: &mut Criterion) {
    let mut g = c.benchmark_group("traceparent");
    let tp = TraceParent::parse(TP).expect("valid");
    g.bench_function("parse/tracewire", |b| {
        b.iter(|| TraceParent::parse(black_box(TP)))
    });
    g.bench_function("format/tracewire", |b| b.iter(|| black_box(&tp).encode()));
    for (label, ts) in [("", false), ("+tracestate", true)] {
        let h = headers(ts);
        let sdk = TraceContextPropagator::new();
        g.bench_function(format!("extract{label}/opentelemetry_sdk"), |b| {
            b.iter(|| sdk.extract(black_box(&h)))
        });
        g.bench_function(format!("extract{label}/tracewire"), |b| {
            b.iter(|| W3CPropagator.extract(black_box(&h)))
        });
        let cx = sdk.extract(&h);
        g.bench_function(format!("inject{label}/opentelemetry_sdk"), |b| {
            b.iter(|| {
                let mut out = HashMap::new();
                sdk.inject_context(black_box(&cx), &mut out);
                out
            })
        });
        g.bench_function(format!("inject{label}/tracewire"), |b| {
            b.iter(|| {
                let mut out = HashMap::new();
                W3CPropagator.inject_context(black_box(&cx), &mut out);
                out
            })
        });
    }
    g.finish();
}

fn tracestate(c: &mut Criterion) {
    c.bench_function("tracestate/parse_8_members", |b| {
        b.iter(|| TraceState::parse(black_box(TS8)))
    });
    let ts = TraceState::parse(TS8).expect("valid");
    c.bench_function("tracestate/insert_update_8_members", |b| {
        b.iter(|| {
            let mut ts = ts.clone();
            ts.insert(black_box("d4"), "5678").ok();
            ts
        })
    });
}

fn baggage(c: &mut Criterion) {
    c.bench_function("baggage/parse_8_members", |b| {
        b.iter(|| Baggage::parse(black_box(BAG8)))
    });
    let bag = Baggage::parse(BAG8).expect("valid");
    c.bench_function("baggage/to_header_8_members", |b| {
        b.iter(|| black_box(&bag).to_header())
    });
    c.bench_function("baggage/insert_16_members", |b| {
        b.iter(|| {
            let mut bag = Baggage::new();
            for k in [
                "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p",
            ] {
                bag.insert(black_box(k), "value").ok();
            }
            bag
        })
    });
}

fn envelopes(c: &mut Criterion) {
    let ctx = context();
    // Extraction without the copy stripping costs, so json_extract keeps
    // measuring the scan alone (and stays comparable with earlier figures).
    let env = JsonEnvelope::default().strip_on_extract(false);
    let mut g = c.benchmark_group("envelope");
    for size in [1024usize, 64 * 1024] {
        let frame = json_object(size);
        let label = format!("{}KiB", size / 1024);
        g.throughput(Throughput::Bytes(frame.len() as u64));
        let mut out = Vec::with_capacity(frame.len() + 256);
        g.bench_with_input(BenchmarkId::new("memcpy", &label), &frame, |b, f| {
            b.iter(|| {
                out.clear();
                out.extend_from_slice(black_box(f));
                black_box(out.len())
            })
        });
        g.bench_with_input(BenchmarkId::new("json_inject", &label), &frame, |b, f| {
            b.iter(|| {
                env.inject_into(black_box(f), &ctx, &mut out).ok();
                black_box(out.len())
            })
        });
        let enveloped = env.inject(&frame, &ctx).expect("object");
        g.bench_with_input(
            BenchmarkId::new("json_extract", &label),
            &enveloped,
            |b, f| b.iter(|| env.extract(black_box(f)).context().is_some()),
        );
        let with_baggage = env.inject(&frame, &context_with_baggage()).expect("object");
        g.bench_with_input(
            BenchmarkId::new("json_extract+baggage", &label),
            &with_baggage,
            |b, f| b.iter(|| env.extract(black_box(f)).context().is_some()),
        );
        g.bench_with_input(BenchmarkId::new("binary_encode", &label), &frame, |b, f| {
            b.iter(|| binary::encode(&ctx, black_box(f)))
        });
        let bin = binary::encode(&ctx, &frame);
        g.bench_with_input(BenchmarkId::new("binary_decode", &label), &bin, |b, f| {
            b.iter(|| binary::decode(black_box(f)).context().is_some())
        });
    }
    g.finish();
}

/// Mean time of one benchmark in nanoseconds, from criterion's estimates.
fn mean_ns(id: &str) -> Option<f64> {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = dir.join("criterion").join(id).join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

fn summary() {
    println!(
        "\n== tracewire vs peers (mean per operation; ratio = peer / tracewire, >1 means faster) =="
    );
    let pair = |what: &str, ours: &str, peer: &str, target: &str| {
        if let (Some(a), Some(b)) = (mean_ns(ours), mean_ns(peer)) {
            println!(
                "{what:<52} {a:>10.1} ns  vs {b:>10.1} ns  ratio {:>6.2}x  (target {target})",
                b / a
            );
        }
    };
    pair(
        "traceparent parse vs sdk extract",
        "traceparent/parse_tracewire",
        "traceparent/extract_opentelemetry_sdk",
        ">= 3x",
    );
    pair(
        "traceparent format vs sdk inject",
        "traceparent/format_tracewire",
        "traceparent/inject_opentelemetry_sdk",
        ">= 3x",
    );
    pair(
        "propagator extract (Context)",
        "traceparent/extract_tracewire",
        "traceparent/extract_opentelemetry_sdk",
        "-",
    );
    pair(
        "propagator inject (Context)",
        "traceparent/inject_tracewire",
        "traceparent/inject_opentelemetry_sdk",
        "-",
    );
    pair(
        "propagator extract +tracestate",
        "traceparent/extract+tracestate_tracewire",
        "traceparent/extract+tracestate_opentelemetry_sdk",
        "-",
    );
    pair(
        "propagator inject +tracestate",
        "traceparent/inject+tracestate_tracewire",
        "traceparent/inject+tracestate_opentelemetry_sdk",
        "-",
    );
    for size in ["1KiB", "64KiB"] {
        if let (Some(inject), Some(copy)) = (
            mean_ns(&format!("envelope/json_inject/{size}")),
            mean_ns(&format!("envelope/memcpy/{size}")),
        ) {
            println!(
                "{:<52} {inject:>10.1} ns  vs {copy:>10.1} ns  = {:>6.2}x memcpy (target <= 2x at 64KiB)",
                format!("json inject {size} vs memcpy"),
                inject / copy
            );
        }
    }
    if let (Some(small), Some(large)) = (
        mean_ns("envelope/binary_decode/1KiB"),
        mean_ns("envelope/binary_decode/64KiB"),
    ) {
        println!(
            "{:<52} {small:>10.1} ns  vs {large:>10.1} ns  (target: independent of payload size)",
            "binary decode 1KiB vs 64KiB"
        );
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    traceparent(&mut c);
    tracestate(&mut c);
    baggage(&mut c);
    envelopes(&mut c);
    c.final_summary();
    summary();
}
