package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	tracewire "tracewire.dev/go"
	"tracewire.dev/go/twwebsocket"
)

// One turn over loopback: partials every 10 chunks, a final with the chunk
// count, and a transcribe span under the start message's process span with
// the stream metrics of the chunks it received.
func TestOneTurn(t *testing.T) {
	exporter := tracetest.NewInMemoryExporter()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	otel.SetTracerProvider(provider)
	defer provider.Shutdown(context.Background())

	server := httptest.NewServer(newHandler(tracewire.ModelConnection, 0))
	defer server.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := twwebsocket.Dial(ctx, "ws"+strings.TrimPrefix(server.URL, "http")+"/asr", nil)
	if err != nil {
		t.Fatal(err)
	}
	write := func(typ websocket.MessageType, p []byte) {
		if err := conn.Write(ctx, typ, p); err != nil {
			t.Fatal(err)
		}
	}
	write(websocket.MessageText, []byte(`{"type":"start","turn":2}`))
	for range 25 {
		write(websocket.MessageBinary, make([]byte, 640))
	}
	write(websocket.MessageText, []byte(`{"type":"end","turn":2}`))

	var got []map[string]any
	for len(got) < 3 {
		m, err := conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		if err := json.Unmarshal(m.Payload, &body); err != nil {
			t.Fatal(err)
		}
		m.End()
		got = append(got, body)
	}
	if got[0]["type"] != "partial" || got[0]["text"] != "and" || got[1]["text"] != "and tomorrow" {
		t.Errorf("partials: %v", got[:2])
	}
	if got[2]["type"] != "final" || got[2]["text"] != "and tomorrow" || got[2]["chunks"] != float64(25) {
		t.Errorf("final: %v", got[2])
	}
	conn.Close(websocket.StatusNormalClosure, "")

	var transcribe, process *tracetest.SpanStub
	spans := exporter.GetSpans()
	for i := range spans {
		if spans[i].Name == "transcribe" {
			transcribe = &spans[i]
		}
	}
	if transcribe == nil {
		t.Fatalf("no transcribe span in %d spans", len(spans))
	}
	for i := range spans {
		if spans[i].SpanContext.SpanID() == transcribe.Parent.SpanID() {
			process = &spans[i]
		}
	}
	if process == nil || process.Name != "process /asr" {
		t.Fatalf("transcribe's parent is %v, want the process span of start", process)
	}
	attrs := map[attribute.Key]attribute.Value{}
	for _, kv := range transcribe.Attributes {
		attrs[kv.Key] = kv.Value
	}
	if attrs["tracewire.stream.chunk_count"].AsInt64() != 25 || attrs["demo.turn"].AsInt64() != 2 {
		t.Errorf("transcribe attributes: %v", transcribe.Attributes)
	}
	if attrs["tracewire.stream.bytes"].AsInt64() != 25*640 {
		t.Errorf("bytes: %v", attrs["tracewire.stream.bytes"])
	}
}
