// Command asr is the voice assistant's speech-to-text stand-in: it serves
// /asr with tracewire's traced Accept, takes a turn's audio chunks and
// answers partial transcripts and a final one. The contract is in
// demos/README.md.
//
//	asr [--host 127.0.0.1] [--port 0]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	tracewire "tracewire.dev/go"
)

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 0, "port to listen on (0: a free one)")
	flag.Parse()
	if err := run(*host, *port); err != nil {
		fmt.Fprintf(os.Stderr, "asr: %v\n", err)
		os.Exit(1)
	}
}

func run(host string, port int) error {
	model, err := tracewire.ParseModel(envOr("TRACEWIRE_MODEL", "connection"))
	if err != nil {
		return fmt.Errorf("TRACEWIRE_MODEL: %w", err)
	}
	pace, err := strconv.ParseFloat(envOr("DEMO_PACE", "1"), 64)
	if err != nil || pace < 0 {
		return fmt.Errorf("DEMO_PACE=%q: expected a non-negative number", os.Getenv("DEMO_PACE"))
	}
	shutdown, err := setupTracing(context.Background())
	if err != nil {
		return err
	}
	defer shutdown()

	listener, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/asr", newHandler(model, pace))
	server := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: tracewire.WSHandshakeTimeout,
		// net/http would read 1 MiB of headers per upgrade.
		MaxHeaderBytes: tracewire.WSHandshakeMaxRequestBytes,
	}
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	fmt.Printf("READY ws://%s/asr\n", listener.Addr())

	stop, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	select {
	case err := <-served:
		return err
	case <-stop.Done():
	}
	ctx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	// Shutdown does not wait for hijacked (WebSocket) connections; their
	// handlers end when the gateway closes them.
	if err := server.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
