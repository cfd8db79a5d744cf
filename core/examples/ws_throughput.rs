//! Loopback throughput: 100k 1 KiB messages from a client to a server,
//! plain tokio-tungstenite against tracewire's traced stream, in one run.
//!
//! Variants: `plain` (no tracing), `propagation` (tracewire with the SDK's
//! always-off sampler: ids are made, context is injected into every frame
//! and extracted on the other side, nothing is recorded), and `sdk spans`
//! (every message recorded as a send and a process span, exported to a
//! discarding exporter). Run with `make bench` or
//! `cargo run --release --example ws_throughput --features tokio-tungstenite`.

use futures_util::{SinkExt, StreamExt};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData, SpanExporter};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tracewire::ws::{self, Config};

const MESSAGES: usize = 100_000;
const SIZE: usize = 1024;

/// Drops every batch: the cost measured is making and exporting spans, not I/O.
#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        std::hint::black_box(batch);
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Plain,
    Traced,
}

fn payload(text: bool) -> Message {
    if text {
        let mut s = String::from(r#"{"type":"chunk","data":""#);
        s.push_str(&"x".repeat(SIZE - s.len() - 2));
        s.push_str(r#""}"#);
        Message::text(s)
    } else {
        Message::binary(Bytes::from(vec![7u8; SIZE]))
    }
}

/// Sends MESSAGES messages and returns the time until the server has read them all.
async fn run(variant: Variant, config: Config, text: bool) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}/bench", listener.local_addr().expect("addr"));
    let server_config = config.clone();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        tcp.set_nodelay(true).ok();
        let mut n = 0;
        match variant {
            Variant::Plain => {
                let mut s = tokio_tungstenite::accept_async(tcp)
                    .await
                    .expect("handshake");
                while let Some(Ok(m)) = s.next().await {
                    if m.is_binary() || m.is_text() {
                        n += 1;
                        if n == MESSAGES {
                            break;
                        }
                    }
                }
            }
            Variant::Traced => {
                let mut s = ws::accept(tcp, &server_config).await.expect("handshake");
                while let Some(Ok(r)) = s.next().await {
                    if r.message.is_binary() || r.message.is_text() {
                        n += 1;
                        if n == MESSAGES {
                            break;
                        }
                    }
                }
            }
        }
        Instant::now()
    });
    let message = payload(text);
    let start;
    match variant {
        Variant::Plain => {
            let (mut c, _) = tokio_tungstenite::connect_async(url.as_str())
                .await
                .expect("connect");
            start = Instant::now();
            for _ in 0..MESSAGES {
                c.feed(message.clone()).await.expect("send");
            }
            c.flush().await.expect("flush");
            let end = server.await.expect("server");
            end - start
        }
        Variant::Traced => {
            let (mut c, _) = ws::connect(url.as_str(), &config).await.expect("connect");
            start = Instant::now();
            for _ in 0..MESSAGES {
                c.feed(message.clone()).await.expect("send");
            }
            c.flush().await.expect("flush");
            let end = server.await.expect("server");
            end - start
        }
    }
}

fn rate(d: Duration) -> f64 {
    MESSAGES as f64 / d.as_secs_f64()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let off = SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOff)
        .build();
    let on = SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOn)
        .with_batch_exporter(Discard)
        .build();
    println!(
        "== WebSocket loopback: {MESSAGES} messages of {SIZE} bytes, client -> server (best of 3)"
    );
    for text in [false, true] {
        let kind = if text { "JSON text" } else { "binary" };
        let mut best = [Duration::MAX; 3];
        for _ in 0..3 {
            let runs = [
                run(Variant::Plain, Config::default(), text).await,
                run(
                    Variant::Traced,
                    Config::default().tracer_provider(&off),
                    text,
                )
                .await,
                run(
                    Variant::Traced,
                    Config::default().tracer_provider(&on),
                    text,
                )
                .await,
            ];
            for (b, r) in best.iter_mut().zip(runs) {
                *b = (*b).min(r);
            }
        }
        let plain = rate(best[0]);
        println!("{kind:<10} plain tokio-tungstenite        {plain:>10.0} msg/s");
        for (label, d) in [
            ("tracewire propagation+envelope", best[1]),
            ("tracewire + SDK spans", best[2]),
        ] {
            let r = rate(d);
            println!(
                "{kind:<10} {label:<30} {r:>10.0} msg/s  = {:>5.1}% of plain",
                100.0 * r / plain
            );
        }
    }
    on.shutdown().ok();
}
