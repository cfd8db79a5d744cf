// Command w3c-service is the W3C Trace Context test service
// (github.com/w3c/trace-context, test/) for the Go binding: tracewire's
// Propagator with otel-go's SDK making the span.
//
// For each POST, the harness's headers are extracted with the Propagator,
// the SDK starts a server span under them, and each {"url", "arguments"} of
// the JSON body is posted onward from a client span of its own, its context
// injected.
//
// Usage: w3c-service PORT   (listens on 127.0.0.1:PORT/test)
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"os"
	"time"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"tracewire.dev/go"
)

type call struct {
	URL       string          `json:"url"`
	Arguments json.RawMessage `json:"arguments"`
}

// post sends c from a client span of its own.
func post(ctx context.Context, tracer trace.Tracer, client *http.Client, propagator tracewire.Propagator, c call) error {
	ctx, span := tracer.Start(ctx, "call", trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(c.Arguments))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	propagator.Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

func main() {
	tracer := sdktrace.NewTracerProvider().Tracer("tracewire-w3c")
	propagator := tracewire.Propagator{}
	client := &http.Client{Timeout: 5 * time.Second}
	handler := func(w http.ResponseWriter, r *http.Request) {
		var calls []call
		if err := json.NewDecoder(r.Body).Decode(&calls); err != nil && err != io.EOF {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ctx := propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracer.Start(ctx, "w3c", trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		for _, c := range calls {
			if err := post(ctx, tracer, client, propagator, c); err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
		}
	}
	log.Fatal(http.ListenAndServe("127.0.0.1:"+os.Args[1], http.HandlerFunc(handler)))
}
