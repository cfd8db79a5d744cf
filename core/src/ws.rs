//! Traced WebSockets on tokio-tungstenite (feature `tokio-tungstenite`).
//!
//! Swap one call: [`connect`] for `tokio_tungstenite::connect_async`,
//! [`accept`] for `tokio_tungstenite::accept_async`. The returned
//! [`TracedStream`] is a `Sink<Message>` and a `Stream` of [`Received`]
//! messages:
//!
//! - the handshake carries the caller's context and the session id, which the
//!   server extracts (headers, then query string), and offers the envelopes
//!   as subprotocols (composed with the application's own,
//!   [`Config::app_protocols`]), one of which the server selects;
//! - each data message sent starts a PRODUCER span and carries its context in
//!   the negotiated envelope; each one received starts a CONSUMER span whose
//!   parent is the message's context, and comes with that span's
//!   [`opentelemetry::Context`] so the handler can continue the trace;
//! - control frames pass through; a close records its code and reason;
//! - both ends run under [`Limits`] (set on [`Config`]): a 1 MiB message and
//!   frame limit, a bounded write buffer and a 10 s handshake timeout by
//!   default, instead of tungstenite's 64 MiB / 16 MiB / unbounded / none.
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

mod upgrade;

use crate::context::TraceContext;
use crate::envelope::codec::{self, Codec};
use crate::envelope::json::JsonEnvelope;
use crate::envelope::{Decoded, EnvelopeError};
use crate::handshake::{AppProtocols, ClientHandshake, Envelopes, Negotiated, ServerHandshake};
use crate::limits;
use crate::model::{self, MessageType, Model, ReceiveSpanBudget, Role, Trust};
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
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::UrlError as TungsteniteUrlError;
use tokio_tungstenite::tungstenite::handshake::client::Response;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Bytes, Error as WsError, Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The instrumentation scope name of the spans this module starts.
pub const INSTRUMENTATION_NAME: &str = "tracewire";

/// How a connection is traced, and the limits it runs under.
#[derive(Clone)]
pub struct Config {
    model: Model,
    envelopes: Envelopes,
    apps: AppProtocols,
    json: JsonEnvelope,
    tracer: Arc<BoxedTracer>,
    limits: Limits,
    trust: Trust,
}

/// The WebSocket limits of a connection ([`Config::limits`]); the defaults
/// are the `WS_*` constants of [`crate::limits`], chosen for a chat or voice
/// gateway on the public internet (see there for why each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest message accepted, in bytes; `None` for no limit. A larger one
    /// fails the stream with `Error::Capacity` before it is buffered.
    pub max_message_size: Option<usize>,
    /// Largest frame accepted, in bytes, checked from the frame header;
    /// `None` for no limit.
    pub max_frame_size: Option<usize>,
    /// Bytes gathered before a write to the socket.
    pub write_buffer_size: usize,
    /// Most bytes queued for writing; past it a send fails with
    /// `Error::WriteBufferFull`. At least `write_buffer_size` plus one message.
    pub max_write_buffer_size: usize,
    /// Longest opening handshake (`connect`: TCP connect included); `None`
    /// for no limit. Past it the call fails with an `Error::Io` of kind
    /// `TimedOut`.
    pub handshake_timeout: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: Some(limits::WS_MAX_MESSAGE_SIZE),
            max_frame_size: Some(limits::WS_MAX_FRAME_SIZE),
            write_buffer_size: limits::WS_WRITE_BUFFER_SIZE,
            max_write_buffer_size: limits::WS_MAX_WRITE_BUFFER_SIZE,
            handshake_timeout: Some(limits::WS_HANDSHAKE_TIMEOUT),
        }
    }
}

impl Limits {
    /// The tokio-tungstenite configuration these limits give.
    pub fn websocket_config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .max_message_size(self.max_message_size)
            .max_frame_size(self.max_frame_size)
            .write_buffer_size(self.write_buffer_size)
            .max_write_buffer_size(self.max_write_buffer_size)
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("model", &self.model)
            .field("envelopes", &self.envelopes)
            .field("apps", &self.apps)
            .field("json", &self.json)
            .field("limits", &self.limits)
            .field("trust", &self.trust)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    /// The `connection` model, both envelopes, the JSON envelope object at
    /// the member `tracewire`, stripped from received messages (the default everywhere: the
    /// application sees what the sender wrote), the global tracer provider,
    /// the default [`Limits`], and a trusted peer ([`Trust::trusted`]).
    fn default() -> Self {
        Config {
            model: Model::Connection,
            envelopes: Envelopes::ALL,
            apps: AppProtocols::default(),
            json: JsonEnvelope::default(),
            tracer: Arc::new(opentelemetry::global::tracer(INSTRUMENTATION_NAME)),
            limits: Limits::default(),
            trust: Trust::trusted(),
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

    /// Sets the application's own subprotocols, in order of preference:
    /// offered (client) or supported (server) alone and composed with the
    /// tracewire tokens; [`TracedStream::app_protocol`] says which one was
    /// agreed. They replace any `Sec-WebSocket-Protocol` of the request.
    pub fn app_protocols(mut self, apps: AppProtocols) -> Self {
        self.apps = apps;
        self
    }

    /// Sets where JSON envelope members live and whether they are stripped
    /// from received payloads.
    pub fn json_envelope(mut self, json: JsonEnvelope) -> Self {
        self.json = json;
        self
    }

    /// Sets how far the peer is trusted: [`Trust::untrusted`] for a server
    /// on the public edge (see `docs/PROTOCOL.md`, Security Considerations).
    pub fn trust(mut self, trust: Trust) -> Self {
        self.trust = trust;
        self
    }

    /// Replaces all the WebSocket limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The WebSocket limits in force.
    pub fn get_limits(&self) -> &Limits {
        &self.limits
    }

    /// Sets the largest message accepted (`None`: no limit).
    pub fn max_message_size(mut self, bytes: Option<usize>) -> Self {
        self.limits.max_message_size = bytes;
        self
    }

    /// Sets the largest frame accepted (`None`: no limit).
    pub fn max_frame_size(mut self, bytes: Option<usize>) -> Self {
        self.limits.max_frame_size = bytes;
        self
    }

    /// Sets the bytes gathered before a write to the socket.
    pub fn write_buffer_size(mut self, bytes: usize) -> Self {
        self.limits.write_buffer_size = bytes;
        self
    }

    /// Sets the most bytes queued for writing.
    pub fn max_write_buffer_size(mut self, bytes: usize) -> Self {
        self.limits.max_write_buffer_size = bytes;
        self
    }

    /// Sets the longest opening handshake (`None`: no limit).
    pub fn handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.limits.handshake_timeout = timeout;
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
    /// message's baggage; for control frames, and for data messages past the
    /// trust policy's receive span budget ([`Config::trust`]), the
    /// connection's context.
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
    /// The application's subprotocol agreed in the handshake.
    app_protocol: Option<String>,
    tracer: Arc<BoxedTracer>,
    /// Holds the connection span (already ended in the `message` model).
    connection_cx: Context,
    /// Send and process spans for text and binary messages, converted once.
    spans: MessageSpans,
    /// How many more received messages get a process span.
    receive_budget: ReceiveSpanBudget,
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
/// context, sends it and a session id in the upgrade request, offers the
/// envelopes (and the application's subprotocols) as subprotocols, and
/// reads which one the server selected (docs/PROTOCOL.md section 3).
///
/// A server that knows no tracewire selects no subprotocol: the connection
/// then carries no envelopes, and messages pass as they are. (Browsers, and
/// tungstenite's own client, fail such a handshake; this client does the
/// upgrade itself to accept it, with every other check of RFC 6455
/// section 4.1.) Only `ws://` URLs: no TLS stack is built in.
pub async fn connect<R>(
    request: R,
    config: &Config,
) -> Result<(TracedStream<MaybeTlsStream<TcpStream>>, Response), WsError>
where
    R: IntoClientRequest + Unpin,
{
    let mut request = request.into_client_request()?;
    let handshake = ClientHandshake::new(config.envelopes).with_apps(config.apps.clone());
    let target = Target::from_url(&request.uri().to_string()).map_err(|e| {
        WsError::Url(match e {
            UrlError::UnsupportedScheme => TungsteniteUrlError::UnsupportedUrlScheme,
            UrlError::MissingHost => TungsteniteUrlError::EmptyHostName,
            other => TungsteniteUrlError::UnableToConnect(other.to_string()),
        })
    })?;
    let connection =
        model::Connection::from_target(config.model, Role::Client, &handshake.session_id, target)
            .with_trust(config.trust.clone());
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
    let offer = handshake.subprotocols().join(", ");
    let headers = request.headers_mut();
    headers.remove(http::header::SEC_WEBSOCKET_PROTOCOL);
    // Tokens are visible ASCII (checked by AppProtocols), so this cannot fail.
    if let Ok(offer) = http::HeaderValue::from_str(&offer)
        && !offer.is_empty()
    {
        headers.insert(http::header::SEC_WEBSOCKET_PROTOCOL, offer);
    }
    let connecting = async {
        let tcp = TcpStream::connect(socket_address(request.uri())?).await?;
        upgrade::client(
            MaybeTlsStream::Plain(tcp),
            request,
            config.limits.websocket_config(),
        )
        .await
    };
    let (inner, response) = match within(config.limits.handshake_timeout, connecting).await {
        Ok(ok) => ok,
        Err(e) => {
            let span = connection_cx.span();
            span.set_status(Status::error(e.to_string()));
            span.end();
            return Err(e);
        }
    };
    let selected = response
        .headers()
        .get(http::header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok());
    let negotiated = handshake.negotiated(selected);
    let stream = TracedStream::new(inner, connection, negotiated, config, connection_cx);
    Ok((stream, response))
}

/// Where a `ws://` URL's host listens (port 80 unless given). `wss://`
/// needs TLS, which this crate does not build in.
fn socket_address(uri: &http::Uri) -> Result<(String, u16), WsError> {
    match uri.scheme_str() {
        Some("ws") => {}
        Some("wss") => return Err(WsError::Url(TungsteniteUrlError::TlsFeatureNotEnabled)),
        _ => return Err(WsError::Url(TungsteniteUrlError::UnsupportedUrlScheme)),
    }
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or(WsError::Url(TungsteniteUrlError::EmptyHostName))?;
    // An IPv6 literal comes bracketed in the URL, not in a socket address.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok((host.to_owned(), uri.port_u16().unwrap_or(80)))
}

/// Accepts a traced connection on `stream`: extracts the client's context
/// (headers, then query string), selects the subprotocol (the envelopes and
/// the configured application protocols), and starts the
/// server's connection span. Uninstrumented clients and browsers are
/// accepted as they are.
pub async fn accept<S>(stream: S, config: &Config) -> Result<TracedStream<S>, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut opened: Option<(model::Connection, Negotiated, Context)> = None;
    // The error type is tungstenite's; this callback never fails.
    #[allow(clippy::result_large_err)]
    let callback =
        |request: &Request, mut response: http::Response<()>| -> Result<_, ErrorResponse> {
            let uri = request.uri();
            let hs = ServerHandshake::from_request(
                request.headers(),
                uri.query(),
                config.envelopes,
                &config.apps,
            );
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
                model::Connection::from_target(config.model, Role::Server, &hs.session_id, target)
                    .with_trust(config.trust.clone());
            let remote = connection.trust.admit(hs.context.clone());
            let ambient = Context::current();
            let sources = SpanSources {
                ambient: &ambient,
                remote: Some(&remote),
                connection: None,
            };
            let cx = start_span(&*config.tracer, connection.open(), &sources);
            let negotiated = Negotiated {
                envelopes: hs.envelopes,
                app_protocol: hs.app_protocol,
            };
            opened = Some((connection, negotiated, cx));
            Ok(response)
        };
    let accepting = tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        callback,
        Some(config.limits.websocket_config()),
    );
    let inner = within(config.limits.handshake_timeout, accepting).await;
    match (inner, opened) {
        (Ok(inner), Some((connection, negotiated, cx))) => {
            Ok(TracedStream::new(inner, connection, negotiated, config, cx))
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

/// Runs a handshake within `timeout`, if any.
async fn within<T>(
    timeout: Option<Duration>,
    handshake: impl std::future::Future<Output = Result<T, WsError>>,
) -> Result<T, WsError> {
    match timeout {
        None => handshake.await,
        Some(t) => tokio::time::timeout(t, handshake)
            .await
            .unwrap_or_else(|_| {
                Err(WsError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the WebSocket handshake timed out",
                )))
            }),
    }
}

impl<S> TracedStream<S> {
    fn new(
        inner: WebSocketStream<S>,
        connection: model::Connection,
        negotiated: Negotiated,
        config: &Config,
        connection_cx: Context,
    ) -> Self {
        if connection.connection_span_ends_at_upgrade() {
            connection_cx.span().end();
        }
        TracedStream {
            inner,
            spans: MessageSpans::new(&connection),
            receive_budget: connection.trust.receive_span_budget(),
            connection,
            codec: Codec::new(negotiated.envelopes, config.json.clone()),
            app_protocol: negotiated.app_protocol,
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

    /// The application's subprotocol agreed in the handshake, by its own
    /// name (`mcp`, not the tracewire token that carried it).
    pub fn app_protocol(&self) -> Option<&str> {
        self.app_protocol.as_deref()
    }

    /// The session id this side records: the client's, unless this is a
    /// server whose trust policy does not take the client as a parent.
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
    /// message with its envelope and the span's context (control frames come
    /// back unchanged, with no span). The caller ends the span with
    /// [`end_send`] once the frame is handed over, so a failed send shows.
    fn trace_send(&mut self, message: Message, ambient: &Context) -> (Message, Option<Context>) {
        let (message_type, payload): (_, &[u8]) = match &message {
            Message::Text(t) => (MessageType::Text, t.as_bytes()),
            Message::Binary(b) => (MessageType::Binary, b),
            Message::Close(frame) => {
                // Whoever closes first decides the code recorded.
                self.record_close(frame.as_ref());
                return (message, None);
            }
            _ => return (message, None),
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
        (out, Some(cx))
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
        let decoded = self.codec.decode(message_type, frame);
        let size = self.codec.payload_size(message_type, &decoded);
        let (remote, envelope_error, deliver) = match decoded {
            Decoded::Enveloped(ctx, Cow::Owned(payload)) => {
                (Some(ctx), None, Deliver::New(payload))
            }
            Decoded::Enveloped(ctx, Cow::Borrowed(payload)) => {
                (Some(ctx), None, Deliver::Suffix(payload.len()))
            }
            // A binary envelope of a later version is skipped: its payload.
            Decoded::Malformed(e, payload) if payload.len() < frame.len() => {
                (None, Some(e), Deliver::Suffix(payload.len()))
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
        if !self.receive_budget.admit() {
            return Received {
                message,
                context: self.connection_cx.clone(),
                envelope_error,
            };
        }
        let remote = remote.map(|r| self.connection.trust.admit(r));
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
        let decision = self
            .connection
            .close(
                frame.map(|f| u16::from(f.code)),
                frame.map(|f| f.reason.as_str()).unwrap_or(""),
            )
            .with_receive_spans_skipped(self.receive_budget.skipped());
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
        let (message, span) = self.trace_send(message, ambient);
        end_send(span, self.inner.send(message).await)
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

/// Ends a send span (if the message had one) with the outcome of handing
/// the frame to the connection: a failed send is the span's error.
fn end_send(span: Option<Context>, sent: Result<(), WsError>) -> Result<(), WsError> {
    if let Some(cx) = span {
        let span = cx.span();
        if let Err(e) = &sent {
            span.set_status(Status::error(e.to_string()));
        }
        span.end();
    }
    sent
}

/// A stream dropped before its close was recorded (a task cancelled or
/// failed, a runtime shut down, an error the application did not read past)
/// ended without a close handshake: recorded as 1006, an abnormal close.
impl<S> Drop for TracedStream<S> {
    fn drop(&mut self) {
        self.record_close(None);
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
        let (item, span) = self.trace_send(item, &Context::current());
        end_send(span, Pin::new(&mut self.inner).start_send(item))
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
