package tracewire

// Runs tests/vectors/trust.json: the presets, the trust policy's span
// choices applied through SpanDecision.Start with otel-go's SDK under
// ParentBased samplers, and the receive span budget.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func trustDoc(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "tests", "vectors", "trust.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// trustFrom builds the policy a vector describes.
func trustFrom(t *testing.T, v map[string]any) *Trust {
	t.Helper()
	remote := map[string]RemoteContext{"parent": RemoteParent, "link": RemoteLink, "ignore": RemoteIgnore}[v["remote_context"].(string)]
	policy, keys := BaggageKeepAll, []string(nil)
	switch b := v["baggage"].(type) {
	case string:
		policy = map[string]BaggagePolicy{"keep_all": BaggageKeepAll, "drop": BaggageDrop}[b]
	case map[string]any:
		policy, keys = BaggageAllowKeys, strs(b["allow_keys"])
	}
	limit := -1
	if n, ok := v["max_receive_spans"].(float64); ok {
		limit = int(n)
	}
	tr, err := NewTrust(remote, policy, keys, limit)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestVectorsTrustPresets(t *testing.T) {
	presets := trustDoc(t)["presets"].(map[string]any)
	// The presets' behaviour, compared through what they do: the untrusted
	// preset replaces a server's session id and spans 1024 messages.
	for name, want := range map[string]*Trust{"untrusted": Untrusted(), "trusted": nil} {
		built := trustFrom(t, presets[name].(map[string]any))
		for _, tr := range []*Trust{built, want} {
			conn, _ := NewConnection(ConnectionInfo{Role: RoleServer, SessionID: "s-1", URLPath: "/v"})
			conn, _ = conn.WithTrust(tr)
			budget, _ := conn.ReceiveSpanBudget()
			spanned := 0
			for range 1100 {
				if budget.Admit() {
					spanned++
				}
			}
			kept := conn.SessionID() == "s-1"
			if (name == "untrusted") == kept || (name == "untrusted") != (spanned == 1024) {
				t.Errorf("%s: session id kept %v, %d spans", name, kept, spanned)
			}
		}
	}
	if _, err := NewTrust(RemoteContext(7), BaggageDrop, nil, -1); err == nil {
		t.Error("an unknown remote context policy was accepted")
	}
	if _, err := NewTrust(RemoteLink, BaggagePolicy(7), nil, -1); err == nil {
		t.Error("an unknown baggage policy was accepted")
	}
}

func TestVectorsTrust(t *testing.T) {
	runCases(t, "trust", func(t *testing.T, c vcase) {
		sr := tracetest.NewSpanRecorder()
		root := sdktrace.AlwaysSample()
		if str(c, "sampler") == "parent_based_always_off" {
			root = sdktrace.NeverSample()
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(root)), sdktrace.WithSpanProcessor(sr))
		tracer := tp.Tracer("vectors")
		model, _ := ParseModel(str(c, "model"))
		role := RoleServer
		if str(c, "role") == "client" {
			role = RoleClient
		}
		conn, err := NewConnection(ConnectionInfo{Model: model, Role: role, SessionID: str(c, "session_id"), URLPath: str(c, "url_path")})
		if err != nil {
			t.Fatal(err)
		}
		policy := trustFrom(t, c["trust"].(map[string]any))
		if conn, err = conn.WithTrust(policy); err != nil {
			t.Fatal(err)
		}
		exp := c["expected"].(map[string]any)
		if (conn.SessionID() == str(c, "session_id")) != exp["session_id_kept"] {
			t.Errorf("session id %q", conn.SessionID())
		}
		var d SpanDecision
		if str(c, "event") == "open" {
			d, err = conn.Open()
		} else {
			d, err = conn.Receive(Text, int(c["size"].(float64)))
		}
		if err != nil {
			t.Fatal(err)
		}

		received := c["received"].(map[string]any)
		var sent TraceContext
		if tp, ok := received["traceparent"].(string); ok {
			sent.TraceParent, _ = ParseTraceParent(tp)
		}
		sent.Baggage, _ = ParseBaggage(received["baggage"].(string))
		sent.Remote = true
		src := Sources{Remote: policy.Admit(sent.Context(context.Background()))}
		member := func(ctx context.Context, key string) context.Context {
			m, _ := baggage.NewMember(key, "1")
			b, _ := baggage.New(m)
			return baggage.ContextWithBaggage(ctx, b)
		}
		if c["connection_has_span"] == true {
			connCtx, span := tracer.Start(member(context.Background(), "connection"), "connection")
			span.End()
			src.Connection, src.ConnectionBaggage = span.SpanContext(), baggage.FromContext(connCtx)
		}
		ambient := member(context.Background(), "ambient")
		if c["ambient_has_span"] == true {
			ambient, _ = tracer.Start(ambient, "ambient")
		}

		remoteSC := trace.SpanContextFromContext(src.Remote)
		bits := available(trace.SpanContextFromContext(ambient), remoteSC, src.Connection, baggage.FromContext(src.Remote).Len() > 0)
		applied, err := d.choose(bits)
		if err != nil {
			t.Fatal(err)
		}
		parents := []string{"remote", "ambient", "connection", "new_trace"}
		bags := []string{"remote", "ambient", "connection", "none"}
		links := []string{}
		if applied&0x10000 != 0 {
			links = append(links, "connection")
		}
		if applied&0x20000 != 0 {
			links = append(links, "remote")
		}
		sameJSON(t, "choose", map[string]any{"parent": parents[applied&0xff], "links": links, "baggage": bags[applied>>8&0xff]},
			map[string]any{"parent": exp["parent"], "links": exp["links"], "baggage": exp["baggage"]})

		before := len(sr.Ended())
		ctx, span := d.Start(ambient, tracer, src)
		span.End()
		keys := []string{}
		for _, m := range baggage.FromContext(ctx).Members() {
			keys = append(keys, m.Key())
		}
		sort.Strings(keys)
		sameJSON(t, "baggage", keys, exp["baggage_keys"])
		ended := sr.Ended()[before:]
		if exp["sampled"] == false {
			if len(ended) != 0 || span.SpanContext().IsSampled() {
				t.Errorf("recorded %d spans, sampled %v", len(ended), span.SpanContext().IsSampled())
			}
			return
		}
		if len(ended) != 1 {
			t.Fatalf("%d spans finished", len(ended))
		}
		got := ended[0]
		var peer trace.SpanID
		if sent.TraceParent != nil {
			peer = sent.TraceParent.SpanID
		}
		want := map[string]trace.SpanID{"remote": peer, "ambient": trace.SpanContextFromContext(ambient).SpanID(),
			"connection": src.Connection.SpanID(), "new_trace": {}}[exp["parent"].(string)]
		if got.Parent().SpanID() != want {
			t.Errorf("parent %s, want %s", got.Parent().SpanID(), want)
		}
		if sent.TraceParent != nil && exp["parent"] != "remote" && got.SpanContext().TraceID() == sent.TraceParent.TraceID {
			t.Error("the span joined the peer's trace")
		}
		gotLinks, wantLinks := []string{}, []string{}
		for _, l := range got.Links() {
			gotLinks = append(gotLinks, l.SpanContext.SpanID().String())
		}
		for _, l := range strs(exp["links"]) {
			if l == "connection" {
				wantLinks = append(wantLinks, src.Connection.SpanID().String())
			} else {
				wantLinks = append(wantLinks, peer.String())
			}
		}
		sameJSON(t, "links", gotLinks, wantLinks)
		attrKeys := []string{}
		for _, kv := range got.Attributes() {
			attrKeys = append(attrKeys, string(kv.Key))
		}
		sort.Strings(attrKeys)
		sameJSON(t, "span", map[string]any{"name": got.Name(), "kind": kindNames[got.SpanKind()], "attribute_keys": attrKeys}, exp["span"])
	})
}

func TestVectorsTrustBudget(t *testing.T) {
	cases, _ := trustDoc(t)["budget_cases"].([]any)
	if len(cases) == 0 {
		t.Fatal("no budget cases")
	}
	for _, raw := range cases {
		c := raw.(map[string]any)
		t.Run(str(c, "name"), func(t *testing.T) {
			limit := -1
			if n, ok := c["max_receive_spans"].(float64); ok {
				limit = int(n)
			}
			budget, err := NewReceiveSpanBudget(limit)
			if err != nil {
				t.Fatal(err)
			}
			spanned := []bool{}
			for range int(c["received"].(float64)) {
				spanned = append(spanned, budget.Admit())
			}
			exp := c["expected"].(map[string]any)
			sameJSON(t, "spanned", spanned, exp["spanned"])
			sameJSON(t, "skipped", budget.Skipped(), exp["skipped"])
			model, _ := ParseModel(str(c, "model"))
			conn, _ := NewConnection(ConnectionInfo{Model: model, Role: RoleServer, SessionID: "s-1", URLPath: "/voice"})
			d, err := conn.ClosedAfter(1000, "", budget)
			if err != nil {
				t.Fatal(err)
			}
			attrs := d.Attributes
			if d.Span != nil {
				attrs = d.Span.Attributes
			}
			var recorded any
			for _, kv := range attrs {
				if kv.Key == "tracewire.receive_spans.skipped" {
					recorded = kv.Value.AsInt64()
				}
			}
			var want any
			if n := exp["skipped"].(float64); n > 0 {
				want = n
			}
			sameJSON(t, "recorded at close", recorded, want)
		})
	}
}
