package tracewire

import (
	"context"
	"errors"
	"math"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func closeEnough(a, e float64) bool {
	return a == e || math.Abs(a-e) <= 1e-12*math.Max(math.Abs(a), math.Abs(e))
}

func TestVectorsMetrics(t *testing.T) {
	runCases(t, "metrics", func(t *testing.T, c vcase) {
		kind := StreamGeneric
		if str(c, "kind") == "model_output" {
			kind = StreamModelOutput
		}
		m, err := NewStreamMetrics(kind)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		for _, ch := range c["chunks"].([]any) {
			pair := ch.([]any)
			m.RecordChunkAt(time.Duration(pair[0].(float64)), int(pair[1].(float64)))
		}
		s, intervals, err := m.SnapshotAndIntervals()
		if err != nil {
			t.Fatal(err)
		}
		e := c["expected"].(map[string]any)
		if float64(s.ChunkCount) != e["chunk_count"].(float64) || float64(s.Bytes) != e["bytes"].(float64) {
			t.Errorf("count %d bytes %d", s.ChunkCount, s.Bytes)
		}
		for field, got := range map[string]*float64{
			"time_to_first_chunk": s.TimeToFirstChunk, "time_to_last_chunk": s.TimeToLastChunk,
			"interval_mean": s.IntervalMean, "interval_p50": s.IntervalP50,
			"interval_p95": s.IntervalP95, "interval_max": s.IntervalMax,
		} {
			want, ok := e[field].(float64)
			switch {
			case !ok && got != nil:
				t.Errorf("%s = %v, want absent", field, *got)
			case ok && (got == nil || !closeEnough(*got, want)):
				t.Errorf("%s = %v, want %v", field, got, want)
			}
		}
		want := e["intervals"].([]any)
		if len(intervals) != len(want) {
			t.Fatalf("%d intervals, want %d", len(intervals), len(want))
		}
		for i, w := range want {
			if !closeEnough(intervals[i], w.(float64)) {
				t.Errorf("interval %d = %v, want %v", i, intervals[i], w)
			}
		}
		wantAttrs := c["expected_attributes"].([]any)
		if len(s.Attributes) != len(wantAttrs) {
			t.Fatalf("attributes %v, want %v", s.Attributes, wantAttrs)
		}
		for i, p := range wantAttrs {
			pair := p.([]any)
			kv := s.Attributes[i]
			if string(kv.Key) != pair[0].(string) {
				t.Errorf("attribute %d key %s, want %s", i, kv.Key, pair[0])
			}
			var got float64
			switch kv.Value.Type() {
			case attribute.INT64:
				got = float64(kv.Value.AsInt64())
			case attribute.FLOAT64:
				got = kv.Value.AsFloat64()
			}
			if !closeEnough(got, pair[1].(float64)) {
				t.Errorf("attribute %s = %v, want %v", kv.Key, got, pair[1])
			}
		}
	})
}

func TestMetricsConcurrentRecordSnapshotClose(t *testing.T) {
	m, err := NewStreamMetrics(StreamModelOutput)
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, each = 8, 500
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				m.RecordChunk(3)
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			if _, err := m.Snapshot(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	s, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if s.ChunkCount != goroutines*each || s.Bytes != 3*goroutines*each {
		t.Errorf("count %d bytes %d", s.ChunkCount, s.Bytes)
	}
	// Close while others record: no crash, recording becomes a no-op.
	for range 4 {
		wg.Go(func() {
			for range each {
				m.RecordChunk(1)
			}
		})
	}
	m.Close()
	wg.Wait()
	m.Close()
	if _, err := m.Snapshot(); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("snapshot after close: %v", err)
	}
}

func TestCleanupFallbackRunsForForgottenObjects(t *testing.T) {
	// A forgotten Close: nothing may keep the object reachable, so the
	// runtime cleanup that frees its C handle runs. An observer cleanup on
	// the same objects shows they are collected.
	collected := make(chan struct{}, 300)
	observe := func(p any) {
		switch v := p.(type) {
		case *StreamMetrics:
			runtime.AddCleanup(v, func(struct{}) { collected <- struct{}{} }, struct{}{})
		case *JSONEnvelope:
			runtime.AddCleanup(v, func(struct{}) { collected <- struct{}{} }, struct{}{})
		case *Connection:
			runtime.AddCleanup(v, func(struct{}) { collected <- struct{}{} }, struct{}{})
		}
	}
	for range 100 {
		m, err := NewStreamMetrics(StreamGeneric)
		if err != nil {
			t.Fatal(err)
		}
		m.RecordChunk(1)
		observe(m)
		e, _ := NewJSONEnvelope("", false)
		observe(e)
		c, _ := NewConnection(ConnectionInfo{SessionID: "s"})
		observe(c)
	}
	deadline := time.After(10 * time.Second)
	for n := 0; n < 300; {
		runtime.GC()
		select {
		case <-collected:
			n++
		case <-deadline:
			t.Fatalf("only %d of 300 objects were collected", n)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestStreamInstrumentsUseCoreNames(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	in, err := NewStreamInstruments(provider.Meter("test"), StreamModelOutput)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := NewStreamMetrics(StreamModelOutput)
	defer m.Close()
	for i, ms := range []int{100, 130, 150} {
		m.RecordChunkAt(time.Duration(ms)*time.Millisecond, i+1)
	}
	op := attribute.String("gen_ai.operation.name", "chat")
	if err := in.Record(context.Background(), m, op); err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	names, _ := StreamModelOutput.MetricNames()
	got := map[string]uint64{}
	bounds := map[string][]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			switch d := mt.Data.(type) {
			case metricdata.Histogram[float64]:
				got[mt.Name] = d.DataPoints[0].Count
				bounds[mt.Name] = d.DataPoints[0].Bounds
				if v, ok := d.DataPoints[0].Attributes.Value("gen_ai.operation.name"); !ok || v.AsString() != "chat" {
					t.Errorf("%s: attributes %v", mt.Name, d.DataPoints[0].Attributes)
				}
			case metricdata.Histogram[int64]:
				got[mt.Name] = d.DataPoints[0].Count
				bounds[mt.Name] = d.DataPoints[0].Bounds
			}
		}
	}
	if got[names.TimeToFirstChunk.Name] != 1 || got[names.ChunkInterval.Name] != 2 || got[names.ChunkCount.Name] != 1 {
		t.Errorf("recorded %v", got)
	}
	// The GenAI conventions' boundaries: 10 ms doubling to 81.92 s.
	ttfc := bounds[names.TimeToFirstChunk.Name]
	if len(ttfc) != 14 || ttfc[0] != 0.01 || ttfc[13] != 81.92 {
		t.Errorf("time to first chunk bounds %v", ttfc)
	}
	if b := bounds[names.ChunkCount.Name]; len(b) == 0 || !slices.Equal(b, names.ChunkCount.Boundaries) {
		t.Errorf("chunk count bounds %v, core %v", b, names.ChunkCount.Boundaries)
	}
	if names.TimeToFirstChunk.Name != "gen_ai.client.operation.time_to_first_chunk" || names.TimeToFirstChunk.Unit != "s" {
		t.Errorf("names %+v", names.TimeToFirstChunk)
	}
}
