//! The turn archive: a queue hop through Redis. At the end of each turn the
//! gateway pushes a job (the turn's transcript and answer) onto the Redis
//! list [`QUEUE`] with `LPUSH`; the archive worker (Python,
//! `demos/voice-assistant/python/archive.py`) pops it with `BRPOP`.
//!
//! Each job is sent inside a `send voice-assistant.archive` PRODUCER span
//! (the OpenTelemetry messaging conventions: the send span's context is the
//! message's creation context) and carries that context as tracewire's
//! queue carrier (docs/PROTOCOL.md section 6), hex-encoded in the job's
//! JSON, so the worker's `process` span joins the turn's trace.
//!
//! Redis is spoken directly (RESP over one TCP connection): the gateway
//! needs two commands, fewer lines than a client crate costs in build time.
//! A Redis that fails never fails a turn: the send span records the error,
//! the first failure is reported on stderr and the rest are counted.

use std::time::Duration;

use opentelemetry::trace::{SpanBuilder, SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracewire::TraceContext;

/// The Redis list the jobs go to: the messaging destination.
pub const QUEUE: &str = "voice-assistant.archive";

/// How long connecting to Redis, and each command's reply, may take.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// The producer side, shared by every session: queues jobs for the
/// [`Pusher`] without waiting for Redis.
pub struct Archive {
    host: String,
    port: u16,
    tracer: opentelemetry::global::BoxedTracer,
    jobs: mpsc::UnboundedSender<Job>,
}

/// The task that owns the Redis connection and sends the queued jobs in
/// order. Its [`run`](Self::run) ends once every [`Archive`] is dropped and
/// the queued jobs are sent.
pub struct Pusher {
    address: String,
    connection: Option<BufStream<TcpStream>>,
    jobs: mpsc::UnboundedReceiver<Job>,
    failures: u64,
}

/// One job: its JSON body and the context of its `send` span, which ends
/// when Redis has answered.
struct Job {
    send: Context,
    body: Vec<u8>,
}

/// The archive for the Redis at `address` (`HOST:PORT`), once Redis answers
/// a `PING` there: a gateway started with an unreachable Redis says so
/// instead of losing every job.
pub async fn connect(address: &str) -> Result<(Archive, Pusher), String> {
    let (host, port) = address
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
        .ok_or_else(|| format!("--redis {address:?}: expected HOST:PORT"))?;
    let (jobs, queued) = mpsc::unbounded_channel();
    let mut pusher = Pusher {
        address: address.to_owned(),
        connection: None,
        jobs: queued,
        failures: 0,
    };
    pusher
        .command(&[b"PING"])
        .await
        .map_err(|e| format!("cannot reach redis at {address}: {e}"))?;
    let archive = Archive {
        host: host.trim_matches(['[', ']']).to_owned(),
        port,
        tracer: opentelemetry::global::tracer("gateway"),
        jobs,
    };
    Ok((archive, pusher))
}

impl Archive {
    /// Queues the job of one finished turn, in a `send` span under `turn`
    /// (the turn's `invoke_agent` span).
    pub fn enqueue(
        &self,
        turn: &Context,
        session: &str,
        number: i64,
        transcript: &str,
        answer: &str,
    ) {
        let span = self.tracer.build_with_context(
            SpanBuilder::from_name(format!("send {QUEUE}"))
                .with_kind(SpanKind::Producer)
                .with_attributes([
                    KeyValue::new("messaging.system", "redis"),
                    KeyValue::new("messaging.operation.type", "send"),
                    KeyValue::new("messaging.operation.name", "send"),
                    KeyValue::new("messaging.destination.name", QUEUE),
                    KeyValue::new("server.address", self.host.clone()),
                    KeyValue::new("server.port", i64::from(self.port)),
                    KeyValue::new("demo.turn", number),
                ]),
            turn,
        );
        let send = turn.with_span(span);
        let carrier = TraceContext::from_otel_context(&send).to_carrier();
        let body = json!({
            "session": session,
            "turn": number,
            "transcript": transcript,
            "answer": answer,
            "carrier": hex(&carrier),
        })
        .to_string()
        .into_bytes();
        send.span().set_attribute(KeyValue::new(
            "messaging.message.body.size",
            body.len() as i64,
        ));
        // Fails only once the pusher has stopped (the gateway is stopping);
        // the span then ends unsent, with the job.
        if let Err(mpsc::error::SendError(job)) = self.jobs.send(Job { send, body }) {
            fail(&job.send, "the gateway is stopping");
        }
    }
}

impl Pusher {
    /// Sends the queued jobs until every [`Archive`] is dropped; returns
    /// how many failed.
    pub async fn run(mut self) -> u64 {
        while let Some(job) = self.jobs.recv().await {
            match self.command(&[b"LPUSH", QUEUE.as_bytes(), &job.body]).await {
                Ok(_) => job.send.span().end(),
                Err(e) => {
                    self.failures += 1;
                    if self.failures == 1 {
                        eprintln!(
                            "gateway: archive: a job was not queued in redis at {}: {e}; later failures are only counted",
                            self.address
                        );
                    }
                    fail(&job.send, &e);
                }
            }
        }
        if self.failures > 0 {
            eprintln!(
                "gateway: archive: {} jobs were not queued in redis",
                self.failures
            );
        }
        self.failures
    }

    /// Runs one command and returns Redis's one-line reply (`+OK`, `:1`);
    /// an error reply, a closed connection or a timeout is an error, and the
    /// next command connects again.
    async fn command(&mut self, args: &[&[u8]]) -> Result<String, String> {
        let reply = tokio::time::timeout(REDIS_TIMEOUT, self.exchange(args))
            .await
            .unwrap_or_else(|_| Err(format!("no reply within {REDIS_TIMEOUT:?}")));
        if reply.is_err() {
            self.connection = None;
        }
        reply
    }

    async fn exchange(&mut self, args: &[&[u8]]) -> Result<String, String> {
        let connection = match &mut self.connection {
            Some(connection) => connection,
            None => {
                let tcp = TcpStream::connect(&self.address)
                    .await
                    .map_err(|e| e.to_string())?;
                // Each job is one small write; Nagle would hold it back.
                tcp.set_nodelay(true).map_err(|e| e.to_string())?;
                self.connection.insert(BufStream::new(tcp))
            }
        };
        connection
            .write_all(&resp_command(args))
            .await
            .map_err(|e| e.to_string())?;
        connection.flush().await.map_err(|e| e.to_string())?;
        let mut line = String::new();
        connection
            .read_line(&mut line)
            .await
            .map_err(|e| e.to_string())?;
        match line.trim_end().split_at_checked(1) {
            Some(("+" | ":", value)) => Ok(value.to_owned()),
            Some(("-", error)) => Err(format!("redis answered {error}")),
            None => Err("redis closed the connection".to_owned()),
            Some(_) => Err(format!("unexpected reply {:.80}", line.trim_end())),
        }
    }
}

/// Ends a send span that failed, with the reason and `error.type`.
fn fail(send: &Context, reason: &str) {
    let span = send.span();
    span.set_attribute(KeyValue::new("error.type", "redis_error"));
    span.set_status(Status::error(reason.to_owned()));
    span.end();
}

/// A command as RESP: an array of bulk strings.
fn resp_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, TraceFlags, TraceState};
    use std::process::{Child, Command, Stdio};

    #[test]
    fn commands_are_resp_arrays_of_bulk_strings() {
        assert_eq!(
            resp_command(&[b"LPUSH", b"q", b"a\r\nb"]),
            b"*3\r\n$5\r\nLPUSH\r\n$1\r\nq\r\n$4\r\na\r\nb\r\n"
        );
    }

    /// A `redis-server` of the test's own on a free loopback port, nothing
    /// persisted; killed when dropped.
    struct RedisServer {
        child: Child,
        address: String,
        _dir: TempDir,
    }

    /// A directory removed when dropped.
    struct TempDir(std::path::PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    impl RedisServer {
        async fn start() -> RedisServer {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            let dir =
                std::env::temp_dir().join(format!("gateway-redis-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let child = Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                ])
                .args(["--appendonly", "no", "--dir"])
                .arg(&dir)
                .stdout(Stdio::null())
                .spawn()
                .expect(
                    "redis-server is not installed (Debian, Ubuntu: apt-get install redis-server)",
                );
            let server = RedisServer {
                child,
                address: format!("127.0.0.1:{port}"),
                _dir: TempDir(dir),
            };
            for _ in 0..200 {
                if server.command(&[b"PING"]).await.is_ok() {
                    return server;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            panic!("redis-server did not answer on {}", server.address);
        }

        /// One command on a connection of its own (a test's view of Redis).
        async fn command(&self, args: &[&[u8]]) -> Result<String, String> {
            let (_jobs, queued) = mpsc::unbounded_channel();
            let mut client = Pusher {
                address: self.address.clone(),
                connection: None,
                jobs: queued,
                failures: 0,
            };
            client.command(args).await
        }

        async fn pop(&self) -> serde_json::Value {
            let mut tcp = BufStream::new(TcpStream::connect(&self.address).await.unwrap());
            tcp.write_all(&resp_command(&[b"RPOP", QUEUE.as_bytes()]))
                .await
                .unwrap();
            tcp.flush().await.unwrap();
            let (mut header, mut body) = (String::new(), String::new());
            tcp.read_line(&mut header).await.unwrap();
            tcp.read_line(&mut body).await.unwrap();
            assert!(header.starts_with('$'), "{header}");
            serde_json::from_str(body.trim_end()).unwrap()
        }
    }

    impl Drop for RedisServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    #[tokio::test]
    async fn a_turn_is_queued_with_its_context_as_the_carrier() {
        let redis = RedisServer::start().await;
        let (archive, pusher) = connect(&redis.address).await.unwrap();
        let turn = Context::new().with_remote_span_context(SpanContext::new(
            0x4bf92f3577b34da6a3ce929d0e0e4736.into(),
            0x00f067aa0ba902b7.into(),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        ));
        archive.enqueue(&turn, "s-1", 2, "and tomorrow", "tomorrow brings rain");
        // Dropping the last archive lets the pusher finish the queue and stop.
        drop(archive);
        pusher.run().await;

        let job = redis.pop().await;
        assert_eq!(
            (
                &job["session"],
                &job["turn"],
                &job["transcript"],
                &job["answer"]
            ),
            (
                &json!("s-1"),
                &json!(2),
                &json!("and tomorrow"),
                &json!("tomorrow brings rain")
            )
        );
        // No SDK is installed: the send span is the API's no-op span, which
        // carries its parent's context, so the carrier holds the turn's.
        let carrier: Vec<u8> = (0..job["carrier"].as_str().unwrap().len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&job["carrier"].as_str().unwrap()[i..i + 2], 16).unwrap())
            .collect();
        let restored = TraceContext::from_carrier(&carrier).unwrap();
        let parent = restored.traceparent.unwrap();
        assert_eq!(
            parent.trace_id.to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(parent.span_id.to_string(), "00f067aa0ba902b7");
        assert_eq!(
            redis.command(&[b"LLEN", QUEUE.as_bytes()]).await.as_deref(),
            Ok("0")
        );
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_named_and_a_lost_one_fails_no_turn() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap();
        let error = connect(&closed.to_string()).await.err().unwrap();
        assert!(
            error.starts_with(&format!("cannot reach redis at {closed}:")),
            "{error}"
        );
        let error = connect("no-port").await.err().unwrap();
        assert!(error.contains("expected HOST:PORT"), "{error}");

        let redis = RedisServer::start().await;
        let (archive, pusher) = connect(&redis.address).await.unwrap();
        drop(redis);
        archive.enqueue(&Context::new(), "s-1", 1, "thank you", "you are welcome");
        drop(archive);
        // The failure is reported and counted; nothing hangs on it.
        let failures = tokio::time::timeout(REDIS_TIMEOUT * 3, pusher.run()).await;
        assert_eq!(failures, Ok(1));
    }
}
