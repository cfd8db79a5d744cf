package tracewire

// Runs every file in tests/vectors/ through the Go API, as the Rust,
// Python and Java bindings do.

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

type vcase = map[string]any

func loadCases(t *testing.T, file string) []vcase {
	t.Helper()
	path := filepath.Join("..", "tests", "vectors", file+".json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []vcase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(doc.Cases) == 0 {
		t.Fatalf("%s: no cases", path)
	}
	return doc.Cases
}

func runCases(t *testing.T, file string, check func(t *testing.T, c vcase)) {
	for _, c := range loadCases(t, file) {
		t.Run(str(c, "name"), func(t *testing.T) { check(t, c) })
	}
}

func str(c vcase, key string) string {
	s, _ := c[key].(string)
	return s
}

func optStr(c vcase, key string) *string {
	if s, ok := c[key].(string); ok {
		return &s
	}
	return nil
}

func strs(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func codeName(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code.String()
	}
	return fmt.Sprintf("not a tracewire error: %v", err)
}

// vectorContext builds a TraceContext from a vector's header strings.
func vectorContext(t *testing.T, v any) TraceContext {
	t.Helper()
	c, _ := v.(map[string]any)
	var tc TraceContext
	if s := optStr(c, "traceparent"); s != nil {
		tp, err := ParseTraceParent(*s)
		if err != nil {
			t.Fatal(err)
		}
		tc.TraceParent = tp
	}
	if s := optStr(c, "tracestate"); s != nil {
		ts, err := ParseTraceState(*s)
		if err != nil {
			t.Fatal(err)
		}
		tc.TraceState = ts
	}
	if s := optStr(c, "baggage"); s != nil {
		b, err := ParseBaggage(*s)
		if err != nil {
			t.Fatal(err)
		}
		tc.Baggage = b
	}
	return tc
}

// headerStrings is a context as the vectors write it (nil = absent).
func headerStrings(tc TraceContext) map[string]any {
	out := map[string]any{"traceparent": nil, "tracestate": nil, "baggage": nil}
	if tc.TraceParent != nil {
		out["traceparent"] = tc.TraceParent.String()
		if tc.TraceState.Len() > 0 {
			out["tracestate"] = tc.TraceState.String()
		}
	}
	if tc.Baggage.Len() > 0 {
		out["baggage"] = tc.Baggage.String()
	}
	return out
}

func TestVectorsTraceParent(t *testing.T) {
	runCases(t, "traceparent", func(t *testing.T, c vcase) {
		tp, err := ParseTraceParent(str(c, "input"))
		if c["valid"] != true {
			if !errors.Is(err, ErrInvalidTraceParent) {
				t.Fatalf("accepted %q (err %v)", str(c, "input"), err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(tp.TraceID[:]); got != str(c, "trace_id") {
			t.Errorf("trace id %s", got)
		}
		if got := hex.EncodeToString(tp.SpanID[:]); got != str(c, "span_id") {
			t.Errorf("span id %s", got)
		}
		if float64(tp.Flags) != c["flags"].(float64) {
			t.Errorf("flags %d", tp.Flags)
		}
		if tp.String() != str(c, "output") {
			t.Errorf("output %q", tp.String())
		}
	})
}

func TestVectorsTraceState(t *testing.T) {
	runCases(t, "tracestate", func(t *testing.T, c vcase) {
		ts, err := ParseTraceState(strs(c["input"])...)
		if c["valid"] != true {
			if !errors.Is(err, ErrInvalidTraceState) {
				t.Fatalf("accepted as %q (err %v)", ts.String(), err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		ops, _ := c["ops"].([]any)
		for _, o := range ops {
			op := strs(o)
			switch op[0] {
			case "insert":
				if ts, err = ts.Insert(op[1], op[2]); err != nil {
					t.Fatalf("insert %q=%q: %v", op[1], op[2], err)
				}
			case "insert_fails":
				before := ts
				next, err := ts.Insert(op[1], op[2])
				if !errors.Is(err, ErrInvalidTraceState) {
					t.Fatalf("insert %q=%q accepted", op[1], op[2])
				}
				if !reflect.DeepEqual(next, before) {
					t.Fatal("failed insert changed the state")
				}
			case "remove":
				ts = ts.Delete(op[1])
			default:
				t.Fatalf("unknown op %v", op)
			}
		}
		want := []TraceStateEntry{}
		for _, e := range c["entries"].([]any) {
			kv := strs(e)
			want = append(want, TraceStateEntry{kv[0], kv[1]})
		}
		got := ts.Entries()
		if got == nil {
			got = []TraceStateEntry{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("entries %v, want %v", got, want)
		}
		for _, e := range want {
			if v, ok := ts.Get(e.Key); !ok || v != e.Value {
				t.Errorf("Get(%q) = %q", e.Key, v)
			}
		}
		if ts.Len() != len(want) {
			t.Errorf("Len %d", ts.Len())
		}
		if ts.String() != str(c, "output") {
			t.Errorf("String %q, want %q", ts.String(), str(c, "output"))
		}
	})
}

func vectorMembers(v any) []BaggageMember {
	var out []BaggageMember
	arr, _ := v.([]any)
	for _, x := range arr {
		m := x.(map[string]any)
		bm := BaggageMember{Key: m["key"].(string), Value: m["value"].(string)}
		for _, p := range m["properties"].([]any) {
			pp := p.([]any)
			prop := BaggageProperty{Key: pp[0].(string)}
			if s, ok := pp[1].(string); ok {
				prop.Value, prop.HasValue = s, true
			}
			bm.Properties = append(bm.Properties, prop)
		}
		out = append(out, bm)
	}
	return out
}

func TestVectorsBaggage(t *testing.T) {
	runCases(t, "baggage", func(t *testing.T, c vcase) {
		var bag Baggage
		var err error
		if _, ok := c["build"]; ok {
			bag, err = NewBaggage(vectorMembers(c["build"])...)
		} else {
			bag, err = ParseBaggage(strs(c["input"])...)
		}
		if c["valid"] != true {
			if !errors.Is(err, ErrInvalidBaggage) {
				t.Fatalf("accepted as %q (err %v)", bag.String(), err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		want := vectorMembers(c["members"])
		if !reflect.DeepEqual(bag.Members(), want) {
			t.Fatalf("members %#v,\nwant %#v", bag.Members(), want)
		}
		for _, m := range want {
			if v, ok := bag.Get(m.Key); !ok || v != m.Value {
				t.Errorf("Get(%q) = %q", m.Key, v)
			}
		}
		if bag.String() != str(c, "output") {
			t.Errorf("String %q, want %q", bag.String(), str(c, "output"))
		}
	})
}

func vectorRequest(t *testing.T, c vcase) *http.Request {
	t.Helper()
	h := http.Header{}
	for _, p := range c["headers"].([]any) {
		kv := strs(p)
		h.Add(kv[0], kv[1])
	}
	u := &url.URL{Path: "/"}
	if q := optStr(c, "query"); q != nil {
		u.RawQuery = *q
	}
	return &http.Request{Header: h, URL: u}
}

func envelopeSet(v any) Envelopes {
	var e Envelopes
	for _, s := range strs(v) {
		switch s {
		case "json":
			e |= EnvelopeJSON
		case "binary":
			e |= EnvelopeBinary
		}
	}
	return e
}

// optName is a vector's string-or-null as Go's "" for none.
func optName(c vcase, key string) string {
	if s := optStr(c, key); s != nil {
		return *s
	}
	return ""
}

func TestVectorsHandshake(t *testing.T) {
	runCases(t, "handshake", func(t *testing.T, c vcase) {
		switch str(c, "op") {
		case "extract":
			r := vectorRequest(t, c)
			hs, err := ReadHandshake(r, AllEnvelopes, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !hs.Context.Remote && !hs.Context.IsEmpty() {
				t.Error("not marked remote")
			}
			if got := headerStrings(hs.Context); !reflect.DeepEqual(got, c["context"]) {
				t.Errorf("context %v, want %v", got, c["context"])
			}
			var codes []string
			for _, i := range hs.Issues {
				codes = append(codes, codeName(i))
			}
			if want := strs(c["issues"]); !(len(codes) == 0 && len(want) == 0) && !reflect.DeepEqual(codes, want) {
				t.Errorf("issues %v, want %v", codes, want)
			}
			// The request-level extraction into an otel context agrees on the span context.
			ctx, _ := ExtractRequest(t.Context(), r)
			sc := trace.SpanContextFromContext(ctx)
			if want := optStr(c["context"].(map[string]any), "traceparent"); (want != nil) != sc.IsValid() {
				t.Errorf("ExtractRequest: span context valid=%v", sc.IsValid())
			}
			// With no query, header-only extraction agrees too (the Extract fast path).
			if optStr(c, "query") == nil {
				ctx2, _ := ExtractWithIssues(t.Context(), r.Header)
				if !trace.SpanContextFromContext(ctx2).Equal(sc) {
					t.Errorf("Extract and ExtractRequest disagree: %v vs %v", trace.SpanContextFromContext(ctx2), sc)
				}
			}
		case "inject":
			tc := vectorContext(t, c["context"])
			h := http.Header{}
			InjectContext(tc, h)
			want := http.Header{}
			for _, p := range c["headers"].([]any) {
				kv := strs(p)
				want.Add(kv[0], kv[1])
			}
			if !reflect.DeepEqual(h, want) {
				t.Errorf("headers %v, want %v", h, want)
			}
		case "offer":
			client := &ClientHandshake{Offered: envelopeSet(c["envelopes"]), AppProtocols: strs(c["app_protocols"])}
			got, err := client.Subprotocols()
			if want := optStr(c, "error"); want != nil {
				if !errors.Is(err, ErrInvalidArgument) || *want != "invalid_argument" {
					t.Errorf("error %v, want %s", err, *want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := strs(c["subprotocols"]); !slices.Equal(got, want) {
				t.Errorf("offer %q, want %q", got, want)
			}
		case "select":
			r := &http.Request{Header: http.Header{}, URL: &url.URL{Path: "/"}}
			for _, line := range strs(c["offered"]) {
				r.Header.Add("Sec-WebSocket-Protocol", line)
			}
			hs, err := ReadHandshake(r, envelopeSet(c["supported"]), strs(c["app_protocols"]))
			if err != nil {
				t.Fatal(err)
			}
			if hs.Subprotocol != optName(c, "selected") || hs.Envelopes != envelopeSet(c["envelopes"]) || hs.AppProtocol != optName(c, "app_protocol") {
				t.Errorf("selected %q %v %q", hs.Subprotocol, hs.Envelopes, hs.AppProtocol)
			}
		case "client_reads":
			client := &ClientHandshake{Offered: envelopeSet(c["envelopes"]), AppProtocols: strs(c["app_protocols"])}
			env, app, err := client.Negotiated(optName(c, "selected"))
			if err != nil {
				t.Fatal(err)
			}
			if env != envelopeSet(c["accepted"]) || app != optName(c, "app_protocol") {
				t.Errorf("read %v %q", env, app)
			}
		case "session":
			hs, err := ReadHandshake(vectorRequest(t, c), AllEnvelopes, nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := optStr(c, "session_id"); want != nil {
				if hs.SessionID != *want {
					t.Errorf("session %q, want %q", hs.SessionID, *want)
				}
			} else if len(hs.SessionID) != 32 || strings.Trim(hs.SessionID, "0123456789abcdef") != "" {
				t.Errorf("generated session id %q", hs.SessionID)
			}
		default:
			t.Fatalf("unknown op %s", str(c, "op"))
		}
	})
}

func TestVectorsEnvelopeJSON(t *testing.T) {
	runCases(t, "envelope_json", func(t *testing.T, c vcase) {
		strip, _ := c["strip"].(bool)
		var env *JSONEnvelope
		var err error
		if c["mode"] == "mcp" {
			env, err = NewMCPEnvelope(strip)
		} else {
			env, err = NewJSONEnvelope(str(c, "path"), strip)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer env.Close()
		frame := []byte(str(c, "frame"))
		switch str(c, "op") {
		case "inject":
			got, err := env.Encode(vectorContext(t, c["context"]), frame)
			if c["valid"] == true {
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != str(c, "expected_frame") {
					t.Errorf("got  %s\nwant %s", got, str(c, "expected_frame"))
				}
				return
			}
			if codeName(err) != str(c, "error_code") {
				t.Errorf("error %v, want %s", err, str(c, "error_code"))
			}
			if !bytes.Equal(got, frame) {
				t.Error("the frame was not returned unchanged")
			}
		case "extract":
			d := env.Decode(frame)
			if string(d.Payload) != str(c, "payload") {
				t.Errorf("payload %s, want %s", d.Payload, str(c, "payload"))
			}
			if d.Outcome.String() != str(c, "result") {
				t.Fatalf("outcome %v, want %s (err %v)", d.Outcome, str(c, "result"), d.Err)
			}
			switch d.Outcome {
			case Enveloped:
				if !d.Context.Remote {
					t.Error("not remote")
				}
				if got, want := headerStrings(d.Context), headerStrings(vectorContext(t, c["context"])); !reflect.DeepEqual(got, want) {
					t.Errorf("context %v, want %v", got, want)
				}
			case Malformed:
				if codeName(d.Err) != str(c, "error_code") {
					t.Errorf("error %v, want %s", d.Err, str(c, "error_code"))
				}
			}
		default:
			t.Fatalf("unknown op %s", str(c, "op"))
		}
	})
}

func TestVectorsEnvelopeBinary(t *testing.T) {
	runCases(t, "envelope_binary", func(t *testing.T, c vcase) {
		frame := unhex(t, str(c, "frame"))
		payload := unhex(t, str(c, "payload"))
		switch str(c, "op") {
		case "encode":
			got := EncodeBinaryContext(vectorContext(t, c["context"]), payload)
			if !bytes.Equal(got, frame) {
				t.Errorf("got  %x\nwant %x", got, frame)
			}
		case "decode":
			d := DecodeBinary(frame)
			if !bytes.Equal(d.Payload, payload) {
				t.Errorf("payload %x, want %x", d.Payload, payload)
			}
			if len(d.Payload) > 0 && &d.Payload[len(d.Payload)-1] != &frame[len(frame)-1] {
				t.Error("the payload was copied")
			}
			if d.Outcome.String() != str(c, "result") {
				t.Fatalf("outcome %v, want %s (err %v)", d.Outcome, str(c, "result"), d.Err)
			}
			switch d.Outcome {
			case Enveloped:
				want := vectorContext(t, c["context"])
				if got := headerStrings(d.Context); !reflect.DeepEqual(got, headerStrings(want)) {
					t.Errorf("context %v, want %v", got, headerStrings(want))
				}
			case Malformed:
				if codeName(d.Err) != str(c, "error_code") {
					t.Errorf("error %v, want %s", d.Err, str(c, "error_code"))
				}
			}
		default:
			t.Fatalf("unknown op %s", str(c, "op"))
		}
	})
}

var kindNames = map[trace.SpanKind]string{
	trace.SpanKindClient: "client", trace.SpanKindServer: "server",
	trace.SpanKindProducer: "producer", trace.SpanKindConsumer: "consumer",
	trace.SpanKindInternal: "internal",
}

var parentNames = map[ParentSource]string{
	ParentRemote: "remote", ParentAmbient: "ambient",
	ParentAmbientInConnectionTrace: "ambient_in_connection_trace", ParentConnection: "connection",
}

func attrMap(t *testing.T, attrs []attribute.KeyValue) map[string]any {
	m := map[string]any{}
	for _, kv := range attrs {
		if _, dup := m[string(kv.Key)]; dup {
			t.Errorf("duplicate attribute %s", kv.Key)
		}
		switch kv.Value.Type() {
		case attribute.INT64:
			m[string(kv.Key)] = float64(kv.Value.AsInt64())
		case attribute.FLOAT64:
			m[string(kv.Key)] = kv.Value.AsFloat64()
		case attribute.BOOL:
			m[string(kv.Key)] = kv.Value.AsBool()
		default:
			m[string(kv.Key)] = kv.Value.AsString()
		}
	}
	return m
}

func spanJSON(t *testing.T, d SpanDecision) map[string]any {
	parents := []any{}
	for _, p := range d.Parents {
		parents = append(parents, parentNames[p])
	}
	links := []any{}
	for range d.Links {
		links = append(links, "connection")
	}
	return map[string]any{
		"name": d.Name, "kind": kindNames[d.Kind], "parent": parents,
		"links": links, "attributes": attrMap(t, d.Attributes),
	}
}

func TestVectorsModel(t *testing.T) {
	runCases(t, "model", func(t *testing.T, c vcase) {
		model, err := ParseModel(str(c, "model"))
		if err != nil {
			t.Fatal(err)
		}
		role := RoleServer
		if str(c, "role") == "client" {
			role = RoleClient
		}
		info := ConnectionInfo{Model: model, Role: role, SessionID: str(c, "session_id"), URLPath: str(c, "url_path")}
		if a := optStr(c, "server_address"); a != nil {
			info.ServerAddress = *a
			if p, ok := c["server_port"].(float64); ok {
				info.ServerPort = int(p)
			}
		}
		if r := optStr(c, "route"); r != nil {
			info.Route = *r
		}
		conn, err := NewConnection(info)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		mt := Text
		if str(c, "message_type") == "binary" {
			mt = Binary
		}
		size, _ := c["size"].(float64)
		var got map[string]any
		switch str(c, "event") {
		case "open":
			d, err := conn.Open()
			if err != nil {
				t.Fatal(err)
			}
			got = spanJSON(t, d)
			got["ends_at_upgrade"] = conn.EndsAtUpgrade()
		case "send", "receive":
			var d SpanDecision
			if str(c, "event") == "send" {
				d, err = conn.Send(mt, int(size))
			} else {
				d, err = conn.Receive(mt, int(size))
			}
			if err != nil {
				t.Fatal(err)
			}
			got = spanJSON(t, d)
		case "close":
			code := -1
			if f, ok := c["close_code"].(float64); ok {
				code = int(f)
			}
			d, err := conn.Closed(code, str(c, "close_reason"))
			if err != nil {
				t.Fatal(err)
			}
			got = map[string]any{"attributes": attrMap(t, d.Attributes), "is_error": d.IsError, "span": nil}
			if d.Span != nil {
				got["span"] = spanJSON(t, *d.Span)
			}
		default:
			t.Fatalf("unknown event %s", str(c, "event"))
		}
		if !reflect.DeepEqual(got, c["expected"]) {
			a, _ := json.Marshal(got)
			b, _ := json.Marshal(c["expected"])
			t.Errorf("got  %s\nwant %s", a, b)
		}
	})
}

// TestVectorsAllFilesCovered fails when a vector file is added without a Go runner.
func TestVectorsAllFilesCovered(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "tests", "vectors", "*.json"))
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".json"))
	}
	sort.Strings(names)
	want := []string{"apply", "baggage", "codec", "envelope_binary", "envelope_json", "handshake", "metrics", "model", "pass_on", "target", "traceparent", "tracestate", "trust"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("vector files %v; this test runs %v", names, want)
	}
}
