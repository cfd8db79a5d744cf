package tracewire

// Benchmarks printed by `make bench`, side by side:
//
//   - Extract / Inject: ours vs otel-go's propagation.TraceContext{} +
//     propagation.Baggage{}, without and with tracestate (and baggage);
//   - one message's JSON envelope send + receive: ours vs the hand-written
//     way (otel propagator into a header map, wrapped with encoding/json);
//   - the raw cost of one cgo call.
//
// The traced WebSocket loopback is in twwebsocket.

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

var otelProp = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

const (
	benchTP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	benchTS = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
	benchBG = "userId=alice,serverNode=DF%2028,isProduction=false"
)

func benchHeader(withState bool) http.Header {
	h := http.Header{}
	h.Set("traceparent", benchTP)
	if withState {
		h.Set("tracestate", benchTS)
		h.Set("baggage", benchBG)
	}
	return h
}

func benchContext(b *testing.B, withState bool) context.Context {
	ctx := otelProp.Extract(context.Background(), propagation.HeaderCarrier(benchHeader(withState)))
	if !trace.SpanContextFromContext(ctx).IsValid() {
		b.Fatal("no span context")
	}
	if withState && baggage.FromContext(ctx).Len() != 3 {
		b.Fatal("no baggage")
	}
	return ctx
}

var sinkCtx context.Context

func benchExtract(b *testing.B, ours, withState bool) {
	h := benchHeader(withState)
	carrier := propagation.HeaderCarrier(h)
	bg := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if ours {
			sinkCtx = Extract(bg, h)
		} else {
			sinkCtx = otelProp.Extract(bg, carrier)
		}
	}
}

func BenchmarkExtract(b *testing.B) {
	b.Run("traceparent/ours", func(b *testing.B) { benchExtract(b, true, false) })
	b.Run("traceparent/otel", func(b *testing.B) { benchExtract(b, false, false) })
	b.Run("with-tracestate-baggage/ours", func(b *testing.B) { benchExtract(b, true, true) })
	b.Run("with-tracestate-baggage/otel", func(b *testing.B) { benchExtract(b, false, true) })
}

func benchInject(b *testing.B, ours, withState bool) {
	ctx := benchContext(b, withState)
	h := http.Header{}
	carrier := propagation.HeaderCarrier(h)
	b.ReportAllocs()
	for b.Loop() {
		if ours {
			Inject(ctx, h)
		} else {
			otelProp.Inject(ctx, carrier)
		}
	}
}

func BenchmarkInject(b *testing.B) {
	b.Run("traceparent/ours", func(b *testing.B) { benchInject(b, true, false) })
	b.Run("traceparent/otel", func(b *testing.B) { benchInject(b, false, false) })
	b.Run("with-tracestate-baggage/ours", func(b *testing.B) { benchInject(b, true, true) })
	b.Run("with-tracestate-baggage/otel", func(b *testing.B) { benchInject(b, false, true) })
}

var benchPayload = []byte(`{"type":"chat","session":"s-42","text":"What is the weather like in Lisbon tomorrow afternoon?"}`)

// handWritten is the usual way without tracewire: the otel propagator
// writes a header map that is wrapped with the payload in a JSON document.
type handWritten struct {
	Headers map[string]string `json:"headers"`
	Payload json.RawMessage   `json:"payload"`
}

var sinkBytes []byte

func benchEnvelope(b *testing.B, ours, withState bool) {
	ctx := benchContext(b, withState)
	bg := context.Background()
	env, err := NewJSONEnvelope("", false)
	if err != nil {
		b.Fatal(err)
	}
	defer env.Close()
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	for b.Loop() {
		if ours {
			frame, err := env.Inject(ctx, benchPayload)
			if err != nil {
				b.Fatal(err)
			}
			rctx, payload, err := env.Extract(bg, frame)
			if err != nil || !trace.SpanContextFromContext(rctx).IsValid() {
				b.Fatal("extract failed")
			}
			sinkBytes, sinkCtx = payload, rctx
		} else {
			m := handWritten{Headers: map[string]string{}, Payload: benchPayload}
			otelProp.Inject(ctx, propagation.MapCarrier(m.Headers))
			frame, err := json.Marshal(m)
			if err != nil {
				b.Fatal(err)
			}
			var got handWritten
			if err := json.Unmarshal(frame, &got); err != nil {
				b.Fatal(err)
			}
			rctx := otelProp.Extract(bg, propagation.MapCarrier(got.Headers))
			if !trace.SpanContextFromContext(rctx).IsValid() {
				b.Fatal("extract failed")
			}
			sinkBytes, sinkCtx = got.Payload, rctx
		}
	}
}

func BenchmarkEnvelopeJSON(b *testing.B) {
	b.Run("traceparent/ours", func(b *testing.B) { benchEnvelope(b, true, false) })
	b.Run("traceparent/handwritten", func(b *testing.B) { benchEnvelope(b, false, false) })
	b.Run("with-tracestate-baggage/ours", func(b *testing.B) { benchEnvelope(b, true, true) })
	b.Run("with-tracestate-baggage/handwritten", func(b *testing.B) { benchEnvelope(b, false, true) })
}

func BenchmarkEnvelopeBinary(b *testing.B) {
	ctx := benchContext(b, false)
	bg := context.Background()
	payload := make([]byte, 640) // 20 ms of 16 kHz 16-bit audio
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		frame := EncodeBinary(ctx, payload)
		sinkCtx, sinkBytes, _ = ExtractBinary(bg, frame)
	}
}

var sinkU32 uint32

func BenchmarkCgoCall(b *testing.B) {
	for b.Loop() {
		sinkU32 = cgoNoop()
	}
}
