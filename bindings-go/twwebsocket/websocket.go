package twwebsocket

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	tracewire "tracewire.dev/go"
)

// instrumentationName names the tracer this package uses (its import path,
// as OpenTelemetry instrumentation libraries do).
const instrumentationName = "tracewire.dev/go/twwebsocket"

// Options configure tracing on one connection.
type Options struct {
	// TracerProvider creates the spans (nil: otel.GetTracerProvider()).
	TracerProvider trace.TracerProvider
	// Model is the tracing model (zero: tracewire.ModelConnection).
	Model tracewire.Model
	// Envelopes are the formats offered (client) or supported (server);
	// zero means tracewire.AllEnvelopes. Set HandshakeOnly to use none.
	Envelopes tracewire.Envelopes
	// HandshakeOnly propagates context in the handshake only, never in messages.
	HandshakeOnly bool
	// JSONPath is the member path of the JSON envelope object ("" is the
	// default member, "tracewire"). Both peers must agree.
	JSONPath string
	// MCP selects MCP / JSON-RPC mode: the context in params._meta of
	// requests and notifications and result._meta of results, read and
	// written on every text frame whatever the handshake negotiated, as MCP
	// peers do (JSONPath is then ignored).
	MCP bool
	// KeepEnvelope leaves the JSON envelope's W3C members in received payloads.
	// By default they are removed, so the application sees what the sender
	// wrote (the default of every tracewire language).
	KeepEnvelope bool
	// ReadLimit is the largest message Read accepts, in bytes on the wire
	// (envelope included). Zero means tracewire.WSMaxMessageSize (1 MiB,
	// the core's default, which replaces coder/websocket's 32 KiB); a
	// negative value means no limit. A larger message is never buffered
	// whole nor handed to the application: Read fails with an error
	// wrapping websocket.ErrMessageTooBig and the connection is closed with
	// 1009 (websocket.StatusMessageTooBig). coder/websocket has no separate
	// frame limit (every frame is part of a message, so this bounds it) and
	// writes synchronously (no send queue to bound), so the core's frame and
	// write buffer limits have nothing to apply to here.
	ReadLimit int64
	// HandshakeTimeout bounds the opening handshake. Zero means
	// tracewire.WSHandshakeTimeout (10 s); a negative value means none (ctx
	// alone bounds Dial). Dial applies it as a timeout on the context of the
	// dial, from the TCP connect to the upgrade; Accept as a write deadline
	// on the upgrade response, cleared once upgraded. net/http reads the
	// request before Accept runs: bound that read with http.Server's
	// ReadHeaderTimeout (tracewire.WSHandshakeTimeout is a fitting value).
	HandshakeTimeout time.Duration
	// Trust is how far the peer is trusted (nil: trusted, its context is
	// the parent). A server on the internet sets tracewire.Untrusted(): the
	// client's context is only linked, its baggage dropped, its session id
	// replaced and its messages' process spans capped (docs/PROTOCOL.md
	// section 12).
	Trust *tracewire.Trust
}

func (o *Options) readLimit() int64 {
	switch {
	case o.ReadLimit == 0:
		return tracewire.WSMaxMessageSize
	case o.ReadLimit < 0:
		return -1
	}
	return o.ReadLimit
}

func (o *Options) handshakeTimeout() time.Duration {
	if o.HandshakeTimeout == 0 {
		return tracewire.WSHandshakeTimeout
	}
	return o.HandshakeTimeout
}

func (o *Options) envelopes() tracewire.Envelopes {
	switch {
	case o.HandshakeOnly:
		return tracewire.NoEnvelopes
	case o.Envelopes == 0:
		return tracewire.AllEnvelopes
	}
	return o.Envelopes
}

func (o *Options) tracer() trace.Tracer {
	tp := o.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return tp.Tracer(instrumentationName)
}

// DialOptions configure Dial.
type DialOptions struct {
	Options
	// SessionID is sent as the session id ("" generates one).
	SessionID string
	// WebSocket are the options passed to websocket.Dial (may be nil). Its
	// HTTPHeader is copied, never modified. Its Subprotocols are the
	// application's own: Dial offers each composed with the tracewire
	// tokens and alone, and Conn.Subprotocol says which one was agreed.
	WebSocket *websocket.DialOptions
}

// AcceptOptions configure Accept.
type AcceptOptions struct {
	Options
	// WebSocket are the options passed to websocket.Accept (may be nil). Its
	// Subprotocols are the application's own, which the core selects from
	// (alone or composed with a tracewire token); Conn.Subprotocol says which
	// one was agreed.
	WebSocket *websocket.AcceptOptions
}

// Conn is a traced WebSocket connection: every Write starts a send span
// and carries its context in the negotiated envelope; every Read starts a
// process span under the message's context. It wraps a *websocket.Conn.
type Conn struct {
	ws        *websocket.Conn
	tracer    trace.Tracer
	conn      *tracewire.Connection
	codec     *tracewire.Codec
	envelopes tracewire.Envelopes
	appProto  string
	sessionID string
	trust     *tracewire.Trust
	budget    *tracewire.ReceiveSpanBudget
	connSpan  trace.Span
	connSC    trace.SpanContext
	connBag   baggage.Baggage
	closeOnce sync.Once
	// The core's send and receive decisions for text and binary messages,
	// prepared once (as the core's own WebSocket layer does): only the
	// payload size changes from message to message.
	sendSpans, recvSpans [2]tracewire.SpanDecision
}

// Dial opens a traced WebSocket connection to rawURL: it starts the
// connection span ("connect {path}", parent: the span in ctx), sends its
// context and a session id in the upgrade request, offers the envelopes as
// subprotocols (composed with the application's, see DialOptions.WebSocket)
// and uses the envelopes the server selected (none with a server that does
// not know tracewire, which then sees an ordinary WebSocket client). rawURL is
// a ws:// or wss:// URL; anything else fails with an error that unwraps to
// tracewire.ErrInvalidURL.
func Dial(ctx context.Context, rawURL string, opts *DialOptions) (*Conn, *http.Response, error) {
	if opts == nil {
		opts = &DialOptions{}
	}
	target, err := tracewire.ParseTarget(rawURL)
	if err != nil {
		return nil, nil, err
	}
	var wsOpts websocket.DialOptions
	if opts.WebSocket != nil {
		wsOpts = *opts.WebSocket
	}
	hs := &tracewire.ClientHandshake{Offered: opts.envelopes(), AppProtocols: wsOpts.Subprotocols, SessionID: opts.SessionID}
	offer, err := hs.Subprotocols()
	if err != nil {
		return nil, nil, err
	}
	wsOpts.Subprotocols = offer
	if hs.SessionID == "" {
		hs.SessionID = tracewire.NewSessionID()
	}
	conn, err := newConnection(connectionInfo(opts.Model, tracewire.RoleClient, hs.SessionID, target), opts.Trust)
	if err != nil {
		return nil, nil, err
	}
	tracer := opts.tracer()
	open, err := conn.Open()
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	spanCtx, span := open.Start(ctx, tracer, tracewire.Sources{})
	fail := func(err error) error {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		span.End()
		conn.Close()
		return err
	}
	header, err := hs.RequestHeader(spanCtx)
	if err != nil {
		return nil, nil, fail(err)
	}
	merged := wsOpts.HTTPHeader.Clone()
	if merged == nil {
		merged = http.Header{}
	}
	for k, vs := range header {
		merged[k] = vs
	}
	wsOpts.HTTPHeader = merged
	dialCtx := ctx
	if d := opts.handshakeTimeout(); d > 0 {
		var cancel context.CancelFunc
		dialCtx, cancel = context.WithTimeout(ctx, d)
		defer cancel() // the connection does not keep the dial's context
	}
	ws, resp, err := websocket.Dial(dialCtx, rawURL, &wsOpts)
	if err != nil {
		return nil, resp, fail(err)
	}
	envelopes, app, err := hs.Negotiated(ws.Subprotocol())
	if err != nil {
		ws.CloseNow()
		return nil, resp, fail(err)
	}
	c := &Conn{
		ws: ws, tracer: tracer, conn: conn, sessionID: conn.SessionID(), trust: opts.Trust,
		envelopes: envelopes, appProto: app, connSpan: span, connSC: span.SpanContext(),
		connBag: baggage.FromContext(spanCtx),
	}
	if err := c.setup(&opts.Options); err != nil {
		ws.CloseNow()
		return nil, resp, fail(err)
	}
	return c, resp, nil
}

// Accept upgrades an HTTP request to a traced WebSocket connection: it
// reads the client's context (headers, else query parameters) and session
// id, selects the subprotocol (the core's choice among the client's offer,
// the envelopes supported and the application's subprotocols), starts the
// connection span ("accept {path}", parent: the client's context) and
// upgrades with websocket.Accept. A plain client (no tracewire headers) gets
// no envelopes and ordinary frames.
func Accept(w http.ResponseWriter, r *http.Request, opts *AcceptOptions) (*Conn, error) {
	if opts == nil {
		opts = &AcceptOptions{}
	}
	var apps []string
	if opts.WebSocket != nil {
		apps = opts.WebSocket.Subprotocols
	}
	hs, err := tracewire.ReadHandshake(r, opts.envelopes(), apps)
	if err != nil {
		return nil, err
	}
	conn, err := newConnection(connectionInfo(opts.Model, tracewire.RoleServer, hs.SessionID, tracewire.RequestTarget(r)), opts.Trust)
	if err != nil {
		return nil, err
	}
	tracer := opts.tracer()
	open, err := conn.Open()
	if err != nil {
		conn.Close()
		return nil, err
	}
	// The received context alone (as the policy admits it): nothing of the
	// request's own context may pass for what the client sent.
	remote := opts.Trust.Admit(hs.Context.Context(context.Background()))
	spanCtx, span := open.Start(r.Context(), tracer, tracewire.Sources{Remote: remote})
	ws, err := accept(w, r, opts, hs.Subprotocol)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		span.End()
		conn.Close()
		return nil, err
	}
	c := &Conn{
		ws: ws, tracer: tracer, conn: conn, sessionID: conn.SessionID(), trust: opts.Trust,
		envelopes: hs.Envelopes, appProto: hs.AppProtocol, connSpan: span, connSC: span.SpanContext(),
		connBag: baggage.FromContext(spanCtx),
	}
	if err := c.setup(&opts.Options); err != nil {
		ws.CloseNow()
		span.End()
		conn.Close()
		return nil, err
	}
	return c, nil
}

// accept upgrades r within the handshake timeout. websocket.Accept takes no
// context, so a write deadline on the response's connection is what bounds
// the upgrade response to a peer that does not read it. net/http flushes
// that response and then clears the deadlines as it hands the connection
// over (Hijack); clearing it here too keeps a deadline from outliving the
// handshake with a ResponseWriter that hijacks otherwise.
//
// coder/websocket selects the first of AcceptOptions.Subprotocols the client
// offered; given only the core's selection, it answers exactly that.
func accept(w http.ResponseWriter, r *http.Request, opts *AcceptOptions, selected string) (*websocket.Conn, error) {
	var wsOpts websocket.AcceptOptions
	if opts.WebSocket != nil {
		wsOpts = *opts.WebSocket
	}
	wsOpts.Subprotocols = nil
	if selected != "" {
		wsOpts.Subprotocols = []string{selected}
	}
	d := opts.handshakeTimeout()
	if d <= 0 {
		return websocket.Accept(w, r, &wsOpts)
	}
	rc := http.NewResponseController(w)
	// A writer that cannot take deadlines (some middleware) upgrades unbounded.
	bounded := rc.SetWriteDeadline(time.Now().Add(d)) == nil
	ws, err := websocket.Accept(w, r, &wsOpts)
	if bounded {
		_ = rc.SetWriteDeadline(time.Time{})
	}
	return ws, err
}

// Handler returns an http.Handler that accepts each request with opts and
// calls serve with the traced connection. The connection is closed when
// serve returns, unless serve closed it: with 1000, or with 1011 (internal
// error, recorded as an abnormal close) if serve panicked; the panic then
// goes on to net/http.
func Handler(opts *AcceptOptions, serve func(r *http.Request, c *Conn)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, opts)
		if err != nil {
			return // websocket.Accept has written the HTTP error
		}
		defer func() {
			if p := recover(); p != nil {
				_ = c.Close(websocket.StatusInternalError, "")
				panic(p)
			}
			_ = c.Close(websocket.StatusNormalClosure, "")
		}()
		serve(r, c)
	})
}

// connectionInfo describes a connection to the core: the target's address,
// port and path as the core read them.
func connectionInfo(model tracewire.Model, role tracewire.Role, sessionID string, t tracewire.Target) tracewire.ConnectionInfo {
	return tracewire.ConnectionInfo{
		Model: model, Role: role, SessionID: sessionID,
		URLPath: t.Path, ServerAddress: t.Address, ServerPort: t.Port,
	}
}

// newConnection describes the connection, with the trust policy applied
// (nil: trusted).
func newConnection(info tracewire.ConnectionInfo, trust *tracewire.Trust) (*tracewire.Connection, error) {
	conn, err := tracewire.NewConnection(info)
	if err != nil || trust == nil {
		return conn, err
	}
	defer conn.Close()
	return conn.WithTrust(trust)
}

func (c *Conn) setup(o *Options) error {
	c.ws.SetReadLimit(o.readLimit())
	budget, err := c.conn.ReceiveSpanBudget()
	if err != nil {
		return err
	}
	c.budget = budget
	for i, t := range [2]tracewire.MessageType{tracewire.Text, tracewire.Binary} {
		send, err := c.conn.Send(t, 0)
		if err != nil {
			return err
		}
		recv, err := c.conn.Receive(t, 0)
		if err != nil {
			return err
		}
		c.sendSpans[i], c.recvSpans[i] = send.Without(tracewire.MessageSizeKey), recv.Without(tracewire.MessageSizeKey)
	}
	var codec *tracewire.Codec
	if o.MCP {
		codec, err = tracewire.NewMCPCodec(c.envelopes, o.KeepEnvelope)
	} else {
		codec, err = tracewire.NewCodec(c.envelopes, o.JSONPath, o.KeepEnvelope)
	}
	if err != nil {
		return err
	}
	c.codec = codec
	if c.conn.EndsAtUpgrade() {
		c.connSpan.End()
	}
	return nil
}

// WebSocket returns the underlying connection (for Ping, CloseRead...).
// Frames written or read through it directly are not traced.
func (c *Conn) WebSocket() *websocket.Conn { return c.ws }

// SessionID is the session id this side records: the client's, unless this
// is a server whose Options.Trust does not take the client as a parent.
func (c *Conn) SessionID() string { return c.sessionID }

// Envelopes are the envelope formats in use on this connection.
func (c *Conn) Envelopes() tracewire.Envelopes { return c.envelopes }

// Subprotocol is the application's subprotocol agreed in the handshake, by
// its own name ("mcp", not the tracewire token that carried it), or "".
// WebSocket().Subprotocol() is the token on the wire.
func (c *Conn) Subprotocol() string { return c.appProto }

// SpanContext is the connection span's context.
func (c *Conn) SpanContext() trace.SpanContext { return c.connSC }

// index is the position of a frame type in the prepared decisions.
func index(t websocket.MessageType) int {
	if t == websocket.MessageBinary {
		return 1
	}
	return 0
}

// Write sends one message under a send span (parent and links per the
// model, starting from the span in ctx). The span's context travels in the
// negotiated envelope, as the core's codec says (docs/PROTOCOL.md section
// 3.4).
func (c *Conn) Write(ctx context.Context, typ websocket.MessageType, p []byte) error {
	sctx, span := c.sendSpans[index(typ)].Start(ctx, c.tracer, c.sources(nil),
		trace.WithAttributes(tracewire.MessageSizeKey.Int(len(p))))
	err := c.codec.Write(sctx, messageType(typ), p, func(frame []byte) error {
		return c.ws.Write(ctx, typ, frame)
	})
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
	return err
}

// sources are the contexts a span of this connection may start from.
func (c *Conn) sources(remote context.Context) tracewire.Sources {
	return tracewire.Sources{Remote: remote, Connection: c.connSC, ConnectionBaggage: c.connBag}
}

// messageType is the core's name for a frame type.
func messageType(t websocket.MessageType) tracewire.MessageType {
	if t == websocket.MessageBinary {
		return tracewire.Binary
	}
	return tracewire.Text
}

// Message is one received data message, handed to the application with
// its context.
type Message struct {
	// Context holds the process span, whose parent is the message's context
	// (per the model), and the message's baggage.
	Context context.Context
	// Type is the frame type.
	Type websocket.MessageType
	// Payload is what the application should see: the frame without its
	// envelope, or the whole frame when it carried none or a malformed one.
	Payload []byte
	// EnvelopeErr is why the frame's envelope was malformed (nil otherwise);
	// it unwraps to tracewire.ErrInvalidEnvelope, tracewire.ErrInvalidTraceParent or
	// ErrUnsupportedEnvelopeVersion. The payload is still delivered.
	EnvelopeErr error
	span        trace.Span
}

// Span is the process span.
func (m *Message) Span() trace.Span { return m.span }

// End ends the process span: call it when the message has been processed.
func (m *Message) End() { m.span.End() }

// Read waits for the next data message and starts its process span. End
// the span with Message.End once processed (Serve does it for you). When
// the connection ends, Read records the close (code and reason, 1009 for a
// message over Options.ReadLimit, or 1006) and returns the error of
// websocket.Conn.Read.
func (c *Conn) Read(ctx context.Context) (*Message, error) {
	typ, frame, err := c.ws.Read(ctx)
	if err != nil {
		var ce websocket.CloseError
		switch {
		case errors.As(err, &ce):
			c.finish(int(ce.Code), ce.Reason)
		case errors.Is(err, websocket.ErrMessageTooBig):
			// coder/websocket has closed the connection with 1009 itself.
			c.finish(int(websocket.StatusMessageTooBig), "")
		default:
			c.finish(-1, "")
		}
		return nil, err
	}
	rec := c.codec.Decode(messageType(typ), frame)
	m := &Message{Type: typ, Payload: rec.Payload, EnvelopeErr: rec.Err}
	if !c.budget.Admit() {
		// Over the receive span budget: no span; the handler runs in the
		// connection's context.
		m.Context = baggage.ContextWithBaggage(trace.ContextWithSpanContext(ctx, c.connSC), c.connBag)
		m.span = trace.SpanFromContext(context.Background())
		return m, nil
	}
	m.Context, m.span = c.recvSpans[index(typ)].Start(ctx, c.tracer, c.sources(c.trust.Admit(rec.Remote)),
		trace.WithAttributes(tracewire.MessageSizeKey.Int(rec.BodySize)))
	if rec.Event != nil {
		m.span.AddEvent(rec.Event.Name, trace.WithAttributes(rec.Event.Attributes...))
	}
	return m, nil
}

// Serve reads messages until the connection ends, calling handle for each
// with its context (holding the process span, ended when handle returns).
// It returns nil when the peer closed normally (1000 or 1001), the error of
// handle if it fails, or the read error.
func (c *Conn) Serve(ctx context.Context, handle func(ctx context.Context, typ websocket.MessageType, payload []byte) error) error {
	for {
		m, err := c.Read(ctx)
		if err != nil {
			switch websocket.CloseStatus(err) {
			case websocket.StatusNormalClosure, websocket.StatusGoingAway:
				return nil
			}
			return err
		}
		if herr := handleOne(m, handle); herr != nil {
			return herr
		}
	}
}

// handleOne calls handle for m and ends m's process span with the outcome:
// the error handle returned, or its panic, which then goes on.
func handleOne(m *Message, handle func(ctx context.Context, typ websocket.MessageType, payload []byte) error) (err error) {
	defer func() {
		p := recover()
		if p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
		if err != nil {
			m.span.RecordError(err, trace.WithStackTrace(p != nil))
			m.span.SetStatus(codes.Error, err.Error())
		}
		m.End()
		if p != nil {
			panic(p)
		}
	}()
	return handle(m.Context, m.Type, m.Payload)
}

// Close records the close (on the connection span, or as a close span in
// the message model) and performs the WebSocket close handshake.
func (c *Conn) Close(code websocket.StatusCode, reason string) error {
	c.finish(int(code), reason)
	return c.ws.Close(code, reason)
}

// CloseNow closes the connection without a close handshake (recorded as 1006).
func (c *Conn) CloseNow() error {
	c.finish(-1, "")
	return c.ws.CloseNow()
}

// finish records the end of the connection once and frees the C objects.
func (c *Conn) finish(code int, reason string) {
	c.closeOnce.Do(func() {
		if d, err := c.conn.ClosedAfter(code, reason, c.budget); err == nil {
			d.Apply(context.Background(), c.tracer, c.connSpan)
		} else {
			c.connSpan.End()
		}
		c.conn.Close()
		if c.codec != nil {
			c.codec.Close()
		}
	})
}
