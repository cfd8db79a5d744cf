package tracewire_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"

	tracewire "tracewire.dev/go"
)

// remoteContext is a context as a server would receive it.
func remoteContext() context.Context {
	h := http.Header{}
	h.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.Set("baggage", "userId=alice")
	return tracewire.Extract(context.Background(), h)
}

func ExampleParseTraceParent() {
	tp, err := tracewire.ParseTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if err != nil {
		panic(err)
	}
	fmt.Println(tp.TraceID, tp.SpanID, tp.IsSampled())

	_, err = tracewire.ParseTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01")
	fmt.Println(errors.Is(err, tracewire.ErrInvalidTraceParent))
	// Output:
	// 4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7 true
	// true
}

func ExampleExtract() {
	h := http.Header{}
	h.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.Set("tracestate", "rojo=00f067aa0ba902b7")
	h.Set("baggage", "userId=alice")
	ctx := tracewire.Extract(context.Background(), h)

	sc := trace.SpanContextFromContext(ctx)
	fmt.Println(sc.TraceID(), sc.IsRemote(), sc.TraceState())
	fmt.Println(baggage.FromContext(ctx).Member("userId").Value())
	// Output:
	// 4bf92f3577b34da6a3ce929d0e0e4736 true rojo=00f067aa0ba902b7
	// alice
}

func ExampleInject() {
	h := http.Header{}
	tracewire.Inject(remoteContext(), h)
	fmt.Println(h.Get("traceparent"))
	fmt.Println(h.Get("baggage"))
	// Output:
	// 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
	// userId=alice
}

func ExampleExtractQuery() {
	// Browsers cannot set headers on a WebSocket: they use the query string.
	ctx, issues := tracewire.ExtractQuery(context.Background(),
		"traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01&tracestate=bad%20key%3D1")
	fmt.Println(trace.SpanContextFromContext(ctx).TraceID())
	fmt.Println(errors.Is(issues[0], tracewire.ErrInvalidTraceState))
	// Output:
	// 4bf92f3577b34da6a3ce929d0e0e4736
	// true
}

func ExampleJSONEnvelope() {
	// MCP mode: params._meta of requests and notifications, result._meta of results.
	env, err := tracewire.NewMCPEnvelope(false)
	if err != nil {
		panic(err)
	}
	defer env.Close()
	frame, err := env.Inject(remoteContext(), []byte(`{"jsonrpc":"2.0","method":"tools/call","params":{"name":"search"}}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(string(frame))

	ctx, payload, err := env.Extract(context.Background(), frame)
	fmt.Println(trace.SpanContextFromContext(ctx).SpanID(), len(payload) == len(frame), err)

	// A malformed envelope: the frame is still delivered, with a typed error.
	bad := []byte(`{"method":"ping","params":{"_meta":{"traceparent":"00-nope"}}}`)
	_, payload, err = env.Extract(context.Background(), bad)
	fmt.Println(string(payload), errors.Is(err, tracewire.ErrInvalidTraceParent))
	// Output:
	// {"jsonrpc":"2.0","method":"tools/call","params":{"_meta":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","baggage":"userId=alice"},"name":"search"}}
	// 00f067aa0ba902b7 true <nil>
	// {"method":"ping","params":{"_meta":{"traceparent":"00-nope"}}} true
}

func ExampleEncodeBinary() {
	frame := tracewire.EncodeBinary(remoteContext(), []byte{1, 2, 3})
	fmt.Printf("% x\n", frame[:7])

	ctx, payload, err := tracewire.ExtractBinary(context.Background(), frame)
	fmt.Println(trace.SpanContextFromContext(ctx).TraceID(), payload, err)
	// Output:
	// f5 54 57 02 00 2e 05
	// 4bf92f3577b34da6a3ce929d0e0e4736 [1 2 3] <nil>
}

func ExampleCapture() {
	// Producer: capture the context into the queue item.
	item := struct {
		Carrier []byte
		Job     string
	}{tracewire.Capture(remoteContext()), "transcribe"}

	// Consumer: restore it before starting the job's span.
	ctx, err := tracewire.Restore(context.Background(), item.Carrier)
	fmt.Println(len(item.Carrier), trace.SpanContextFromContext(ctx).TraceID(), err)
	// Output:
	// 46 4bf92f3577b34da6a3ce929d0e0e4736 <nil>
}

func ExampleConnection() {
	conn, err := tracewire.NewConnection(tracewire.ConnectionInfo{
		Model: tracewire.ModelMessage, Role: tracewire.RoleClient,
		SessionID: "s-1", URLPath: "/chat",
	})
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	send, _ := conn.Send(tracewire.Text, 42)
	fmt.Println(send.Name, send.Kind, send.Parents, send.Links)
	// Output:
	// send /chat producer [ambient] [connection]
}

func ExampleStreamMetrics() {
	m, err := tracewire.NewStreamMetrics(tracewire.StreamModelOutput)
	if err != nil {
		panic(err)
	}
	defer m.Close()
	for i, ms := range []int{200, 250, 400} {
		m.RecordChunkAt(time.Duration(ms)*time.Millisecond, 10+i)
	}
	s, _ := m.Snapshot()
	fmt.Println(s.ChunkCount, s.Bytes, *s.TimeToFirstChunk, *s.IntervalMax)
	fmt.Println(s.Attributes[2].Key)
	// Output:
	// 3 33 0.2 0.15
	// gen_ai.response.time_to_first_chunk
}
