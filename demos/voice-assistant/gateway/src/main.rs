//! `gateway`: the voice assistant's Rust service. Accepts devices on
//! `/voice` and, per session, streams their audio to asr, the transcript to
//! llm, llm's tokens to tts and tts's audio back, all traced with tracewire.
//! The service contract is in demos/README.md.
//!
//! ```text
//! gateway --asr ws://HOST:PORT/asr --llm ws://HOST:PORT/llm --tts ws://HOST:PORT/tts [--redis HOST:PORT] [--host 127.0.0.1] [--port 0]
//! ```
//!
//! With `--redis`, each finished turn is queued there for the archive worker
//! (see `archive`).

mod archive;
mod session;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tracewire::model::Model;
use tracewire::ws::{self, Config};

use session::{Gateway, Upstreams};

/// How long a stopping gateway waits for queued archive jobs to reach Redis.
const ARCHIVE_DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

const USAGE: &str = "usage: gateway --asr URL --llm URL --tts URL [--redis HOST:PORT] [--host 127.0.0.1] [--port 0]";

struct Options {
    host: String,
    port: u16,
    upstreams: Upstreams,
    /// Where the archive's Redis listens, if turns are archived.
    redis: Option<String>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let (mut host, mut port) = ("127.0.0.1".to_owned(), 0);
    let (mut asr, mut llm, mut tts, mut redis) = (None, None, None, None);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--host" => host = value()?,
            "--port" => {
                let v = value()?;
                port = v.parse().map_err(|e| format!("--port {v:?}: {e}"))?;
            }
            "--asr" => asr = Some(value()?),
            "--llm" => llm = Some(value()?),
            "--tts" => tts = Some(value()?),
            "--redis" => redis = Some(value()?),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let missing = |name: &str| format!("{name} is required\n{USAGE}");
    Ok(Options {
        host,
        port,
        upstreams: Upstreams {
            asr: asr.ok_or_else(|| missing("--asr"))?,
            llm: llm.ok_or_else(|| missing("--llm"))?,
            tts: tts.ok_or_else(|| missing("--tts"))?,
        },
        redis,
    })
}

fn model_from_env() -> Result<Model, String> {
    match std::env::var("TRACEWIRE_MODEL") {
        Err(_) => Ok(Model::Connection),
        Ok(value) => value
            .parse()
            .map_err(|e| format!("TRACEWIRE_MODEL={value:?}: {e}")),
    }
}

fn main() {
    if let Err(message) = start() {
        eprintln!("gateway: {message}");
        std::process::exit(1);
    }
}

fn start() -> Result<(), String> {
    let options = parse_args(std::env::args().skip(1))?;
    let model = model_from_env()?;
    let telemetry =
        tracewire::otel::export::init_from_env().map_err(|e| format!("telemetry: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let served = runtime.block_on(async {
        let (archive, pusher) = match &options.redis {
            Some(address) => {
                let (archive, pusher) = archive::connect(address).await?;
                (Some(archive), Some(pusher))
            }
            None => (None, None),
        };
        let gateway = Gateway::new(options.upstreams, Config::default().model(model), archive);
        let pushing = pusher.map(|pusher| tokio::spawn(pusher.run()));
        // `serve` drops the last reference to the gateway, hence to the
        // archive: the pusher then sends what is queued and stops.
        let served = serve(&options.host, options.port, Arc::new(gateway)).await;
        if let Some(pushing) = pushing
            && tokio::time::timeout(ARCHIVE_DRAIN_TIMEOUT, pushing)
                .await
                .is_err()
        {
            eprintln!(
                "gateway: archive: jobs still queued after {ARCHIVE_DRAIN_TIMEOUT:?} are dropped"
            );
        }
        served
    });
    // Sessions still open are dropped with the runtime; their spans end then.
    drop(runtime);
    // Telemetry that could not be delivered is worth a line, never a failed
    // exit: export failures were already reported and counted by tracewire.
    if let Err(e) = telemetry.shutdown() {
        eprintln!("gateway: telemetry shutdown: {e}");
    }
    served
}

async fn serve(host: &str, port: u16, gateway: Arc<Gateway>) -> Result<(), String> {
    let listener = TcpListener::bind((host, port))
        .await
        .map_err(|e| format!("cannot listen on {host}:{port}: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    println!("READY ws://{address}/voice");
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => { eprintln!("gateway: accept failed: {e}"); continue; }
                };
                let gateway = gateway.clone();
                sessions.spawn(async move {
                    let device = match ws::accept(tcp, &gateway.device).await {
                        Ok(device) => device,
                        Err(e) => return eprintln!("gateway: {peer}: handshake failed: {e}"),
                    };
                    let id = device.session_id().to_owned();
                    match session::run(&gateway, device).await {
                        Ok(()) => eprintln!("gateway: session {id} ended"),
                        Err(e) => eprintln!("gateway: session {id} failed: {e}"),
                    }
                });
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    sessions.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> impl Iterator<Item = String> {
        list.iter()
            .map(|s| (*s).to_owned())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn arguments_name_what_is_wrong() {
        let ok = parse_args(args(&[
            "--asr",
            "ws://a/asr",
            "--llm",
            "ws://l/llm",
            "--tts",
            "ws://t/tts",
            "--port",
            "9",
            "--redis",
            "127.0.0.1:6379",
        ]))
        .unwrap();
        assert_eq!(ok.redis.as_deref(), Some("127.0.0.1:6379"));
        assert_eq!(
            (ok.host.as_str(), ok.port, ok.upstreams.llm.as_str()),
            ("127.0.0.1", 9, "ws://l/llm")
        );
        let missing = parse_args(args(&["--asr", "ws://a/asr", "--llm", "ws://l/llm"]))
            .err()
            .unwrap();
        assert!(missing.starts_with("--tts is required"), "{missing}");
        let bad_port = parse_args(args(&["--port", "x"])).err().unwrap();
        assert!(bad_port.starts_with("--port \"x\""), "{bad_port}");
        let no_value = parse_args(args(&["--asr"])).err().unwrap();
        assert!(no_value.starts_with("--asr needs a value"), "{no_value}");
        let unknown = parse_args(args(&["--verbose"])).err().unwrap();
        assert!(
            unknown.starts_with("unknown argument \"--verbose\""),
            "{unknown}"
        );
    }
}
