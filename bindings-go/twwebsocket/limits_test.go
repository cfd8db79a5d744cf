package twwebsocket

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.opentelemetry.io/otel/trace"

	tracewire "tracewire.dev/go"
)

// sizeServer is a traced server that reports the size of every message its
// handler sees, and the error that ended its Serve.
func sizeServer(t *testing.T, opts *AcceptOptions) (url string, sizes chan int, done chan error) {
	sizes, done = make(chan int, 16), make(chan error, 1)
	srv := httptest.NewServer(Handler(opts, func(r *http.Request, c *Conn) {
		done <- c.Serve(r.Context(), func(_ context.Context, _ websocket.MessageType, p []byte) error {
			sizes <- len(p)
			return nil
		})
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/limits", sizes, done
}

// plainDial connects without tracewire, so frames carry no envelope and the
// sizes below are exactly what the server's limit sees.
func plainDial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.Dial(t.Context(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(-1)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return ws
}

// refused sends n bytes and asserts the server closes with 1009 and its
// handler never sees them.
func refused(t *testing.T, url string, sizes chan int, done chan error, n int) {
	t.Helper()
	ws := plainDial(t, url)
	if err := ws.Write(t.Context(), websocket.MessageBinary, make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	_, _, err := ws.Read(t.Context())
	if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig {
		t.Fatalf("a %d-byte message: close status %v (%v), want 1009", n, got, err)
	}
	select {
	case serr := <-done:
		if !errors.Is(serr, websocket.ErrMessageTooBig) {
			t.Errorf("Serve returned %v, want ErrMessageTooBig", serr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	select {
	case got := <-sizes:
		t.Errorf("the handler saw a %d-byte message over the limit", got)
	default:
	}
}

// accepted sends n bytes and asserts the handler receives them whole.
func accepted(t *testing.T, url string, sizes chan int, n int) {
	t.Helper()
	ws := plainDial(t, url)
	if err := ws.Write(t.Context(), websocket.MessageBinary, make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-sizes:
		if got != n {
			t.Errorf("the handler saw %d bytes, want %d", got, n)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("a %d-byte message did not reach the handler", n)
	}
	_ = ws.Close(websocket.StatusNormalClosure, "")
}

func TestDefaultReadLimitIsTheCores(t *testing.T) {
	rec := newRecorder(t)
	url, sizes, done := sizeServer(t, &AcceptOptions{Options: Options{TracerProvider: rec.tp}})
	// Far above coder/websocket's own 32 KiB default, up to the core's limit.
	accepted(t, url, sizes, tracewire.WSMaxMessageSize)
	<-done
	refused(t, url, sizes, done, tracewire.WSMaxMessageSize+1)
	// The server records the close it sent.
	rec.waitSpans(t, 2+1)
	var codes []int64
	for _, s := range rec.named("accept /limits", trace.SpanKindServer) {
		v, _ := attr(s, "websocket.close.code")
		codes = append(codes, v.AsInt64())
	}
	if len(codes) != 2 || codes[0]+codes[1] != 1000+1009 {
		t.Errorf("close codes on the accept spans: %v, want 1000 and 1009", codes)
	}
}

func TestReadLimitOverride(t *testing.T) {
	url, sizes, done := sizeServer(t, &AcceptOptions{Options: Options{ReadLimit: 1000}})
	accepted(t, url, sizes, 1000)
	<-done
	refused(t, url, sizes, done, 1001)

	url, sizes, done = sizeServer(t, &AcceptOptions{Options: Options{ReadLimit: -1}})
	accepted(t, url, sizes, 2*tracewire.WSMaxMessageSize)
	<-done
}

func TestTracedClientAppliesTheLimit(t *testing.T) {
	// A traced client holds to the limit too. Messages carry an envelope,
	// so the payload stays a little under the wire limit.
	srv := httptest.NewServer(Handler(&AcceptOptions{Options: Options{ReadLimit: -1}}, func(r *http.Request, c *Conn) {
		_ = c.Serve(r.Context(), func(ctx context.Context, typ websocket.MessageType, p []byte) error {
			return c.Write(ctx, typ, p) // echo
		})
	}))
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/echo"
	c, _, err := Dial(t.Context(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	under := tracewire.WSMaxMessageSize - 4096
	if err := c.Write(t.Context(), websocket.MessageBinary, make([]byte, under)); err != nil {
		t.Fatal(err)
	}
	m, err := c.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	m.End()
	if len(m.Payload) != under {
		t.Fatalf("echo of %d bytes, want %d", len(m.Payload), under)
	}
	if err := c.Write(t.Context(), websocket.MessageBinary, make([]byte, tracewire.WSMaxMessageSize+1)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(t.Context()); !errors.Is(err, websocket.ErrMessageTooBig) {
		t.Fatalf("the client read %v, want ErrMessageTooBig", err)
	}
}

func TestDialHandshakeTimeout(t *testing.T) {
	// A server that takes the TCP connection and never answers the upgrade.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	rec := newRecorder(t)
	start := time.Now()
	_, _, err = Dial(t.Context(), "ws://"+ln.Addr().String()+"/slow", &DialOptions{Options: Options{TracerProvider: rec.tp, HandshakeTimeout: 100 * time.Millisecond}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial: %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Dial took %v with a 100 ms handshake timeout", d)
	}
	if s := rec.one(t, "connect /slow", trace.SpanKindClient); s.Status.Code.String() != "Error" {
		t.Errorf("connect span status %v", s.Status)
	}
}

func TestHandshakeTimeoutDoesNotOutliveTheUpgrade(t *testing.T) {
	// The deadlines end with the handshake: a connection idle for longer
	// than the timeout still works both ways.
	srv := httptest.NewServer(Handler(&AcceptOptions{Options: Options{HandshakeTimeout: 50 * time.Millisecond}}, func(r *http.Request, c *Conn) {
		_ = c.Serve(r.Context(), func(ctx context.Context, typ websocket.MessageType, p []byte) error {
			return c.Write(ctx, typ, p)
		})
	}))
	t.Cleanup(srv.Close)
	c, _, err := Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/idle", &DialOptions{Options: Options{HandshakeTimeout: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	time.Sleep(200 * time.Millisecond)
	if err := c.Write(t.Context(), websocket.MessageText, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	m, err := c.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	m.End()
	if string(m.Payload) != "still here" {
		t.Fatalf("echo %q", m.Payload)
	}
}
