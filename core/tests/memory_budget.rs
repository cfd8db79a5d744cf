//! Memory budgets: adversarial inputs of 1, 16 and 60 MiB through every
//! decoder and through the traced server on loopback, with the heap measured
//! by a counting global allocator (this test binary only).
//!
//! Each case asserts a peak heap, above what was live before it started, of
//! at most 4x its input (most stay within the fixed budgets of
//! `tracewire::limits`, whatever the input) and a bounded time. The figures
//! are printed (`cargo test --test memory_budget -- --nocapture`).
//!
//! Everything runs in one test function: the allocator counts every thread,
//! so cases must not overlap.
#![cfg(feature = "tokio-tungstenite")]

use futures_util::StreamExt;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracewire::envelope::{binary, json::JsonEnvelope};
use tracewire::handshake::{self, AppProtocols, Envelopes, ServerHandshake};
use tracewire::ws::{self, Config};
use tracewire::{Baggage, TraceContext, TraceParent, TraceState};

/// Counts live heap bytes and their high-water mark.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = CURRENT.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call forwards to `System` with the caller's arguments; the
// counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns the peak heap it added above what was live before,
/// and how long it took.
fn measure(f: impl FnOnce()) -> (usize, Duration) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let start = Instant::now();
    f();
    let took = start.elapsed();
    (PEAK.load(Ordering::Relaxed).saturating_sub(base), took)
}

const MIB: usize = 1 << 20;
const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// `k0=v,k1=v,...` of about `size` bytes: as many distinct members as fit.
fn members(size: usize) -> String {
    let mut s = String::with_capacity(size + 16);
    let mut i = 0;
    while s.len() < size {
        s.push_str(&format!("k{i}=v,"));
        i += 1;
    }
    s.truncate(size);
    s
}

/// The same, percent-encoded for a query string.
fn members_encoded(size: usize) -> String {
    let mut s = String::with_capacity(size + 16);
    let mut i = 0;
    while s.len() < size {
        s.push_str(&format!("k{i}%3Dv%2C"));
        i += 1;
    }
    s.truncate(size);
    s
}

fn padded(prefix: &str, fill: &str, suffix: &str, size: usize) -> String {
    let n = size.saturating_sub(prefix.len() + suffix.len()) / fill.len();
    let mut s = String::with_capacity(size);
    s.push_str(prefix);
    for _ in 0..n {
        s.push_str(fill);
    }
    s.push_str(suffix);
    s
}

struct Row {
    case: String,
    input: usize,
    peak: usize,
    took: Duration,
    note: String,
}

/// Decoder cases of about `size` bytes each.
fn decoder_cases(size: usize, rows: &mut Vec<Row>) {
    let mut run = |case: &str, input: usize, f: &mut dyn FnMut() -> String| {
        let mut note = String::new();
        let (peak, took) = measure(|| note = f());
        rows.push(Row {
            case: case.to_owned(),
            input,
            peak,
            took,
            note,
        });
    };

    let tp = padded(
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
        "a",
        "",
        size,
    );
    run("traceparent (future version)", tp.len(), &mut || {
        format!("{:?}", TraceParent::parse(&tp).map(|_| ()))
    });
    drop(tp);

    let ts = padded("a=1", ",", "", size);
    run("tracestate (empty members)", ts.len(), &mut || {
        format!("{:?}", TraceState::parse(&ts).map(|t| t.len()))
    });
    drop(ts);

    let bag = members(size);
    run("baggage (distinct members)", bag.len(), &mut || {
        format!("{:?}", Baggage::parse(&bag).map(|b| b.len()))
    });
    drop(bag);

    let bag = padded("k=v", ";p=v", "", size);
    run("baggage (properties)", bag.len(), &mut || {
        format!("{:?}", Baggage::parse(&bag).map(|b| b.len()))
    });
    drop(bag);

    let env = JsonEnvelope::default();
    let outcome = |d: &tracewire::Decoded<'_>| match d {
        tracewire::Decoded::Plain(_) => "plain".to_owned(),
        tracewire::Decoded::Malformed(e, _) => format!("malformed: {e}"),
        tracewire::Decoded::Enveloped(ctx, p) => format!(
            "enveloped, {} baggage, {} tracestate, payload {} B",
            ctx.baggage.len(),
            ctx.tracestate.len(),
            p.len()
        ),
    };
    let frame = format!(
        "{{\"tracewire\":{{\"traceparent\":\"{TP}\",\"baggage\":\"{}\"}}}}",
        members(size)
    );
    run("json: baggage member", frame.len(), &mut || {
        outcome(&env.extract(frame.as_bytes()))
    });
    drop(frame);

    let frame = padded(
        &format!("{{\"tracewire\":{{\"traceparent\":\"{TP}\",\"tracestate\":\""),
        "\\u0061",
        "\"}}",
        size,
    );
    run("json: escaped tracestate member", frame.len(), &mut || {
        outcome(&env.extract(frame.as_bytes()))
    });
    drop(frame);

    let frame = padded(
        "{\"",
        "\\u0061",
        &format!("\":1,\"tracewire\":{{\"traceparent\":\"{TP}\"}}}}"),
        size,
    );
    run("json: escaped member name", frame.len(), &mut || {
        outcome(&env.extract(frame.as_bytes()))
    });
    drop(frame);

    let frame = padded(
        &format!("{{\"tracewire\":{{\"traceparent\":\"{TP}\"}},\"data\":\""),
        "x",
        "\"}",
        size,
    );
    run("json: payload (stripped copy)", frame.len(), &mut || {
        outcome(&env.extract(frame.as_bytes()))
    });
    drop(frame);

    let frame = padded("{\"data\":[", "[1],", "[1]]}", size);
    run("json: plain payload", frame.len(), &mut || {
        outcome(&env.extract(frame.as_bytes()))
    });
    drop(frame);

    // A binary envelope declaring the longest fields, then the payload.
    let mut frame = vec![0xF5, 0x54, 0x57, 1, 0x07];
    frame.extend_from_slice(&[0x4b; 16]);
    frame.extend_from_slice(&[0x01; 8]);
    frame.push(1);
    let ts = padded("a=1", ",", "", 65535);
    let bag = members(65535);
    for field in [&ts, &bag] {
        frame.extend_from_slice(&(field.len() as u16).to_be_bytes());
        frame.extend_from_slice(field.as_bytes());
    }
    frame.resize(size.max(frame.len()), b'x');
    run("binary: longest fields + payload", frame.len(), &mut || {
        outcome(&binary::decode(&frame))
    });
    run("carrier", frame.len(), &mut || {
        format!("{:?}", TraceContext::from_carrier(&frame).map(|_| ()))
    });
    drop(frame);

    let headers = vec![
        ("traceparent".to_owned(), TP.to_owned()),
        ("tracestate".to_owned(), padded("a=1", ",", "", size / 2)),
        ("baggage".to_owned(), members(size / 2)),
    ];
    run("handshake: headers", size, &mut || {
        let (ctx, issues) = handshake::extract(&headers, None);
        format!("{} baggage, {} issues", ctx.baggage.len(), issues.len())
    });
    drop(headers);

    let query = format!(
        "traceparent={TP}&tracestate={}&baggage={}",
        padded("a%3D1", "%2C", "", size / 2),
        members_encoded(size / 2)
    );
    let none: Vec<(String, String)> = Vec::new();
    run("handshake: query", query.len(), &mut || {
        let (ctx, issues) = handshake::extract(&none, Some(&query));
        format!("{} baggage, {} issues", ctx.baggage.len(), issues.len())
    });
    drop(query);

    let query = padded("tracewire-session=", "a", "&x=1", size);
    let headers = vec![("tracewire-session".to_owned(), "b".repeat(size / 2))];
    run("handshake: session id", query.len() + size / 2, &mut || {
        let hs = ServerHandshake::from_request(
            &headers,
            Some(&query),
            Envelopes::ALL,
            &AppProtocols::default(),
        );
        format!("session {} chars", hs.session_id.len())
    });
}

/// Sends one text message of `size` bytes (a JSON envelope around filler),
/// in frames of at most 1 MiB, from a raw client that streams it from a
/// 64 KiB buffer, to a traced server with the default configuration.
/// Returns what the server's stream yielded.
async fn send_to_server(size: usize) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut stream = ws::accept(tcp, &Config::default())
            .await
            .expect("handshake");
        let got = match stream.next().await {
            Some(Ok(r)) => format!("delivered {} B", r.message.len()),
            Some(Err(e)) => format!("rejected: {e}"),
            None => "closed".to_owned(),
        };
        drop(stream);
        got
    };
    let client = async move {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let request = format!(
            "GET /chat HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             traceparent: {TP}\r\nSec-WebSocket-Protocol: tracewire.v1.json\r\n\r\n"
        );
        tcp.write_all(request.as_bytes()).await.expect("request");
        let mut response = Vec::new();
        let mut byte = [0u8; 1];
        while !response.ends_with(b"\r\n\r\n") {
            if tcp.read(&mut byte).await.unwrap_or(0) == 0 {
                return;
            }
            response.push(byte[0]);
        }
        let prefix = format!("{{\"tracewire\":{{\"traceparent\":\"{TP}\"}},\"x\":\"");
        let suffix = b"\"}";
        let byte_at = |i: usize| {
            if i < prefix.len() {
                prefix.as_bytes()[i]
            } else if i >= size - suffix.len() {
                suffix[i - (size - suffix.len())]
            } else {
                b'a'
            }
        };
        let mut buf = vec![0u8; 64 * 1024];
        let mut sent = 0;
        while sent < size {
            let len = (size - sent).min(MIB);
            let opcode = if sent == 0 { 0x1 } else { 0x0 };
            let fin = if sent + len == size { 0x80 } else { 0 };
            // Masked with a zero key: the payload goes out unchanged.
            let mut header = vec![fin | opcode, 0x80 | 127];
            header.extend_from_slice(&(len as u64).to_be_bytes());
            header.extend_from_slice(&[0, 0, 0, 0]);
            if tcp.write_all(&header).await.is_err() {
                return;
            }
            let mut done = 0;
            while done < len {
                let n = (len - done).min(buf.len());
                for (j, b) in buf[..n].iter_mut().enumerate() {
                    *b = byte_at(sent + done + j);
                }
                if tcp.write_all(&buf[..n]).await.is_err() {
                    return;
                }
                done += n;
            }
            sent += len;
        }
        // Wait for the server to hang up.
        let _ = tcp.read(&mut byte).await;
    };
    let (got, ()) = tokio::join!(server, client);
    got
}

#[test]
fn adversarial_inputs_stay_within_budget() {
    let mut rows = Vec::new();
    // `TRACEWIRE_MEMORY_MIB=1,16` runs fewer sizes (e.g. to measure an
    // unbounded build without running out of memory).
    let sizes: Vec<usize> = std::env::var("TRACEWIRE_MEMORY_MIB")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 16, 60]);
    for size in sizes.into_iter().map(|n: usize| n * MIB) {
        decoder_cases(size, &mut rows);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut note = String::new();
        let (peak, took) = measure(|| note = runtime.block_on(send_to_server(size)));
        rows.push(Row {
            case: "ws server: one text message".to_owned(),
            input: size,
            peak,
            took,
            note,
        });
    }

    println!(
        "\n{:<36} {:>9} {:>13} {:>8} {:>9}  outcome",
        "case", "input", "peak heap B", "peak/in", "ms"
    );
    let mut failures = Vec::new();
    for r in &rows {
        let ratio = r.peak as f64 / r.input as f64;
        println!(
            "{:<36} {:>6} MiB {:>13} {:>8.3} {:>9.1}  {}",
            r.case,
            r.input / MIB,
            r.peak,
            ratio,
            r.took.as_secs_f64() * 1e3,
            r.note
        );
        if r.peak > 4 * r.input {
            failures.push(format!("{} at {} B: peak {} B", r.case, r.input, r.peak));
        }
        // Generous for unoptimised test builds on a shared machine; the
        // unbounded code took seconds per case.
        if r.took > Duration::from_secs(10) {
            failures.push(format!("{} at {} B: {:?}", r.case, r.input, r.took));
        }
    }
    // Past the 1 MiB case, the server must refuse the message, not buffer it.
    for r in rows
        .iter()
        .filter(|r| r.case.starts_with("ws server") && r.input > MIB)
    {
        if !r.note.starts_with("rejected") || r.peak > 8 * MIB {
            failures.push(format!(
                "{} at {} B: {} ({} B)",
                r.case, r.input, r.note, r.peak
            ));
        }
    }
    // Decoders must stay within a fixed budget, not merely 4x their input.
    for r in rows.iter().filter(|r| !r.case.starts_with("ws server")) {
        // Stripping hands the application a copy of its payload, the only
        // allocation allowed to follow the input (here the whole frame).
        let proportional_ok = r.note.contains("payload") && r.case.starts_with("json");
        if !proportional_ok && r.peak > 2 * MIB {
            failures.push(format!(
                "{} at {} B: peak {} B is not bounded",
                r.case, r.input, r.peak
            ));
        }
    }
    assert!(failures.is_empty(), "over budget:\n{}", failures.join("\n"));
}
