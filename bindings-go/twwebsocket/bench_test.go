package twwebsocket

// BenchmarkLoopback, printed by `make bench` with the root package's
// benchmarks.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// benchPayload is the message of the root package's envelope benchmarks.
var benchPayload = []byte(`{"type":"chat","session":"s-42","text":"What is the weather like in Lisbon tomorrow afternoon?"}`)

// BenchmarkLoopback is one JSON message out and its echo back over a
// loopback WebSocket: traced (spans from an SDK tracer provider with no
// exporter, envelopes on) vs plain coder/websocket. It shows what tracing
// adds per message, model decisions from the core included.
func BenchmarkLoopback(b *testing.B) {
	b.Run("traced/ours", func(b *testing.B) { benchLoopback(b, true) })
	b.Run("plain", func(b *testing.B) { benchLoopback(b, false) })
}

func benchLoopback(b *testing.B, traced bool) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	defer tp.Shutdown(context.Background())
	opts := Options{TracerProvider: tp}
	var srv *httptest.Server
	if traced {
		srv = httptest.NewServer(Handler(&AcceptOptions{Options: opts}, func(r *http.Request, c *Conn) {
			_ = c.Serve(r.Context(), func(ctx context.Context, typ websocket.MessageType, p []byte) error {
				return c.Write(ctx, typ, p)
			})
		}))
	} else {
		srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ws, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			defer ws.CloseNow()
			for {
				typ, p, err := ws.Read(r.Context())
				if err != nil || ws.Write(r.Context(), typ, p) != nil {
					return
				}
			}
		}))
	}
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/chat"
	ctx := context.Background()
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	if traced {
		c, _, err := Dial(ctx, url, &DialOptions{Options: opts})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close(websocket.StatusNormalClosure, "")
		for b.Loop() {
			if err := c.Write(ctx, websocket.MessageText, benchPayload); err != nil {
				b.Fatal(err)
			}
			m, err := c.Read(ctx)
			if err != nil {
				b.Fatal(err)
			}
			m.End()
		}
		return
	}
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close(websocket.StatusNormalClosure, "")
	for b.Loop() {
		if err := ws.Write(ctx, websocket.MessageText, benchPayload); err != nil {
			b.Fatal(err)
		}
		if _, _, err := ws.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
