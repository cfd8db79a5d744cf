package twwebsocket_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/coder/websocket"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"tracewire.dev/go/twwebsocket"
)

func ExampleDial() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	opts := twwebsocket.Options{TracerProvider: tp}

	// Server: echo every message, with its context.
	srv := httptest.NewServer(twwebsocket.Handler(&twwebsocket.AcceptOptions{Options: opts}, func(r *http.Request, c *twwebsocket.Conn) {
		_ = c.Serve(r.Context(), func(ctx context.Context, typ websocket.MessageType, p []byte) error {
			return c.Write(ctx, typ, p)
		})
	}))
	defer srv.Close()

	// Client.
	ctx := context.Background()
	c, _, err := twwebsocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/chat", &twwebsocket.DialOptions{Options: opts})
	if err != nil {
		panic(err)
	}
	fmt.Println("envelopes:", c.Envelopes())
	_ = c.Write(ctx, websocket.MessageText, []byte(`{"text":"hi"}`))
	m, err := c.Read(ctx)
	if err != nil {
		panic(err)
	}
	m.End()
	fmt.Printf("echo: %s\n", m.Payload) // the envelope members are stripped on both sides
	fmt.Println("same trace:", trace.SpanContextFromContext(m.Context).TraceID() == c.SpanContext().TraceID())
	_ = c.Close(websocket.StatusNormalClosure, "bye")
	// Output:
	// envelopes: json, binary
	// echo: {"text":"hi"}
	// same trace: true
}
