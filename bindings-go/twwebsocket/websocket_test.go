package twwebsocket

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	tracewire "tracewire.dev/go"
)

// recorder is a tracer provider whose ended spans can be inspected.
type recorder struct {
	exp *tracetest.InMemoryExporter
	tp  *sdktrace.TracerProvider
}

func newRecorder(t *testing.T) *recorder {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return &recorder{exp: exp, tp: tp}
}

func (r *recorder) spans() tracetest.SpanStubs { return r.exp.GetSpans() }

// named returns the spans with this name and kind.
func (r *recorder) named(name string, kind trace.SpanKind) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range r.spans() {
		if s.Name == name && s.SpanKind == kind {
			out = append(out, s)
		}
	}
	return out
}

func (r *recorder) one(t *testing.T, name string, kind trace.SpanKind) tracetest.SpanStub {
	t.Helper()
	got := r.named(name, kind)
	if len(got) != 1 {
		var all []string
		for _, s := range r.spans() {
			all = append(all, s.Name+"/"+s.SpanKind.String())
		}
		t.Fatalf("%d spans %q (%v), want 1; have %v", len(got), name, kind, all)
	}
	return got[0]
}

func attr(s tracetest.SpanStub, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// waitSpans waits until the recorder holds at least n spans.
func (r *recorder) waitSpans(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(r.spans()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d spans, want %d", len(r.spans()), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// echoServer echoes every message through a traced Conn and reports what
// it received (payload and the message context's trace id).
type received struct {
	payload []byte
	traceID trace.TraceID
	bag     string
}

func echoServer(t *testing.T, opts *AcceptOptions) (string, chan received) {
	got := make(chan received, 16)
	srv := httptest.NewServer(Handler(opts, func(r *http.Request, c *Conn) {
		_ = c.Serve(r.Context(), func(ctx context.Context, typ websocket.MessageType, p []byte) error {
			got <- received{payload: p, traceID: trace.SpanContextFromContext(ctx).TraceID(), bag: baggage.FromContext(ctx).String()}
			return c.Write(ctx, typ, p)
		})
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/chat", got
}

func TestDialAcceptConnectionModel(t *testing.T) {
	rec := newRecorder(t)
	url, got := echoServer(t, &AcceptOptions{Options: Options{TracerProvider: rec.tp}})
	ctx, root := rec.tp.Tracer("test").Start(t.Context(), "root")
	member, _ := baggage.NewMember("user", "alice")
	bag, _ := baggage.New(member)
	ctx = baggage.ContextWithBaggage(ctx, bag)

	c, _, err := Dial(ctx, url, &DialOptions{Options: Options{TracerProvider: rec.tp}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Envelopes() != tracewire.AllEnvelopes {
		t.Fatalf("envelopes %v", c.Envelopes())
	}
	msgs := []struct {
		typ websocket.MessageType
		p   []byte
	}{
		{websocket.MessageText, []byte(`{"type":"chat","text":"hi"}`)},
		{websocket.MessageBinary, []byte{1, 2, 3}},
		{websocket.MessageText, []byte(`not json`)},
	}
	for _, m := range msgs {
		if err := c.Write(ctx, m.typ, m.p); err != nil {
			t.Fatal(err)
		}
		r := <-got
		if !bytes.Equal(r.payload, m.p) {
			t.Errorf("server got %q, want %q", r.payload, m.p)
		}
		if r.traceID != root.SpanContext().TraceID() {
			t.Errorf("server message trace %v, want %v", r.traceID, root.SpanContext().TraceID())
		}
		// Baggage travels in envelopes; "not json" carries none.
		if enveloped := m.typ == websocket.MessageBinary || m.p[0] == '{'; enveloped && r.bag != "user=alice" {
			t.Errorf("server message baggage %q", r.bag)
		}
		back, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		back.End()
		if !bytes.Equal(back.Payload, m.p) {
			t.Errorf("echo %q, want %q", back.Payload, m.p)
		}
	}
	if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	root.End()
	// root, connect, accept, 3x(client send, server process, server send, client process).
	rec.waitSpans(t, 3+12)

	connect := rec.one(t, "connect /chat", trace.SpanKindClient)
	accept := rec.one(t, "accept /chat", trace.SpanKindServer)
	if connect.Parent.SpanID() != root.SpanContext().SpanID() {
		t.Error("connect span is not a child of the ambient span")
	}
	if accept.Parent.SpanID() != connect.SpanContext.SpanID() || !accept.Parent.IsRemote() {
		t.Error("accept span is not a remote child of the connect span")
	}
	if v, _ := attr(connect, "websocket.close.code"); v.AsInt64() != 1000 {
		t.Errorf("close code on connect span: %v", v)
	}
	sid, _ := attr(connect, "websocket.session.id")
	if v, _ := attr(accept, "websocket.session.id"); v.AsString() != sid.AsString() || sid.AsString() != c.SessionID() {
		t.Errorf("session ids %q %q %q", sid.AsString(), v.AsString(), c.SessionID())
	}
	sends := rec.named("send /chat", trace.SpanKindProducer)
	procs := rec.named("process /chat", trace.SpanKindConsumer)
	if len(sends) != 6 || len(procs) != 6 {
		t.Fatalf("%d send and %d process spans", len(sends), len(procs))
	}
	for _, s := range rec.spans() {
		if s.SpanContext.TraceID() != root.SpanContext().TraceID() {
			t.Errorf("span %s is in another trace", s.Name)
		}
	}
	// The spans carry exactly the core's decisions, the payload size included
	// (both peers' binary sends have the same attributes here).
	u, _ := neturl.Parse(url)
	port, _ := strconv.Atoi(u.Port())
	model, err := tracewire.NewConnection(tracewire.ConnectionInfo{Role: tracewire.RoleClient, SessionID: c.SessionID(), URLPath: "/chat", ServerAddress: u.Hostname(), ServerPort: port})
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	want, _ := model.Send(tracewire.Binary, 3)
	found := false
	for _, s := range sends {
		if v, _ := attr(s, "websocket.message.type"); v.AsString() == "binary" {
			found = true
			got, w := attribute.NewSet(s.Attributes...), attribute.NewSet(want.Attributes...)
			if len(s.Attributes) != len(want.Attributes) || !got.Equals(&w) {
				t.Errorf("send span attributes %v, want %v", s.Attributes, want.Attributes)
			}
		}
	}
	if !found {
		t.Error("no binary send span")
	}
	// Every enveloped process span is a child of a send span.
	sendIDs := map[trace.SpanID]bool{}
	for _, s := range sends {
		sendIDs[s.SpanContext.SpanID()] = true
	}
	enveloped := 0
	for _, p := range procs {
		if sendIDs[p.Parent.SpanID()] {
			enveloped++
		}
	}
	// "not json" travels without an envelope both ways: its process spans
	// fall back to the connection span.
	if enveloped != 4 {
		t.Errorf("%d process spans are children of send spans, want 4", enveloped)
	}
}

// With default options both peers remove the envelope members from what
// they hand the application; KeepEnvelope leaves them in.
func TestEnvelopeMembersStrippedByDefault(t *testing.T) {
	const sent = `{"text":"hi"}`
	for _, keep := range []bool{false, true} {
		t.Run("KeepEnvelope="+strconv.FormatBool(keep), func(t *testing.T) {
			opts := Options{TracerProvider: newRecorder(t).tp, KeepEnvelope: keep}
			url, got := echoServer(t, &AcceptOptions{Options: opts})
			c, _, err := Dial(t.Context(), url, &DialOptions{Options: opts})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			if err := c.Write(t.Context(), websocket.MessageText, []byte(sent)); err != nil {
				t.Fatal(err)
			}
			atServer := (<-got).payload
			back, err := c.Read(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			back.End()
			for who, p := range map[string][]byte{"server": atServer, "client": back.Payload} {
				if has := bytes.Contains(p, []byte(`"traceparent"`)); has != keep {
					t.Errorf("%s received %s (traceparent present: %v, want %v)", who, p, has, keep)
				}
				if !keep && string(p) != sent {
					t.Errorf("%s received %s, want %s", who, p, sent)
				}
			}
		})
	}
}

// A forwarded frame carrying someone else's envelope, and an application
// member named baggage: the server gets the client's context, never the
// stale one, and both sides get the application's member back untouched.
func TestStaleEnvelopeAndApplicationBaggageMember(t *testing.T) {
	const stale = "0af7651916cd43dd8448eb211c80319c"
	sent := `{"baggage":"app-owned","tracewire":{"traceparent":"00-` + stale + `-b7ad6b7169203331-01","tracestate":"stale=1","baggage":"old=1"},"type":"chat"}`
	const untouched = `{"baggage":"app-owned","type":"chat"}`
	opts := Options{TracerProvider: newRecorder(t).tp}
	url, got := echoServer(t, &AcceptOptions{Options: opts})
	c, _, err := Dial(t.Context(), url, &DialOptions{Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(t.Context(), websocket.MessageText, []byte(sent)); err != nil {
		t.Fatal(err)
	}
	atServer := <-got
	back, err := c.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	back.End()
	if string(atServer.payload) != untouched || string(back.Payload) != untouched {
		t.Errorf("server got %s, client got %s, want %s", atServer.payload, back.Payload, untouched)
	}
	if atServer.traceID != c.SpanContext().TraceID() || atServer.traceID.String() == stale {
		t.Errorf("server trace %v, want the client's %v", atServer.traceID, c.SpanContext().TraceID())
	}
	if atServer.bag != "" {
		t.Errorf("server baggage %q: neither the stale value nor the application's member", atServer.bag)
	}
}

// MCP mode against a third-party MCP server that knows nothing of the
// tracewire handshake: params._meta is written and result._meta read anyway.
func TestMCPModeWithoutNegotiation(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	requests := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		_, req, err := ws.Read(r.Context())
		if err != nil {
			return
		}
		requests <- req
		_ = ws.Write(r.Context(), websocket.MessageText, []byte(`{"jsonrpc":"2.0","id":1,"result":{"_meta":{"traceparent":"`+tp+`","progressToken":1},"content":[]}}`))
		_, _, _ = ws.Read(r.Context())
	}))
	defer srv.Close()
	c, _, err := Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/mcp", &DialOptions{Options: Options{TracerProvider: newRecorder(t).tp, MCP: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if c.Envelopes() != tracewire.NoEnvelopes {
		t.Fatalf("a plain server accepted %v", c.Envelopes())
	}
	if err := c.Write(t.Context(), websocket.MessageText, []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search"}}`)); err != nil {
		t.Fatal(err)
	}
	var req struct {
		Params struct {
			Meta map[string]string `json:"_meta"`
			Name string
		}
	}
	if err := json.Unmarshal(<-requests, &req); err != nil || req.Params.Name != "search" || len(req.Params.Meta) != 1 {
		t.Fatalf("request %+v (%v)", req, err)
	}
	if got, err := tracewire.ParseTraceParent(req.Params.Meta["traceparent"]); err != nil || got.TraceID != c.SpanContext().TraceID() {
		t.Errorf("params._meta.traceparent %q: %v", req.Params.Meta["traceparent"], err)
	}
	m, err := c.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	m.End()
	if string(m.Payload) != `{"jsonrpc":"2.0","id":1,"result":{"_meta":{"progressToken":1},"content":[]}}` {
		t.Errorf("result %s", m.Payload)
	}
	if trace.SpanContextFromContext(m.Context).TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("the result's context was not read: %v", trace.SpanContextFromContext(m.Context))
	}
}

func TestDialAcceptMessageModel(t *testing.T) {
	rec := newRecorder(t)
	url, got := echoServer(t, &AcceptOptions{Options: Options{TracerProvider: rec.tp, Model: tracewire.ModelMessage}})
	c, _, err := Dial(t.Context(), url, &DialOptions{Options: Options{TracerProvider: rec.tp, Model: tracewire.ModelMessage}})
	if err != nil {
		t.Fatal(err)
	}
	// Each request is its own trace.
	var roots []trace.SpanContext
	for i := range 2 {
		ctx, span := rec.tp.Tracer("test").Start(t.Context(), "request")
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"n":`+string(rune('0'+i))+`}`)); err != nil {
			t.Fatal(err)
		}
		r := <-got
		if r.traceID != span.SpanContext().TraceID() {
			t.Errorf("request %d: server trace %v, want %v", i, r.traceID, span.SpanContext().TraceID())
		}
		m, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if trace.SpanContextFromContext(m.Context).TraceID() != span.SpanContext().TraceID() {
			t.Error("the echo's process span is not in the request's trace")
		}
		m.End()
		span.End()
		roots = append(roots, span.SpanContext())
	}
	c.Close(websocket.StatusNormalClosure, "")
	rec.waitSpans(t, 2+2+8+2)

	connect := rec.one(t, "connect /chat", trace.SpanKindClient)
	accept := rec.one(t, "accept /chat", trace.SpanKindServer)
	if roots[0].TraceID() == roots[1].TraceID() || connect.SpanContext.TraceID() == roots[0].TraceID() {
		t.Error("requests share a trace")
	}
	for _, s := range rec.spans() {
		if s.Name == "close /chat" {
			// A close belongs to its connection's trace, under the connection span.
			p := s.Parent.SpanID()
			if len(s.Links) != 0 || (p != connect.SpanContext.SpanID() && p != accept.SpanContext.SpanID()) {
				t.Errorf("close /chat: parent %v, %d links; want a connection span, none", p, len(s.Links))
			}
			continue
		}
		if s.SpanKind != trace.SpanKindProducer && s.SpanKind != trace.SpanKindConsumer {
			continue
		}
		if _, ok := attr(s, "websocket.session.id"); !ok {
			t.Errorf("%s has no session id", s.Name)
		}
		if len(s.Links) != 1 {
			t.Errorf("%s has %d links", s.Name, len(s.Links))
			continue
		}
		l := s.Links[0].SpanContext.SpanID()
		if l != connect.SpanContext.SpanID() && l != accept.SpanContext.SpanID() {
			t.Errorf("%s links to %v, not a connection span", s.Name, l)
		}
	}
	if len(rec.named("close /chat", trace.SpanKindInternal)) != 2 {
		t.Errorf("want a close span on each side")
	}
	if connect.EndTime.After(accept.EndTime.Add(time.Second)) {
		t.Error("connect span did not end at the upgrade")
	}
}

func TestDialToPlainServer(t *testing.T) {
	rec := newRecorder(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		for {
			typ, p, err := ws.Read(r.Context())
			if err != nil {
				return
			}
			if err := ws.Write(r.Context(), typ, p); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c, _, err := Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/plain", &DialOptions{Options: Options{TracerProvider: rec.tp}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Envelopes() != tracewire.NoEnvelopes {
		t.Fatalf("a plain server accepted %v", c.Envelopes())
	}
	for _, m := range [][]byte{[]byte(`{"a":1}`), {0xF5, 0x54, 0x57, 9}} {
		typ := websocket.MessageText
		if m[0] == 0xF5 {
			typ = websocket.MessageBinary
		}
		if err := c.Write(t.Context(), typ, m); err != nil {
			t.Fatal(err)
		}
		back, err := c.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		back.End()
		if !bytes.Equal(back.Payload, m) || back.EnvelopeErr != nil {
			t.Errorf("plain server echoed %q (err %v)", back.Payload, back.EnvelopeErr)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
	rec.waitSpans(t, 5)
	connect := rec.one(t, "connect /plain", trace.SpanKindClient)
	for _, p := range rec.named("process /plain", trace.SpanKindConsumer) {
		if p.Parent.SpanID() != connect.SpanContext.SpanID() {
			t.Error("without an envelope, a process span's parent is the connection span")
		}
	}
}

func TestAcceptPlainClient(t *testing.T) {
	rec := newRecorder(t)
	url, got := echoServer(t, &AcceptOptions{Options: Options{TracerProvider: rec.tp}})
	ws, _, err := websocket.Dial(t.Context(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	for _, m := range []string{`{"a":1}`, `plain text`} {
		if err := ws.Write(t.Context(), websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
		if r := <-got; string(r.payload) != m {
			t.Errorf("server got %q", r.payload)
		}
		_, back, err := ws.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if string(back) != m {
			t.Errorf("a plain client got %q, want %q (no envelope)", back, m)
		}
	}
	if err := ws.Write(t.Context(), websocket.MessageBinary, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	<-got
	if _, back, _ := ws.Read(t.Context()); !bytes.Equal(back, []byte{1, 2}) {
		t.Errorf("binary to a plain client: %x", back)
	}
	ws.Close(websocket.StatusNormalClosure, "")
	rec.waitSpans(t, 7)
	accept := rec.one(t, "accept /chat", trace.SpanKindServer)
	if accept.Parent.IsValid() {
		t.Error("accept span has a parent without a traceparent")
	}
	if v, _ := attr(accept, "websocket.close.code"); v.AsInt64() != 1000 {
		t.Errorf("close code %v", v)
	}
}

func TestAcceptBrowserQueryString(t *testing.T) {
	rec := newRecorder(t)
	url, got := echoServer(t, &AcceptOptions{Options: Options{TracerProvider: rec.tp}})
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	// What `new WebSocket(url, ["tracewire.v1.json"])` sends; it reads ws.protocol.
	ws, _, err := websocket.Dial(t.Context(), url+"?traceparent="+tp+"&baggage=k%3Dv",
		&websocket.DialOptions{Subprotocols: []string{"tracewire.v1.json"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if ws.Subprotocol() != "tracewire.v1.json" {
		t.Errorf("selected %q", ws.Subprotocol())
	}
	// A browser sends the JSON envelope itself.
	msg := `{"tracewire":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01"},"q":1}`
	ws.Write(t.Context(), websocket.MessageText, []byte(msg))
	r := <-got
	if r.traceID.String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace %v", r.traceID)
	}
	_, back, _ := ws.Read(t.Context())
	var obj map[string]any
	if err := json.Unmarshal(back, &obj); err != nil || obj["tracewire"] == nil || obj["q"] != float64(1) {
		t.Errorf("echo %s", back)
	}
	ws.Close(websocket.StatusNormalClosure, "")
	rec.waitSpans(t, 3)
	accept := rec.one(t, "accept /chat", trace.SpanKindServer)
	if accept.Parent.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("accept parent %v", accept.Parent)
	}
}

func TestConcurrentWritesOnOneConn(t *testing.T) {
	rec := newRecorder(t)
	url, got := echoServer(t, &AcceptOptions{Options: Options{TracerProvider: rec.tp}})
	c, _, err := Dial(t.Context(), url, &DialOptions{Options: Options{TracerProvider: rec.tp}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n * 4 {
			m, err := c.Read(t.Context())
			if err != nil {
				return
			}
			m.End()
		}
	}()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			for j := range 4 {
				if err := c.Write(t.Context(), websocket.MessageBinary, []byte{byte(i), byte(j)}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for range n * 4 {
		<-got
	}
	<-done
	c.Close(websocket.StatusNormalClosure, "")
}

func TestDialFailureEndsSpanWithError(t *testing.T) {
	rec := newRecorder(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	_, _, err := Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/x", &DialOptions{Options: Options{TracerProvider: rec.tp}})
	if err == nil {
		t.Fatal("dial to a 404 succeeded")
	}
	s := rec.one(t, "connect /x", trace.SpanKindClient)
	if s.Status.Code.String() != "Error" {
		t.Errorf("status %v", s.Status)
	}
}

func TestAppSubprotocolComposedBetweenTracedPeers(t *testing.T) {
	rec := newRecorder(t)
	server := make(chan [2]string, 1)
	srv := httptest.NewServer(Handler(&AcceptOptions{
		Options:   Options{TracerProvider: rec.tp, Envelopes: tracewire.EnvelopeJSON},
		WebSocket: &websocket.AcceptOptions{Subprotocols: []string{"mcp"}},
	}, func(r *http.Request, c *Conn) {
		server <- [2]string{c.Subprotocol(), c.WebSocket().Subprotocol()}
		_ = c.Serve(r.Context(), func(ctx context.Context, typ websocket.MessageType, p []byte) error {
			return c.Write(ctx, typ, p)
		})
	}))
	defer srv.Close()
	c, _, err := Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/mcp", &DialOptions{
		Options:   Options{TracerProvider: rec.tp},
		WebSocket: &websocket.DialOptions{Subprotocols: []string{"graphql-ws", "mcp"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(websocket.StatusNormalClosure, "")
	if c.Subprotocol() != "mcp" || c.WebSocket().Subprotocol() != "tracewire.v1.json+mcp" || c.Envelopes() != tracewire.EnvelopeJSON {
		t.Fatalf("client: %q %q %v", c.Subprotocol(), c.WebSocket().Subprotocol(), c.Envelopes())
	}
	if got := <-server; got != [2]string{"mcp", "tracewire.v1.json+mcp"} {
		t.Errorf("server application sees %q", got)
	}
	if err := c.Write(t.Context(), websocket.MessageText, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	back, err := c.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	back.End()
	if string(back.Payload) != `{"a":1}` || back.EnvelopeErr != nil {
		t.Errorf("echo %q (err %v)", back.Payload, back.EnvelopeErr)
	}
}

func TestDialToPlainAppServer(t *testing.T) {
	rec := newRecorder(t)
	seen := make(chan []byte, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"mcp"}})
		if err != nil {
			return
		}
		defer ws.CloseNow()
		for {
			typ, p, err := ws.Read(r.Context())
			if err != nil {
				return
			}
			seen <- p
			if err := ws.Write(r.Context(), typ, p); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c, _, err := Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/plain", &DialOptions{
		Options:   Options{TracerProvider: rec.tp},
		WebSocket: &websocket.DialOptions{Subprotocols: []string{"mcp"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(websocket.StatusNormalClosure, "")
	if c.Envelopes() != tracewire.NoEnvelopes || c.Subprotocol() != "mcp" {
		t.Fatalf("a plain mcp server: %v %q", c.Envelopes(), c.Subprotocol())
	}
	m := []byte{0xF5, 0x54, 0x57, 9}
	if err := c.Write(t.Context(), websocket.MessageBinary, m); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; !bytes.Equal(got, m) {
		t.Errorf("the plain server got %x, want %x", got, m)
	}
}

// A handler that panics: its process span ends with the panic as its
// error, the connection closes with 1011 (recorded as an abnormal close),
// and the panic reaches net/http, which logs it and keeps serving.
func TestServeHandlerPanicIsRecorded(t *testing.T) {
	rec := newRecorder(t)
	srv := httptest.NewUnstartedServer(Handler(&AcceptOptions{Options: Options{TracerProvider: rec.tp}},
		func(r *http.Request, c *Conn) {
			_ = c.Serve(r.Context(), func(context.Context, websocket.MessageType, []byte) error {
				panic("boom")
			})
		}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // net/http's report of the panic
	srv.Start()
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/chat"

	c, _, err := Dial(t.Context(), url, &DialOptions{Options: Options{TracerProvider: rec.tp}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Write(t.Context(), websocket.MessageText, []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	_, err = c.Read(t.Context())
	if got := websocket.CloseStatus(err); got != websocket.StatusInternalError {
		t.Fatalf("client read %v (status %v), want a 1011 close", err, got)
	}
	_ = c.CloseNow()

	rec.waitSpans(t, 4) // connect, send, process, accept
	process := rec.one(t, "process /chat", trace.SpanKindConsumer)
	if process.Status.Code != codes.Error || process.Status.Description != "panic: boom" {
		t.Errorf("process span status %+v", process.Status)
	}
	if len(process.Events) == 0 || process.Events[0].Name != "exception" {
		t.Errorf("process span events %+v", process.Events)
	}
	accept := rec.one(t, "accept /chat", trace.SpanKindServer)
	if code, _ := attr(accept, "websocket.close.code"); code.AsInt64() != 1011 {
		t.Errorf("accept close code %v", code.Emit())
	}
	if accept.Status.Code != codes.Error {
		t.Errorf("accept span status %+v", accept.Status)
	}
}
