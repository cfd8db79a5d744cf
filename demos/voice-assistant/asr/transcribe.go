package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/coder/websocket"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"

	tracewire "tracewire.dev/go"
	"tracewire.dev/go/twwebsocket"
)

// utterances are what the stand-in "hears" in turns 1, 2, 3, 4, ...
var utterances = []string{"what is the weather in lisbon", "and tomorrow", "thank you"}

// partialEvery is how many audio chunks pass between partial transcripts.
const partialEvery = 10

type message struct {
	Type string `json:"type"`
	Turn int    `json:"turn"`
}

// turn is one utterance being transcribed.
type turn struct {
	number  int
	ctx     context.Context // holds the transcribe span
	span    trace.Span
	metrics *tracewire.StreamMetrics
	chunks  int
}

func newHandler(model tracewire.Model, pace float64) http.Handler {
	opts := &twwebsocket.AcceptOptions{Options: twwebsocket.Options{Model: model}}
	return twwebsocket.Handler(opts, func(r *http.Request, c *twwebsocket.Conn) {
		s := &session{conn: c, pace: pace, tracer: otel.Tracer("asr")}
		err := c.Serve(r.Context(), s.handle)
		s.endTurn()
		if err != nil {
			fmt.Fprintf(os.Stderr, "asr: session %s: %v\n", c.SessionID(), err)
		}
	})
}

type session struct {
	conn   *twwebsocket.Conn
	pace   float64
	tracer trace.Tracer
	turn   *turn
}

// handle runs for each message with its process span current in ctx.
func (s *session) handle(ctx context.Context, typ websocket.MessageType, payload []byte) error {
	if typ == websocket.MessageBinary {
		return s.audio(payload)
	}
	var m message
	if err := json.Unmarshal(payload, &m); err != nil {
		fmt.Fprintf(os.Stderr, "asr: ignored a malformed message: %.80q\n", payload)
		return nil
	}
	switch m.Type {
	case "start":
		s.endTurn()
		metrics, err := tracewire.NewStreamMetrics(tracewire.StreamGeneric)
		if err != nil {
			return err
		}
		tctx, span := s.tracer.Start(ctx, "transcribe", trace.WithAttributes(
			attribute.Int("demo.turn", m.Turn), attribute.String("demo.baggage", baggageKeys(ctx))))
		s.turn = &turn{number: m.Turn, ctx: tctx, span: span, metrics: metrics}
	case "end":
		if s.turn == nil {
			fmt.Fprintln(os.Stderr, "asr: ignored end outside a turn")
			return nil
		}
		time.Sleep(time.Duration(50 * s.pace * float64(time.Millisecond)))
		t := s.turn
		err := s.send(map[string]any{"type": "final", "turn": t.number, "text": transcript(t.number), "chunks": t.chunks})
		s.endTurn()
		return err
	default:
		fmt.Fprintf(os.Stderr, "asr: ignored a message of type %q\n", m.Type)
	}
	return nil
}

func (s *session) audio(chunk []byte) error {
	t := s.turn
	if t == nil {
		fmt.Fprintln(os.Stderr, "asr: ignored audio outside a turn")
		return nil
	}
	t.metrics.RecordChunk(len(chunk))
	t.chunks++
	if t.chunks%partialEvery != 0 {
		return nil
	}
	words := strings.Fields(transcript(t.number))
	heard := min(t.chunks/partialEvery, len(words))
	return s.send(map[string]any{"type": "partial", "turn": t.number, "text": strings.Join(words[:heard], " ")})
}

// send writes a JSON message under the transcribe span.
func (s *session) send(body map[string]any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return s.conn.Write(s.turn.ctx, websocket.MessageText, payload)
}

// endTurn ends the transcribe span with the stream metrics on it.
func (s *session) endTurn() {
	t := s.turn
	if t == nil {
		return
	}
	s.turn = nil
	if err := t.metrics.End(t.span); err != nil {
		fmt.Fprintf(os.Stderr, "asr: stream metrics: %v\n", err)
	}
	t.span.End()
	t.metrics.Close()
}

func transcript(turn int) string {
	return utterances[(turn-1+len(utterances))%len(utterances)]
}

// baggageKeys lists the baggage keys ctx carries, sorted and comma-separated:
// what reached asr from the gateway (the cross-language test checks that the
// device's baggage never does).
func baggageKeys(ctx context.Context) string {
	var keys []string
	for _, m := range baggage.FromContext(ctx).Members() {
		keys = append(keys, m.Key())
	}
	slices.Sort(keys)
	return strings.Join(keys, ",")
}
