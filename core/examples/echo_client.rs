//! A traced WebSocket echo client: sends a few messages inside one span and
//! prints the trace id they share.
//!
//! ```text
//! cargo run --example echo_client --features tokio-tungstenite,otlp -- ws://127.0.0.1:9001/echo
//! ```

use futures_util::StreamExt;
use opentelemetry::trace::{TraceContextExt, Tracer};
use opentelemetry::{Context, global};
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tracewire::model::Model;
use tracewire::ws::{self, Config};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let telemetry = tracewire::otel::export::init_from_env()?;
    let model: Model = std::env::var("MODEL")
        .as_deref()
        .unwrap_or("connection")
        .parse()?;
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001/echo".to_owned());
    let span = global::tracer("echo_client").start("echo session");
    let cx = Context::new().with_span(span);
    let (mut socket, _) = {
        let _guard = cx.clone().attach();
        ws::connect(url.as_str(), &Config::default().model(model)).await?
    };
    println!(
        "connected, envelopes {:?}, session {}",
        socket.envelopes(),
        socket.session_id()
    );
    let messages = [
        Message::text(r#"{"text":"hello"}"#),
        Message::binary(Bytes::from_static(b"\x01\x02\x03 audio")),
    ];
    for m in messages {
        socket.send_in(&cx, m).await?;
        if let Some(reply) = socket.next().await {
            let reply = reply?;
            println!(
                "echo {:?} in trace {}",
                reply.message,
                reply.context.span().span_context().trace_id()
            );
        }
    }
    socket.close(None).await?;
    while socket.next().await.is_some() {}
    println!("trace id {}", cx.span().span_context().trace_id());
    cx.span().end();
    if let Err(e) = telemetry.shutdown() {
        eprintln!("telemetry export: {e}");
    }
    Ok(())
}
