//! One device session: the device's connection and the gateway's three
//! upstream connections, driven by one task so that every message is handled
//! in arrival order and forwarded as soon as it arrives.

use std::sync::Arc;

use futures_util::StreamExt;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{FutureExt, SpanBuilder, SpanKind, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::MaybeTlsStream;
use tracewire::metrics::StreamKind;
use tracewire::model::Trust;
use tracewire::otel::{StreamInstruments, StreamSpan};
use tracewire::ws::{self, Config, Received, TracedStream};

use crate::archive::Archive;

/// `gen_ai.provider.name` of the stand-in model (the GenAI conventions
/// require it on `chat` spans and metrics); the same in the Java llm.
const PROVIDER: &str = "tracewire-demo";

use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// The URLs of the upstream services.
#[derive(Debug, Clone)]
pub struct Upstreams {
    /// The speech-to-text service (`/asr`).
    pub asr: String,
    /// The language model service (`/llm`).
    pub llm: String,
    /// The text-to-speech service (`/tts`).
    pub tts: String,
}

/// What every session shares: tracing configuration and instruments.
pub struct Gateway {
    /// Where the upstream services are.
    pub upstreams: Upstreams,
    /// How the device's connection is traced: the device is on the internet,
    /// so its context is only linked, its baggage dropped and its session id
    /// replaced ([`Trust::untrusted`]).
    pub device: Config,
    /// How the connections to the upstream services are traced: internal
    /// hops, trusted (the default).
    pub upstream: Config,
    /// The tracer for the gateway's own spans.
    pub tracer: opentelemetry::global::BoxedTracer,
    /// Instruments for generic streams (audio).
    pub audio: Arc<StreamInstruments>,
    /// Instruments for model output (tokens).
    pub tokens: Arc<StreamInstruments>,
    /// Where finished turns are queued, if anywhere.
    pub archive: Option<Archive>,
}

impl Gateway {
    /// A gateway using the global tracer and meter providers; `config` is
    /// the upstream connections', and the device's with [`Trust::untrusted`].
    pub fn new(upstreams: Upstreams, config: Config, archive: Option<Archive>) -> Self {
        let meter = opentelemetry::global::meter("gateway");
        Gateway {
            upstreams,
            device: config.clone().trust(Trust::untrusted()),
            upstream: config,
            tracer: opentelemetry::global::tracer("gateway"),
            audio: Arc::new(StreamInstruments::new(&meter, StreamKind::Generic)),
            tokens: Arc::new(StreamInstruments::new(&meter, StreamKind::ModelOutput)),
            archive,
        }
    }
}

type Upstream = TracedStream<MaybeTlsStream<TcpStream>>;

/// Why a session ended early.
#[derive(Debug)]
pub enum SessionError {
    /// A WebSocket failed.
    Ws(&'static str, WsError),
    /// A peer sent something the contract does not allow.
    Protocol(String),
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionError::Ws(peer, e) => write!(f, "{peer}: {e}"),
            SessionError::Protocol(message) => f.write_str(message),
        }
    }
}

/// One turn in flight: the agent span and the stream spans of its calls.
struct Turn {
    number: i64,
    agent: Context,
    speech_to_text: Option<StreamSpan>,
    chat: Option<StreamSpan>,
    text_to_speech: Option<StreamSpan>,
    /// asr's final transcript and llm's answer, for the archive.
    transcript: String,
    answer: String,
}

/// Serves one accepted device connection until the device closes it.
pub async fn run<S>(gateway: &Gateway, mut device: TracedStream<S>) -> Result<(), SessionError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // The upstream connections belong to this session's trace.
    let session_cx = device.connection_context().clone();
    let open = |url: &str, peer: &'static str| {
        let url = url.to_owned();
        let cx = session_cx.clone();
        async move {
            ws::connect(url.as_str(), &gateway.upstream)
                .with_context(cx)
                .await
                .map(|(stream, _)| stream)
                .map_err(|e| SessionError::Ws(peer, e))
        }
    };
    let upstream = tokio::try_join!(
        open(&gateway.upstreams.asr, "asr"),
        open(&gateway.upstreams.llm, "llm"),
        open(&gateway.upstreams.tts, "tts"),
    );
    let (mut asr, mut llm, mut tts) = match upstream {
        Ok(streams) => streams,
        Err(e) => {
            let _ = device.close(Some(close_frame(CloseCode::Error))).await;
            return Err(e);
        }
    };
    let mut session = Session {
        gateway,
        session_id: device.session_id().to_owned(),
        turn: None,
    };
    let result = loop {
        // The device's messages are read inside the turn they belong to: the
        // device is not trusted as a parent, so in the message model their
        // process spans join the turn's trace (not a trace each).
        let turn_cx = session
            .turn
            .as_ref()
            .map_or_else(Context::new, |turn| turn.agent.clone());
        let step = tokio::select! {
            m = device.next().with_context(turn_cx) => match next("device", m) {
                Ok(Next::Data(r)) => session.on_device(r, &mut asr).await,
                Ok(Next::Control) => Ok(()),
                Ok(Next::Closed) => break Ok(()),
                Err(e) => Err(e),
            },
            m = asr.next() => match next("asr", m) {
                Ok(Next::Data(r)) => session.on_asr(r, &mut device, &mut llm, &mut tts).await,
                Ok(Next::Control) => Ok(()),
                Ok(Next::Closed) => Err(SessionError::Protocol("asr closed the connection".into())),
                Err(e) => Err(e),
            },
            m = llm.next() => match next("llm", m) {
                Ok(Next::Data(r)) => session.on_llm(r, &mut tts).await,
                Ok(Next::Control) => Ok(()),
                Ok(Next::Closed) => Err(SessionError::Protocol("llm closed the connection".into())),
                Err(e) => Err(e),
            },
            m = tts.next() => match next("tts", m) {
                Ok(Next::Data(r)) => session.on_tts(r, &mut device).await,
                Ok(Next::Control) => Ok(()),
                Ok(Next::Closed) => Err(SessionError::Protocol("tts closed the connection".into())),
                Err(e) => Err(e),
            },
        };
        if let Err(e) = step {
            break Err(e);
        }
    };
    for stream in [&mut asr, &mut llm, &mut tts] {
        let _ = stream.close(Some(close_frame(CloseCode::Normal))).await;
    }
    // After the device's close frame this sends the reply to it; after a
    // failure it tells the device the gateway could not go on.
    let _ = device.close(Some(close_frame(CloseCode::Error))).await;
    result
}

/// What a peer's stream yielded.
enum Next {
    /// A text or binary message.
    Data(Received),
    /// A ping or pong (tungstenite answers pings itself): nothing to do. A
    /// peer that keeps its connection alive pings when a turn runs long
    /// (Python's websockets every 20 s), inside or outside a turn.
    Control,
    /// The peer closed the connection.
    Closed,
}

fn next(peer: &'static str, item: Option<Result<Received, WsError>>) -> Result<Next, SessionError> {
    match item {
        None | Some(Err(WsError::ConnectionClosed)) => Ok(Next::Closed),
        Some(Err(e)) => Err(SessionError::Ws(peer, e)),
        Some(Ok(r)) => Ok(match r.message {
            Message::Text(_) | Message::Binary(_) => Next::Data(r),
            Message::Close(_) => Next::Closed,
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Next::Control,
        }),
    }
}

struct Session<'g> {
    gateway: &'g Gateway,
    /// The session id the gateway recorded for the device's connection.
    session_id: String,
    turn: Option<Turn>,
}

impl Session<'_> {
    fn turn(&mut self, peer: &str) -> Result<&mut Turn, SessionError> {
        self.turn
            .as_mut()
            .ok_or_else(|| SessionError::Protocol(format!("{peer} sent a message outside a turn")))
    }

    fn stream(
        &self,
        name: &'static str,
        parent: &Context,
        kind: StreamKind,
        number: i64,
    ) -> StreamSpan {
        let (instruments, mut attributes) = match kind {
            StreamKind::ModelOutput => (
                self.gateway.tokens.clone(),
                vec![
                    KeyValue::new("gen_ai.operation.name", "chat"),
                    KeyValue::new("gen_ai.provider.name", PROVIDER),
                    KeyValue::new("gen_ai.request.model", "stand-in-llm"),
                ],
            ),
            StreamKind::Generic => (self.gateway.audio.clone(), Vec::new()),
        };
        attributes.push(KeyValue::new("demo.turn", number));
        let builder = SpanBuilder::from_name(name)
            .with_kind(SpanKind::Internal)
            .with_attributes(attributes);
        StreamSpan::start(&self.gateway.tracer, builder, parent, instruments)
    }

    async fn on_device(&mut self, r: Received, asr: &mut Upstream) -> Result<(), SessionError> {
        match &r.message {
            Message::Binary(audio) => {
                let turn = self.turn("device")?;
                let stt = turn.speech_to_text.as_ref().ok_or_else(|| {
                    SessionError::Protocol("device sent audio after turn.end".into())
                })?;
                send(asr, "asr", stt.context(), Message::Binary(audio.clone())).await
            }
            Message::Text(text) => {
                let body = parse("device", text)?;
                let number = turn_number("device", &body)?;
                match body["type"].as_str() {
                    Some("turn.start") => {
                        if self.turn.is_some() {
                            return Err(SessionError::Protocol(
                                "device started a turn inside a turn".into(),
                            ));
                        }
                        // What reached the handler of the device's message
                        // (nothing of the device's: its baggage is dropped).
                        let mut received: Vec<&str> = r
                            .context
                            .baggage()
                            .iter()
                            .map(|(k, _)| k.as_str())
                            .collect();
                        received.sort_unstable();
                        let agent = self.gateway.tracer.build_with_context(
                            SpanBuilder::from_name("invoke_agent voice-assistant")
                                .with_kind(SpanKind::Internal)
                                .with_attributes([
                                    KeyValue::new("gen_ai.operation.name", "invoke_agent"),
                                    KeyValue::new("gen_ai.agent.name", "voice-assistant"),
                                    KeyValue::new("demo.turn", number),
                                    KeyValue::new("demo.baggage", received.join(",")),
                                ]),
                            &r.context,
                        );
                        // The gateway's own baggage for the upstream services:
                        // the session id it chose for the device's connection.
                        let agent = r
                            .context
                            .with_baggage([KeyValue::new(
                                "gateway.session.id",
                                self.session_id.clone(),
                            )])
                            .with_span(agent);
                        let stt =
                            self.stream("speech_to_text asr", &agent, StreamKind::Generic, number);
                        let start = json!({"type": "start", "turn": number});
                        send(asr, "asr", stt.context(), text_message(&start)).await?;
                        self.turn = Some(Turn {
                            number,
                            agent,
                            speech_to_text: Some(stt),
                            chat: None,
                            text_to_speech: None,
                            transcript: String::new(),
                            answer: String::new(),
                        });
                        Ok(())
                    }
                    Some("turn.end") => {
                        let turn = self.turn("device")?;
                        let stt = turn.speech_to_text.as_ref().ok_or_else(|| {
                            SessionError::Protocol("device ended a turn twice".into())
                        })?;
                        let end = json!({"type": "end", "turn": number});
                        send(asr, "asr", stt.context(), text_message(&end)).await
                    }
                    other => Err(unexpected("device", other)),
                }
            }
            _ => Ok(()),
        }
    }

    async fn on_asr<S>(
        &mut self,
        r: Received,
        device: &mut TracedStream<S>,
        llm: &mut Upstream,
        tts: &mut Upstream,
    ) -> Result<(), SessionError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let Message::Text(text) = &r.message else {
            return Ok(());
        };
        let body = parse("asr", text)?;
        match body["type"].as_str() {
            Some("partial") => {
                if let Some(stt) = &self.turn("asr")?.speech_to_text {
                    stt.record_chunk(text.len() as u64);
                }
                Ok(())
            }
            Some("final") => {
                let transcript = body["text"].as_str().unwrap_or_default().to_owned();
                let turn = self.turn("asr")?;
                let number = turn.number;
                let stt = turn.speech_to_text.take().ok_or_else(|| {
                    SessionError::Protocol("asr sent two finals for one turn".into())
                })?;
                stt.record_chunk(text.len() as u64);
                stt.end();
                let agent = turn.agent.clone();
                let message = json!({"type": "transcript", "turn": number, "text": transcript});
                send(device, "device", &agent, text_message(&message)).await?;
                let chat =
                    self.stream("chat stand-in-llm", &agent, StreamKind::ModelOutput, number);
                let speech = self.stream("text_to_speech tts", &agent, StreamKind::Generic, number);
                let request = json!({"type": "chat", "turn": number, "prompt": transcript});
                send(llm, "llm", chat.context(), text_message(&request)).await?;
                let start = json!({"type": "start", "turn": number});
                send(tts, "tts", speech.context(), text_message(&start)).await?;
                let turn = self.turn("asr")?;
                turn.transcript = transcript;
                turn.chat = Some(chat);
                turn.text_to_speech = Some(speech);
                Ok(())
            }
            other => Err(unexpected("asr", other)),
        }
    }

    async fn on_llm(&mut self, r: Received, tts: &mut Upstream) -> Result<(), SessionError> {
        let Message::Text(text) = &r.message else {
            return Ok(());
        };
        let body = parse("llm", text)?;
        let turn = self.turn("llm")?;
        let number = turn.number;
        let (Some(chat), Some(speech)) = (&turn.chat, &turn.text_to_speech) else {
            return Err(SessionError::Protocol(
                "llm answered before it was asked".into(),
            ));
        };
        match body["type"].as_str() {
            Some("token") => {
                chat.record_chunk(text.len() as u64);
                let token = body["text"].as_str().unwrap_or_default();
                turn.answer.push_str(token);
                let forward = json!({"type": "text", "turn": number, "text": token});
                send(tts, "tts", speech.context(), text_message(&forward)).await
            }
            Some("done") => {
                let end = json!({"type": "end", "turn": number});
                send(tts, "tts", speech.context(), text_message(&end)).await?;
                if let Some(chat) = self.turn("llm")?.chat.take() {
                    chat.end();
                }
                Ok(())
            }
            other => Err(unexpected("llm", other)),
        }
    }

    async fn on_tts<S>(
        &mut self,
        r: Received,
        device: &mut TracedStream<S>,
    ) -> Result<(), SessionError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let turn = self.turn("tts")?;
        let speech = turn.text_to_speech.as_ref().ok_or_else(|| {
            SessionError::Protocol("tts sent a message before it was asked".into())
        })?;
        match &r.message {
            Message::Binary(audio) => {
                speech.record_chunk(audio.len() as u64);
                send(
                    device,
                    "device",
                    speech.context(),
                    Message::Binary(audio.clone()),
                )
                .await
            }
            Message::Text(text) => {
                let body = parse("tts", text)?;
                if body["type"].as_str() != Some("done") {
                    return Err(unexpected("tts", body["type"].as_str()));
                }
                let Some(turn) = self.turn.take() else {
                    return Ok(());
                };
                let audio_chunks = turn
                    .text_to_speech
                    .as_ref()
                    .map_or(0, |s| s.metrics().snapshot().chunk_count);
                if let Some(speech) = turn.text_to_speech {
                    speech.end();
                }
                let done =
                    json!({"type": "turn.done", "turn": turn.number, "audio_chunks": audio_chunks});
                let sent = send(device, "device", &turn.agent, text_message(&done)).await;
                if let Some(archive) = &self.gateway.archive {
                    let answer = turn.answer.trim_end();
                    archive.enqueue(
                        &turn.agent,
                        &self.session_id,
                        turn.number,
                        &turn.transcript,
                        answer,
                    );
                }
                turn.agent.span().end();
                sent
            }
            _ => Ok(()),
        }
    }
}

async fn send<S>(
    stream: &mut TracedStream<S>,
    peer: &'static str,
    cx: &Context,
    message: Message,
) -> Result<(), SessionError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    stream
        .send_in(cx, message)
        .await
        .map_err(|e| SessionError::Ws(peer, e))
}

fn close_frame(code: CloseCode) -> CloseFrame {
    CloseFrame {
        code,
        reason: "".into(),
    }
}

fn text_message(value: &Value) -> Message {
    Message::text(value.to_string())
}

fn parse(peer: &str, text: &str) -> Result<Value, SessionError> {
    match serde_json::from_str::<Value>(text) {
        Ok(value) if value.is_object() => Ok(value),
        _ => Err(SessionError::Protocol(format!(
            "{peer} sent a text frame that is not a JSON object: {text:.80}"
        ))),
    }
}

fn turn_number(peer: &str, body: &Value) -> Result<i64, SessionError> {
    body["turn"].as_i64().ok_or_else(|| {
        SessionError::Protocol(format!(
            "{peer} sent a message without a turn number: {body}"
        ))
    })
}

fn unexpected(peer: &str, kind: Option<&str>) -> SessionError {
    SessionError::Protocol(format!("{peer} sent an unexpected message type {kind:?}"))
}
