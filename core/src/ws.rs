//! Traced WebSockets on tokio-tungstenite (feature `tokio-tungstenite`).
//!
//! Swap one call: [`connect`] for `tokio_tungstenite::connect_async`,
//! [`accept`] for `tokio_tungstenite::accept_async`. The returned
//! [`TracedStream`] is a `Sink<Message>` and a `Stream` of [`Received`]
//! messages:
//!
//! - the handshake carries the caller's context, the envelope offer and the
//!   session id; the server extracts them (headers, then query string);
//! - each data message sent starts a PRODUCER span and carries its context in
//!   the negotiated envelope; each one received starts a CONSUMER span whose
//!   parent is the message's context, and comes with that span's
//!   [`opentelemetry::Context`] so the handler can continue the trace;
//! - control frames pass through; a close records its code and reason.
//!
//! Which span is whose parent is decided by [`crate::model`]; see
//! `docs/PROTOCOL.md` section 7.
//!
//! ```no_run
//! # async fn run() -> Result<(), tokio_tungstenite::tungstenite::Error> {
//! use futures_util::{SinkExt, StreamExt};
//! use tracewire::ws::{self, Config};
//! use tokio_tungstenite::tungstenite::Message;
//!
//! let (mut socket, _response) = ws::connect("ws://127.0.0.1:9000/chat", &Config::default()).await?;
//! socket.send(Message::text(r#"{"text":"hello"}"#)).await?;
//! while let Some(received) = socket.next().await {
//!     let received = received?;
//!     // `received.context` holds the process span: make it current for the handler.
//!     let _guard = received.context.clone().attach();
//!     println!("{:?}", received.message);
//! }
//! # Ok(()) }
//! ```

use crate::context::TraceContext;
use crate::envelope::codec::{self, Codec};
use crate::envelope::json::JsonEnvelope;
use crate::envelope::{Decoded, EnvelopeError};
use crate::handshake::{ClientHandshake, Envelopes, ServerHandshake};
use crate::model::{self, MessageType, Model, Role};
use crate::otel::{PreparedSpan, SpanSources, start_span};
use crate::target::{Target, UrlError};
use futures_util::{Sink, Stream};
use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{Status, TraceContextExt, TracerProvider};
use opentelemetry::{Context, KeyValue};
use std::borrow::Cow;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::UrlError as TungsteniteUrlError;
use tokio_tungstenite::tungstenite::handshake::client::Response;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Error as WsError, Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The instrumentation scope name of the spans this module starts.
pub const INSTRUMENTATION_NAME: &str = "tracewire";

/// How a connection is traced.
#[derive(Clone)]
pub struct Config {
    model: Model,
    envelopes: Envelopes,
    json: JsonEnvelope,
    tracer: Arc<BoxedTracer>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("model", &self.model)
            .field("envelopes", &self.envelopes)
            .field("json", &self.json)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    /// The `connection` model, both envelopes, top-level JSON members
    /// stripped from received messages (the default everywhere: the
    /// application sees what the sender wrote), and the global tracer provider.
    fn default() -> Self {
        Config {
            model: Model::Connection,
            envelopes: Envelopes::ALL,
            json: JsonEnvelope::top_level(),
            tracer: Arc::new(opentelemetry::global::tracer(INSTRUMENTATION_NAME)),
        }
    }
}

impl Config {
    /// Sets the tracing model.
    pub fn model(mut self, model: Model) -> Self {
        self.model = model;
        self
    }

    /// Sets the envelopes offered (client) or supported (server).
    pub fn envelopes(mut self, envelopes: Envelopes) -> Self {
        self.envelopes = envelopes;
        self
    }

    /// Sets where JSON envelope members live and whether they are stripped
    /// from received payloads.
    pub fn json_envelope(mut self, json: JsonEnvelope) -> Self {
        self.json = json;
        self
    }

    /// Starts spans from `provider` instead of the global tracer provider.
    pub fn tracer_provider<P>(mut self, provider: &P) -> Self
    where
        P: TracerProvider,
        P::Tracer: Send + Sync + 'static,
        <P::Tracer as opentelemetry::trace::Tracer>::Span: Send + Sync + 'static,
    {
        self.tracer = Arc::new(BoxedTracer::new(Box::new(
            provider.tracer(INSTRUMENTATION_NAME),
        )));
        self
    }
}

/// A received message with the context to handle it in.
#[derive(Debug)]
pub struct Received {
    /// The message as the application should see it: a binary payload without
    /// its envelope, a text frame as sent (or without its envelope members
    /// when stripping is configured), control frames as they came.
    pub message: Message,
    /// For data messages, the context holding this message's process span
    /// (it ends when the last clone of this context is dropped) and the
    /// message's baggage; for control frames, the connection's context.
    pub context: Context,
    /// Why the message's envelope could not be read, if it was malformed.
    /// The message is delivered all the same, with its original bytes.
    pub envelope_error: Option<EnvelopeError>,
}

/// A WebSocket whose messages are traced. Send with the `Sink` methods (the
/// ambient context is [`Context::current`]) or [`send_in`](Self::send_in);
/// receive with the `Stream` methods.
pub struct TracedStream<S> {
    inner: WebSocketStream<S>,
    connection: model::Connection,
    codec: Codec,
    tracer: Arc<BoxedTracer>,
    /// Holds the connection span (already ended in the `message` model).
    connection_cx: Context,
    /// Send and process spans for text and binary messages, converted once.
    spans: MessageSpans,
    close_recorded: bool,
    /// The peer's close frame has arrived.
    peer_closed: bool,
}

/// A connection's message span decisions, converted once; only the payload
/// size changes from message to message.
struct MessageSpans {
    send: [PreparedSpan; 2],
    receive: [PreparedSpan; 2],
}

impl MessageSpans {
    fn new(connection: &model::Connection) -> Self {
        let per_message = [model::keys::MESSAGING_BODY_SIZE];
        let prepare = |d| PreparedSpan::new(d, &per_message);
        MessageSpans {
            send: [MessageType::Text, MessageType::Binary].map(|t| prepare(connection.send(t, 0))),
            receive: [MessageType::Text, MessageType::Binary]
                .map(|t| prepare(connection.receive(t, 0))),
        }
    }

    fn start(
        spans: &[PreparedSpan; 2],
        tracer: &BoxedTracer,
        message_type: MessageType,
        size: usize,
        sources: &SpanSources<'_>,
    ) -> Context {
        let prepared = &spans[usize::from(message_type == MessageType::Binary)];
        let size = KeyValue::new(
            model::keys::MESSAGING_BODY_SIZE,
            i64::try_from(size).unwrap_or(i64::MAX),
        );
        prepared.start(tracer, [size], sources)
    }
}

impl<S> std::fmt::Debug for TracedStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedStream")
            .field("connection", &self.connection)
            .field("codec", &self.codec)
            .finish_non_exhaustive()
    }
}

/// Opens a traced connection: starts the connection span under the current
/// context, sends it, the envelope offer and a session id in the upgrade
/// request, and reads which envelopes the server accepted.
pub async fn connect<R>(
    request: R,
    config: &Config,
) -> Result<(TracedStream<MaybeTlsStream<TcpStream>>, Response), WsError>
where
    R: IntoClientRequest + Unpin,
{
    let mut request = request.into_client_request()?;
    let handshake = ClientHandshake::new(config.envelopes);
    let target = Target::from_url(&request.uri().to_string()).map_err(|e| {
        WsError::Url(match e {
            UrlError::UnsupportedScheme => TungsteniteUrlError::UnsupportedUrlScheme,
            UrlError::MissingHost => TungsteniteUrlError::EmptyHostName,
            other => TungsteniteUrlError::UnableToConnect(other.to_string()),
        })
    })?;
    let connection =
        model::Connection::from_target(config.model, Role::Client, &handshake.session_id, target);
    let ambient = Context::current();
    let sources = SpanSources {
        ambient: &ambient,
        remote: None,
        connection: None,
    };
    let connection_cx = start_span(&*config.tracer, connection.open(), &sources);
    handshake.request_headers(
        &TraceContext::from_otel_context(&connection_cx),
        request.headers_mut(),
    );
    let (inner, response) = match tokio_tungstenite::connect_async(request).await {
        Ok(ok) => ok,
        Err(e) => {
            let span = connection_cx.span();
            span.set_status(Status::error(e.to_string()));
            span.end();
            return Err(e);
        }
    };
    let envelopes = handshake.accepted(response.headers());
    let stream = TracedStream::new(inner, connection, envelopes, config, connection_cx);
    Ok((stream, response))
}

/// Accepts a traced connection on `stream`: extracts the client's context
/// (headers, then query string), answers the envelope offer, and starts the
/// server's connection span. Uninstrumented clients and browsers are
/// accepted as they are.
pub async fn accept<S>(stream: S, config: &Config) -> Result<TracedStream<S>, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut opened: Option<(model::Connection, Envelopes, Context)> = None;
    // The error type is tungstenite's; this callback never fails.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request,
                    mut response: http::Response<()>|
     -> Result<_, ErrorResponse> {
        let uri = request.uri();
        let hs = ServerHandshake::from_request(request.headers(), uri.query(), config.envelopes);
        for (name, value) in hs.response_headers() {
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        // tokio-tungstenite accepts on any stream and cannot tell whether
        // TLS sits below it, so a Host without a port gives no port.
        let host = request
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok());
        let target = Target::from_request_lenient(None, host, &uri.to_string());
        let connection =
            model::Connection::from_target(config.model, Role::Server, &hs.session_id, target);
        let ambient = Context::current();
        let sources = SpanSources {
            ambient: &ambient,
            remote: Some(&hs.context),
            connection: None,
        };
        let cx = start_span(&*config.tracer, connection.open(), &sources);
        opened = Some((connection, hs.envelopes, cx));
        Ok(response)
    };
    let inner = tokio_tungstenite::accept_hdr_async(stream, callback).await;
    match (inner, opened) {
        (Ok(inner), Some((connection, envelopes, cx))) => {
            Ok(TracedStream::new(inner, connection, envelopes, config, cx))
        }
        (Err(e), opened) => {
            if let Some((_, _, cx)) = opened {
                cx.span().set_status(Status::error(e.to_string()));
                cx.span().end();
            }
            Err(e)
        }
        // The callback runs on every successful handshake.
        (Ok(_), None) => Err(WsError::ConnectionClosed),
    }
}

impl<S> TracedStream<S> {
    fn new(
        inner: WebSocketStream<S>,
        connection: model::Connection,
        envelopes: Envelopes,
        config: &Config,
        connection_cx: Context,
    ) -> Self {
        if connection.connection_span_ends_at_upgrade() {
            connection_cx.span().end();
        }
        TracedStream {
            inner,
            spans: MessageSpans::new(&connection),
            connection,
            codec: Codec::new(envelopes, config.json.clone()),
            tracer: config.tracer.clone(),
            connection_cx,
            close_recorded: false,
            peer_closed: false,
        }
    }

    /// The envelopes both peers agreed on.
    pub fn envelopes(&self) -> Envelopes {
        self.codec.envelopes()
    }

    /// The session id both peers record.
    pub fn session_id(&self) -> &str {
        &self.connection.session_id
    }

    /// The context holding the connection span.
    pub fn connection_context(&self) -> &Context {
        &self.connection_cx
    }

    /// The underlying tokio-tungstenite stream.
    pub fn get_ref(&self) -> &WebSocketStream<S> {
        &self.inner
    }

    /// Starts the send span for `message` under `ambient` and returns the
    /// message with its envelope (control frames come back unchanged).
    fn trace_send(&mut self, message: Message, ambient: &Context) -> Message {
        let (message_type, payload): (_, &[u8]) = match &message {
            Message::Text(t) => (MessageType::Text, t.as_bytes()),
            Message::Binary(b) => (MessageType::Binary, b),
            Message::Close(frame) => {
                // Whoever closes first decides the code recorded.
                self.record_close(frame.as_ref());
                return message;
            }
            _ => return message,
        };
        let sources = SpanSources {
            ambient,
            remote: None,
            connection: Some(&self.connection_cx),
        };
        let cx = MessageSpans::start(
            &self.spans.send,
            &self.tracer,
            message_type,
            payload.len(),
            &sources,
        );
        let ctx = TraceContext::from_otel_context(&cx);
        let enveloped = match self.codec.encode(message_type, payload, &ctx) {
            Cow::Owned(frame) => Some(frame),
            Cow::Borrowed(_) => None,
        };
        let out = match (enveloped, message) {
            (None, message) => message,
            // SAFETY: the codec keeps a text payload UTF-8: injection copies
            // the UTF-8 frame and inserts only ASCII and copies of UTF-8 strings.
            (Some(frame), Message::Text(_)) => Message::Text(Utf8Bytes::from(unsafe {
                String::from_utf8_unchecked(frame)
            })),
            (Some(frame), _) => Message::Binary(Bytes::from(frame)),
        };
        cx.span().end();
        out
    }

    /// Decodes a received message and starts its process span.
    fn trace_receive(&mut self, message: Message) -> Received {
        let (message_type, frame): (_, &[u8]) = match &message {
            Message::Text(t) => (MessageType::Text, t.as_bytes()),
            Message::Binary(b) => (MessageType::Binary, b),
            Message::Close(frame) => {
                self.peer_closed = true;
                self.record_close(frame.as_ref());
                return Received {
                    context: self.connection_cx.clone(),
                    message,
                    envelope_error: None,
                };
            }
            _ => {
                return Received {
                    message,
                    context: self.connection_cx.clone(),
                    envelope_error: None,
                };
            }
        };
        // What the application gets instead of the frame, if anything:
        // a new payload, or the frame's last `n` bytes (a binary envelope's
        // payload, sliced without a copy).
        enum Deliver {
            Frame,
            New(Vec<u8>),
            Suffix(usize),
        }
        let (remote, envelope_error, deliver) = match self.codec.decode(message_type, frame) {
            Decoded::Enveloped(ctx, Cow::Owned(payload)) => {
                (Some(ctx), None, Deliver::New(payload))
            }
            Decoded::Enveloped(ctx, Cow::Borrowed(payload)) => {
                (Some(ctx), None, Deliver::Suffix(payload.len()))
            }
            Decoded::Malformed(e, _) => (None, Some(e), Deliver::Frame),
            Decoded::Plain(_) => (None, None, Deliver::Frame),
        };
        let message = match (deliver, message) {
            (Deliver::Frame, message) => message,
            // SAFETY: stripping removes whole JSON members from a UTF-8
            // frame, which leaves UTF-8.
            (Deliver::New(payload), Message::Text(_)) => Message::Text(Utf8Bytes::from(unsafe {
                String::from_utf8_unchecked(payload)
            })),
            (Deliver::New(payload), _) => Message::Binary(Bytes::from(payload)),
            (Deliver::Suffix(n), Message::Binary(frame)) => {
                Message::Binary(frame.slice(frame.len().saturating_sub(n)..))
            }
            // A borrowed text payload is the whole frame (JSON members read
            // in place, not stripped).
            (Deliver::Suffix(_), message) => message,
        };
        let size = match &message {
            Message::Text(t) => t.len(),
            Message::Binary(b) => b.len(),
            _ => 0,
        };
        let ambient = Context::current();
        let sources = SpanSources {
            ambient: &ambient,
            remote: remote.as_ref(),
            connection: Some(&self.connection_cx),
        };
        let context = MessageSpans::start(
            &self.spans.receive,
            &self.tracer,
            message_type,
            size,
            &sources,
        );
        if let Some(e) = &envelope_error {
            let event = codec::exception_event(e);
            context.span().add_event(
                event.name,
                event.attributes.iter().map(KeyValue::from).collect(),
            );
        }
        Received {
            message,
            context,
            envelope_error,
        }
    }

    fn record_close(&mut self, frame: Option<&CloseFrame>) {
        if std::mem::replace(&mut self.close_recorded, true) {
            return;
        }
        let decision = self.connection.close(
            frame.map(|f| u16::from(f.code)),
            frame.map(|f| f.reason.as_str()).unwrap_or(""),
        );
        let status = |span: &opentelemetry::trace::SpanRef<'_>| {
            if decision.is_error {
                span.set_status(Status::error("abnormal close"));
            }
        };
        match decision.span {
            None => {
                let span = self.connection_cx.span();
                span.set_attributes(decision.attributes.iter().map(KeyValue::from));
                status(&span);
                span.end();
            }
            Some(d) => {
                let ambient = Context::current();
                let sources = SpanSources {
                    ambient: &ambient,
                    remote: None,
                    connection: Some(&self.connection_cx),
                };
                let cx = start_span(&*self.tracer, d, &sources);
                status(&cx.span());
                cx.span().end();
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TracedStream<S> {
    /// Sends `message` with `ambient` as the caller's context (for async
    /// code where [`Context::current`] is not the context of the work).
    pub async fn send_in(&mut self, ambient: &Context, message: Message) -> Result<(), WsError> {
        use futures_util::SinkExt;
        let message = self.trace_send(message, ambient);
        self.inner.send(message).await
    }

    /// Closes the connection with a close frame. After the peer's close
    /// frame was received, this sends the reply tungstenite queued for it
    /// (`frame` is then ignored: the peer's code stands).
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), WsError> {
        if self.peer_closed {
            // Sending a new close frame would fail with SendAfterClosing and
            // leave the reply unsent; closing the sink flushes it.
            return futures_util::SinkExt::close(&mut self.inner).await;
        }
        self.record_close(Some(frame.as_ref().unwrap_or(&CloseFrame {
            code: CloseCode::Status,
            reason: Utf8Bytes::default(),
        })));
        self.inner.close(frame).await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for TracedStream<S> {
    type Error = WsError;

    fn poll_ready(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Result<(), WsError>> {
        Pin::new(&mut self.inner).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), WsError> {
        let item = self.trace_send(item, &Context::current());
        Pin::new(&mut self.inner).start_send(item)
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Result<(), WsError>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Result<(), WsError>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for TracedStream<S> {
    type Item = Result<Received, WsError>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Self::Item>> {
        match ready!(Pin::new(&mut self.inner).poll_next(cx)) {
            Some(Ok(message)) => Poll::Ready(Some(Ok(self.trace_receive(message)))),
            Some(Err(e)) => {
                if matches!(
                    e,
                    WsError::ConnectionClosed
                        | WsError::AlreadyClosed
                        | WsError::Io(_)
                        | WsError::Protocol(_)
                ) {
                    self.record_close(None);
                }
                Poll::Ready(Some(Err(e)))
            }
            None => {
                self.record_close(None);
                Poll::Ready(None)
            }
        }
    }
}
