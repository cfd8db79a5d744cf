package twwebsocket_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/coder/websocket"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	tracewire "tracewire.dev/go"
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

// The core's limits apply by default; Options override them per endpoint,
// and http.Server.ReadHeaderTimeout bounds the upgrade request itself.
func ExampleOptions_limits() {
	opts := &twwebsocket.AcceptOptions{Options: twwebsocket.Options{
		ReadLimit:        4 << 20,          // this endpoint takes 4 MiB messages (the client must too)
		HandshakeTimeout: 30 * time.Second, // and slow upgrades
	}}
	srv := &http.Server{
		Addr:              "127.0.0.1:8080",
		ReadHeaderTimeout: tracewire.WSHandshakeTimeout,
		MaxHeaderBytes:    tracewire.WSHandshakeMaxRequestBytes,
		Handler: twwebsocket.Handler(opts, func(r *http.Request, c *twwebsocket.Conn) {
			_ = c.Serve(r.Context(), func(ctx context.Context, typ websocket.MessageType, p []byte) error {
				return nil
			})
		}),
	}
	_ = srv // srv.ListenAndServe()
	fmt.Println("default message limit:", tracewire.WSMaxMessageSize, "bytes; handshake:", tracewire.WSHandshakeTimeout)
	// Output:
	// default message limit: 1048576 bytes; handshake: 10s
}
