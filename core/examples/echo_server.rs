//! A traced WebSocket echo server.
//!
//! ```text
//! cargo run --example echo_server --features tokio-tungstenite,otlp -- 127.0.0.1:9001
//! ```
//!
//! Spans go to the OTLP/HTTP endpoint in `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (default `http://localhost:4318`); `MODEL=message` picks the model.

use futures_util::StreamExt;
use opentelemetry::trace::TraceContextExt;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tracewire::model::Model;
use tracewire::ws::{self, Config};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let telemetry = tracewire::otel::export::init_from_env()?;
    let model: Model = std::env::var("MODEL")
        .as_deref()
        .unwrap_or("connection")
        .parse()?;
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    let listener = TcpListener::bind(&addr).await?;
    println!("echo server on ws://{addr}/ ({} model)", model.as_str());
    let config = Config::default().model(model);
    let server = async {
        loop {
            let (tcp, peer) = listener.accept().await?;
            let config = config.clone();
            tokio::spawn(async move {
                let mut socket = match ws::accept(tcp, &config).await {
                    Ok(s) => s,
                    Err(e) => return eprintln!("{peer}: handshake failed: {e}"),
                };
                while let Some(Ok(received)) = socket.next().await {
                    if let m @ (Message::Text(_) | Message::Binary(_)) = received.message {
                        let trace_id = received.context.span().span_context().trace_id();
                        println!("{peer}: {} bytes in trace {trace_id}", m.len());
                        if socket.send_in(&received.context, m).await.is_err() {
                            break;
                        }
                    }
                }
            });
        }
        #[allow(unreachable_code)]
        Ok::<(), std::io::Error>(())
    };
    tokio::select! {
        r = server => r?,
        _ = tokio::signal::ctrl_c() => println!("shutting down"),
    }
    if let Err(e) = telemetry.shutdown() {
        eprintln!("telemetry export: {e}");
    }
    Ok(())
}
