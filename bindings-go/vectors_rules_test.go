package tracewire

// Runs tests/vectors/target.json, codec.json and apply.json through what Go
// users get: ParseTarget / RequestTarget, Codec, and the finished otel-go
// span of SpanDecision.Start.

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"sort"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	// Through JSON, so numbers and nils compare as the vector file has them.
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	var gv, wv any
	_ = json.Unmarshal(g, &gv)
	_ = json.Unmarshal(w, &wv)
	if !reflect.DeepEqual(gv, wv) {
		t.Errorf("%s:\ngot  %s\nwant %s", what, g, w)
	}
}

func targetJSON(tg Target) map[string]any {
	out := map[string]any{"address": nil, "port": nil, "path": tg.Path}
	if tg.Address != "" {
		out["address"] = tg.Address
	}
	if tg.Port > 0 {
		out["port"] = tg.Port
	}
	return out
}

func TestVectorsTarget(t *testing.T) {
	runCases(t, "target", func(t *testing.T, c vcase) {
		switch str(c, "side") {
		case "client":
			tg, err := ParseTarget(str(c, "url"))
			if c["valid"] != true {
				if !errors.Is(err, ErrInvalidURL) || codeName(err) != str(c, "error_code") {
					t.Fatalf("got %v, want %s", err, str(c, "error_code"))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, "target", targetJSON(tg), c["expected"])
			// The connection records exactly the target.
			conn, err := NewConnection(ConnectionInfo{Model: ModelMessage, Role: RoleClient, SessionID: "s",
				URLPath: tg.Path, ServerAddress: tg.Address, ServerPort: tg.Port})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			open, err := conn.Open()
			if err != nil {
				t.Fatal(err)
			}
			attrs := attrMap(t, open.Attributes)
			if open.Name != "connect "+tg.Path || attrs["url.path"] != tg.Path ||
				attrs["server.address"] != tg.Address || attrs["server.port"] != float64(tg.Port) {
				t.Errorf("open span %q %v for %+v", open.Name, attrs, tg)
			}
		case "server":
			want := c["lenient"]
			if want == nil {
				want = c["expected"]
			}
			scheme := -1
			switch str(c, "scheme") {
			case "ws":
				scheme = 0
			case "wss":
				scheme = 1
			}
			got := targetFromRequest(scheme, optStr(c, "host"), str(c, "request_target"))
			sameJSON(t, "lenient target", targetJSON(got), want)
			if str(c, "scheme") == "ws" {
				return // net/http cannot tell a plain server from one behind TLS
			}
			// The same through the http.Request a Go server gets.
			r := &http.Request{RequestURI: str(c, "request_target")}
			if h := optStr(c, "host"); h != nil {
				r.Host = *h
			}
			if str(c, "scheme") == "wss" {
				r.TLS = &tls.ConnectionState{}
			}
			sameJSON(t, "RequestTarget", targetJSON(RequestTarget(r)), want)
		default:
			t.Fatalf("unknown side %s", str(c, "side"))
		}
	})
}

// vectorFrame is a frame as the vector writes it: {"utf8": ...} or {"hex": ...}.
func vectorFrame(t *testing.T, v any) ([]byte, bool) {
	m, _ := v.(map[string]any)
	if s, ok := m["utf8"].(string); ok {
		return []byte(s), true
	}
	return unhex(t, m["hex"].(string)), false
}

func sameForm(utf8 bool, b []byte) map[string]any {
	if utf8 {
		return map[string]any{"utf8": string(b)}
	}
	return map[string]any{"hex": hex.EncodeToString(b)}
}

func TestVectorsCodec(t *testing.T) {
	runCases(t, "codec", func(t *testing.T, c vcase) {
		env, _ := c["envelopes"].(map[string]any)
		var envelopes Envelopes
		if env["json"] == true {
			envelopes |= EnvelopeJSON
		}
		if env["binary"] == true {
			envelopes |= EnvelopeBinary
		}
		// Absent strip is the core's default; only strip=false keeps members.
		var codec *Codec
		var err error
		if c["json_mode"] == "mcp" {
			codec, err = NewMCPCodec(envelopes, c["strip"] == false)
		} else {
			codec, err = NewCodec(envelopes, str(c, "json_path"), c["strip"] == false)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer codec.Close()
		mt := Text
		if str(c, "message_type") == "binary" {
			mt = Binary
		}
		frame, utf8 := vectorFrame(t, c["frame"])
		switch str(c, "direction") {
		case "send":
			ctx := vectorContext(t, c["context"]).Context(context.Background())
			out, enveloped := codec.Encode(ctx, mt, frame)
			sameJSON(t, "send", map[string]any{"frame": sameForm(utf8, out), "enveloped": enveloped}, c["expected"])
		case "receive":
			rec := codec.Decode(mt, frame)
			got := map[string]any{"payload": sameForm(utf8, rec.Payload), "context": nil, "error_code": nil, "event": nil, "body_size": rec.BodySize}
			if rec.Outcome == Enveloped {
				tc := FromContext(rec.Remote)
				if tc.TraceParent != nil && !tc.Remote {
					t.Error("a received context is remote")
				}
				got["context"] = headerStrings(tc)
			}
			if rec.Err != nil {
				got["error_code"] = codeName(rec.Err)
			}
			if (rec.Err == nil) != (rec.Event == nil) {
				t.Fatalf("error %v with event %v", rec.Err, rec.Event)
			}
			if rec.Event != nil {
				ev := map[string]any{"name": rec.Event.Name}
				var e *Error
				errors.As(rec.Err, &e)
				for k, v := range attrMap(t, rec.Event.Attributes) {
					if k == "exception.message" {
						if v != e.Message {
							t.Errorf("exception.message %q, want %q", v, e.Message)
						}
						continue
					}
					ev[k] = v
				}
				got["event"] = ev
			}
			sameJSON(t, "receive", got, c["expected"])
		default:
			t.Fatalf("unknown direction %s", str(c, "direction"))
		}
	})
}

func TestVectorsApply(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	defer tp.Shutdown(context.Background())
	tracer := tp.Tracer("vectors")
	// withFrom gives a context the baggage entry naming where it comes from.
	withFrom := func(ctx context.Context, source string) context.Context {
		m, _ := baggage.NewMember("from", source)
		b, _ := baggage.New(m)
		return baggage.ContextWithBaggage(ctx, b)
	}
	runCases(t, "apply", func(t *testing.T, c vcase) {
		model, err := ParseModel(str(c, "model"))
		if err != nil {
			t.Fatal(err)
		}
		role := RoleServer
		if str(c, "role") == "client" {
			role = RoleClient
		}
		conn, err := NewConnection(ConnectionInfo{Model: model, Role: role, SessionID: str(c, "session_id"), URLPath: str(c, "url_path")})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		mt := Text
		if str(c, "message_type") == "binary" {
			mt = Binary
		}
		size, _ := c["size"].(float64)
		var d SpanDecision
		switch str(c, "event") {
		case "open":
			d, err = conn.Open()
		case "send":
			d, err = conn.Send(mt, int(size))
		case "receive":
			d, err = conn.Receive(mt, int(size))
		case "close":
			code := -1
			if f, ok := c["close_code"].(float64); ok {
				code = int(f)
			}
			var cd CloseDecision
			if cd, err = conn.Closed(code, str(c, "close_reason")); err == nil {
				if cd.Span == nil {
					t.Fatal("close is a span in this model")
				}
				d = *cd.Span
			}
		default:
			t.Fatalf("unknown event %s", str(c, "event"))
		}
		if err != nil {
			t.Fatal(err)
		}
		av, _ := c["available"].(map[string]any)
		want := func(k string) bool { return av[k] == true }

		// Real contexts matching the case, each with baggage naming it.
		var src Sources
		var connCtx context.Context
		if want("connection_has_span") {
			var span trace.Span
			connCtx, span = tracer.Start(withFrom(context.Background(), "connection"), "connection")
			span.End()
			src.Connection, src.ConnectionBaggage = span.SpanContext(), baggage.FromContext(connCtx)
		}
		var ambient context.Context
		switch {
		case want("ambient_has_span") && connCtx != nil && want("ambient_is_connection"):
			ambient = withFrom(connCtx, "ambient")
		case want("ambient_has_span") && connCtx != nil && want("ambient_in_connection_trace"):
			ambient, _ = tracer.Start(connCtx, "ambient")
			ambient = withFrom(ambient, "ambient")
		case want("ambient_has_span"):
			ambient, _ = tracer.Start(context.Background(), "ambient")
			ambient = withFrom(ambient, "ambient")
		default:
			// Baggage without a span: a new trace must still not take it.
			ambient = withFrom(context.Background(), "ambient")
		}
		var remote TraceContext
		if want("remote_has_span") {
			remote.TraceParent, _ = ParseTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		}
		if want("remote_has_baggage") {
			remote.Baggage, _ = ParseBaggage("from=remote")
		}
		if want("remote_has_span") || want("remote_has_baggage") {
			remote.Remote = true
			src.Remote = remote.Context(context.Background())
		}
		// The facts read back off these contexts are the case's.
		var remoteBag bool
		var remoteSC trace.SpanContext
		if src.Remote != nil {
			remoteSC, remoteBag = trace.SpanContextFromContext(src.Remote), baggage.FromContext(src.Remote).Len() > 0
		}
		bits := available(trace.SpanContextFromContext(ambient), remoteSC, src.Connection, remoteBag)
		for i, k := range []string{"remote_has_span", "remote_has_baggage", "ambient_has_span",
			"ambient_in_connection_trace", "ambient_is_connection", "connection_has_span"} {
			if (bits>>i&1 == 1) != want(k) {
				t.Errorf("available %s: read %v", k, bits>>i&1 == 1)
			}
		}

		// Through the binding's span-starting path, then the finished span.
		before := len(sr.Ended())
		ctx, span := d.Start(ambient, tracer, src)
		span.End()
		ended := sr.Ended()
		if len(ended) != before+1 {
			t.Fatalf("%d spans finished", len(ended)-before)
		}
		got := ended[len(ended)-1]
		exp, _ := c["expected"].(map[string]any)
		ambientSC := trace.SpanContextFromContext(ambient)
		switch exp["parent"] {
		case "remote":
			if got.Parent().SpanID() != remote.TraceParent.SpanID || got.SpanContext().TraceID() != remote.TraceParent.TraceID || !got.Parent().IsRemote() {
				t.Errorf("parent %v, want the remote span", got.Parent())
			}
		case "ambient":
			if got.Parent().SpanID() != ambientSC.SpanID() || got.SpanContext().TraceID() != ambientSC.TraceID() {
				t.Errorf("parent %v, want the ambient span", got.Parent())
			}
		case "connection":
			if got.Parent().SpanID() != src.Connection.SpanID() || got.SpanContext().TraceID() != src.Connection.TraceID() {
				t.Errorf("parent %v, want the connection span", got.Parent())
			}
		case "new_trace":
			if got.Parent().IsValid() {
				t.Errorf("parent %v, want a root span", got.Parent())
			}
			for _, other := range []trace.SpanContext{ambientSC, src.Connection} {
				if other.IsValid() && other.TraceID() == got.SpanContext().TraceID() {
					t.Errorf("a new trace reuses trace %s", other.TraceID())
				}
			}
		default:
			t.Fatalf("unknown parent %v", exp["parent"])
		}
		links := []any{}
		for _, l := range got.Links() {
			if l.SpanContext.Equal(src.Connection) {
				links = append(links, "connection")
			} else {
				links = append(links, l.SpanContext.SpanID().String())
			}
		}
		sameJSON(t, "links", links, exp["links"])
		bag := "none"
		if m := baggage.FromContext(ctx).Member("from"); m.Key() != "" {
			bag = m.Value()
		}
		if bag != exp["baggage"] {
			t.Errorf("the handler's baggage is %s's, want %s", bag, exp["baggage"])
		}
		var keys []string
		for _, kv := range got.Attributes() {
			keys = append(keys, string(kv.Key))
		}
		sort.Strings(keys)
		sameJSON(t, "span", map[string]any{"name": got.Name(), "kind": kindNames[got.SpanKind()], "attribute_keys": keys}, exp["span"])
		if !trace.SpanFromContext(ctx).SpanContext().Equal(got.SpanContext()) {
			t.Error("the returned context does not hold the new span")
		}
	})
}
