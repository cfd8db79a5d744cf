package twwebsocket

import (
	"testing"

	"github.com/coder/websocket"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"

	tracewire "tracewire.dev/go"
)

// An untrusted client: the server's accept span starts a trace of its own
// linked to the client's connect span, the client's baggage never reaches
// the handler, the server records its own session id, and past the budget
// messages get no process span (counted at close).
func TestAcceptUntrustedClient(t *testing.T) {
	rec := newRecorder(t)
	untrusted, err := tracewire.NewTrust(tracewire.RemoteLink, tracewire.BaggageDrop, nil, 2)
	if err != nil {
		t.Fatal(err)
	}
	url, got := echoServer(t, &AcceptOptions{Options: Options{TracerProvider: rec.tp, Trust: untrusted}})
	member, _ := baggage.NewMember("user.id", "u-42")
	bag, _ := baggage.New(member)
	ctx := baggage.ContextWithBaggage(t.Context(), bag)
	c, _, err := Dial(ctx, url, &DialOptions{Options: Options{TracerProvider: rec.tp}})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"n":1}`)); err != nil {
			t.Fatal(err)
		}
		if r := <-got; r.bag != "" {
			t.Errorf("the handler got the client's baggage %q", r.bag)
		}
		m, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m.End()
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	rec.waitSpans(t, 1+1+5+2+5+5) // connects, sends and processes of both sides
	connect := rec.one(t, "connect /chat", trace.SpanKindClient)
	accept := rec.one(t, "accept /chat", trace.SpanKindServer)
	if accept.Parent.IsValid() || accept.SpanContext.TraceID() == connect.SpanContext.TraceID() {
		t.Errorf("accept joined the client's trace: parent %v", accept.Parent)
	}
	if len(accept.Links) != 1 || accept.Links[0].SpanContext.SpanID() != connect.SpanContext.SpanID() {
		t.Errorf("accept links %v, want the client's connect span", accept.Links)
	}
	serverSession, _ := attr(accept, "websocket.session.id")
	clientSession, _ := attr(connect, "websocket.session.id")
	if serverSession.AsString() == clientSession.AsString() {
		t.Error("the server took the client's session id")
	}
	var processes int
	for _, s := range rec.named("process /chat", trace.SpanKindConsumer) {
		// The server's, under its connection span; linked to the client's send.
		if s.Parent.SpanID() == accept.SpanContext.SpanID() && len(s.Links) == 1 {
			processes++
		}
	}
	if processes != 2 {
		t.Errorf("%d server process spans, want 2 (the budget)", processes)
	}
	skipped, _ := attr(accept, "tracewire.receive_spans.skipped")
	if skipped.AsInt64() != 3 {
		t.Errorf("skipped %v, want 3", skipped)
	}
}
