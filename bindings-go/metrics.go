package tracewire

/*
#cgo noescape tw_stream_metric_names
#cgo nocallback tw_stream_metric_names
#cgo noescape tw_stream_metrics_free
#cgo nocallback tw_stream_metrics_free
#cgo noescape tw_stream_metrics_new
#cgo nocallback tw_stream_metrics_new
#cgo noescape tw_stream_metrics_record
#cgo nocallback tw_stream_metrics_record
#cgo noescape tw_stream_metrics_snapshot
#cgo nocallback tw_stream_metrics_snapshot
#cgo noescape tw_stream_snapshot_free
#cgo nocallback tw_stream_snapshot_free
#include "tracewire.h"
*/
import "C"

import (
	"context"
	"encoding/binary"
	"math"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// StreamKind says what a stream carries, which decides the names its
// metrics are recorded under.
type StreamKind uint32

const (
	// StreamGeneric is any stream of chunks (tracewire.stream.* names).
	StreamGeneric StreamKind = 0
	// StreamModelOutput is a model's output (tokens, synthesized audio):
	// the OpenTelemetry GenAI names where they exist.
	StreamModelOutput StreamKind = 1
)

// Histogram is one histogram as the core defines it.
type Histogram struct {
	Name        string
	Unit        string
	Description string
	// Boundaries are the explicit bucket boundaries, ascending (given to the
	// SDK with metric.WithExplicitBucketBoundaries).
	Boundaries []float64
}

// MetricNames are the histograms a stream kind is recorded into, as the
// core names them.
type MetricNames struct {
	TimeToFirstChunk Histogram // seconds
	TimeToLastChunk  Histogram // seconds
	ChunkInterval    Histogram // seconds, one value per interval
	ChunkCount       Histogram // chunks
	Bytes            Histogram // bytes
}

func staticString(s C.TwStr) string {
	return unsafe.String((*byte)(unsafe.Pointer(s.ptr)), int(s.len))
}

func histogramFromC(h *C.TwHistogram) Histogram {
	// The boundaries are static in the library; copy them into Go memory.
	bounds := append([]float64(nil), unsafe.Slice((*float64)(unsafe.Pointer(h.boundaries)), int(h.boundaries_len))...)
	return Histogram{Name: staticString(h.name), Unit: staticString(h.unit), Description: staticString(h.description), Boundaries: bounds}
}

// MetricNames returns the histograms this kind of stream is recorded into.
func (k StreamKind) MetricNames() (MetricNames, error) {
	var out C.TwMetricNames
	if err := takeError(C.tw_stream_metric_names(C.uint32_t(k), &out)); err != nil {
		return MetricNames{}, err
	}
	return MetricNames{
		TimeToFirstChunk: histogramFromC(&out.time_to_first_chunk),
		TimeToLastChunk:  histogramFromC(&out.time_to_last_chunk),
		ChunkInterval:    histogramFromC(&out.chunk_interval),
		ChunkCount:       histogramFromC(&out.chunk_count),
		Bytes:            histogramFromC(&out.bytes),
	}, nil
}

// StreamSnapshot is what a stream recorded up to one moment. Durations are
// in seconds; a value that does not exist yet (no chunk, fewer than two
// chunks) is nil.
type StreamSnapshot struct {
	ChunkCount       uint64
	Bytes            uint64
	TimeToFirstChunk *float64
	TimeToLastChunk  *float64
	IntervalMean     *float64
	IntervalP50      *float64
	IntervalP95      *float64
	IntervalMax      *float64
	// Attributes are the span attributes describing the stream, named by
	// the core for the stream's kind.
	Attributes []attribute.KeyValue
}

func optF64(o C.TwOptF64) *float64 {
	if !o.has {
		return nil
	}
	v := float64(o.value)
	return &v
}

// StreamMetrics records the chunks of one stream (time to first and last
// chunk, chunk count, bytes, inter-chunk intervals) without locks in the
// core. It is safe for concurrent use by many goroutines. Close frees it
// (idempotent); it is also freed when garbage collected.
type StreamMetrics struct {
	kind    StreamKind
	mu      sync.RWMutex // read-locked by every call, so Close never frees h under one
	h       *C.TwStreamMetrics
	cleanup runtime.Cleanup
}

// NewStreamMetrics starts a stream's clock now. The error unwraps to
// ErrInvalidArgument for an unknown kind.
func NewStreamMetrics(kind StreamKind) (*StreamMetrics, error) {
	m := &StreamMetrics{kind: kind}
	if err := takeError(C.tw_stream_metrics_new(C.uint32_t(kind), &m.h)); err != nil {
		return nil, err
	}
	m.cleanup = runtime.AddCleanup(m, func(h *C.TwStreamMetrics) { C.tw_stream_metrics_free(&h) }, m.h)
	return m, nil
}

// Kind is the stream kind.
func (m *StreamMetrics) Kind() StreamKind { return m.kind }

// RecordChunk records one chunk of bytes bytes, now. A no-op after Close.
func (m *StreamMetrics) RecordChunk(bytes int) {
	m.record(-1, bytes)
}

// RecordChunkAt records one chunk of bytes bytes at elapsed after the
// stream started (for replays and tests). A no-op after Close.
func (m *StreamMetrics) RecordChunkAt(elapsed time.Duration, bytes int) {
	m.record(max(int64(elapsed), 0), bytes)
}

func (m *StreamMetrics) record(ns int64, bytes int) {
	m.mu.RLock()
	if m.h != nil {
		_ = C.tw_stream_metrics_record(m.h, C.int64_t(ns), C.uint64_t(max(bytes, 0)))
	}
	m.mu.RUnlock()
}

// Snapshot returns what was recorded so far. Safe while other goroutines record.
func (m *StreamMetrics) Snapshot() (StreamSnapshot, error) {
	s, _, err := m.snapshot(false)
	return s, err
}

// SnapshotAndIntervals is Snapshot with every inter-chunk interval in
// seconds, in recording order (the values of the chunk-interval histogram).
func (m *StreamMetrics) SnapshotAndIntervals() (StreamSnapshot, []float64, error) {
	return m.snapshot(true)
}

func (m *StreamMetrics) snapshot(intervals bool) (StreamSnapshot, []float64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.h == nil {
		return StreamSnapshot{}, nil, errClosed
	}
	var out C.TwStreamSnapshot
	if err := takeError(C.tw_stream_metrics_snapshot(m.h, C.bool(intervals), &out)); err != nil {
		return StreamSnapshot{}, nil, err
	}
	s := StreamSnapshot{
		ChunkCount:       uint64(out.chunk_count),
		Bytes:            uint64(out.bytes),
		TimeToFirstChunk: optF64(out.time_to_first_chunk),
		TimeToLastChunk:  optF64(out.time_to_last_chunk),
		IntervalMean:     optF64(out.interval_mean),
		IntervalP50:      optF64(out.interval_p50),
		IntervalP95:      optF64(out.interval_p95),
		IntervalMax:      optF64(out.interval_max),
		Attributes:       attrsOnly(view(out.attributes)),
	}
	var iv []float64
	if raw := view(out.intervals); len(raw) > 0 {
		iv = make([]float64, len(raw)/8)
		for i := range iv {
			iv[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	}
	C.tw_stream_snapshot_free(&out)
	return s, iv, nil
}

// Close frees the stream's memory. Idempotent; safe while other goroutines
// record (they then record nothing).
func (m *StreamMetrics) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.h != nil {
		m.cleanup.Stop()
		C.tw_stream_metrics_free(&m.h)
	}
	return nil
}

// End writes the stream's snapshot as attributes on span (it does not end
// the span).
func (m *StreamMetrics) End(span trace.Span) error {
	s, err := m.Snapshot()
	if err != nil {
		return err
	}
	span.SetAttributes(s.Attributes...)
	return nil
}

// StreamInstruments are the histograms of one stream kind on one meter,
// named by the core. Create them once and share them between streams.
type StreamInstruments struct {
	kind                                           StreamKind
	timeToFirstChunk, timeToLastChunk, chunkInterv metric.Float64Histogram
	chunkCount, bytes                              metric.Int64Histogram
}

// NewStreamInstruments creates the histograms of kind on meter.
func NewStreamInstruments(meter metric.Meter, kind StreamKind) (*StreamInstruments, error) {
	names, err := kind.MetricNames()
	if err != nil {
		return nil, err
	}
	f := func(h Histogram) (metric.Float64Histogram, error) {
		return meter.Float64Histogram(h.Name, metric.WithUnit(h.Unit), metric.WithDescription(h.Description),
			metric.WithExplicitBucketBoundaries(h.Boundaries...))
	}
	i := func(h Histogram) (metric.Int64Histogram, error) {
		return meter.Int64Histogram(h.Name, metric.WithUnit(h.Unit), metric.WithDescription(h.Description),
			metric.WithExplicitBucketBoundaries(h.Boundaries...))
	}
	in := &StreamInstruments{kind: kind}
	var errs [5]error
	in.timeToFirstChunk, errs[0] = f(names.TimeToFirstChunk)
	in.timeToLastChunk, errs[1] = f(names.TimeToLastChunk)
	in.chunkInterv, errs[2] = f(names.ChunkInterval)
	in.chunkCount, errs[3] = i(names.ChunkCount)
	in.bytes, errs[4] = i(names.Bytes)
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return in, nil
}

// Record records one finished stream: each value once, each interval once,
// with attrs on every value. For a StreamModelOutput stream the GenAI
// conventions require gen_ai.operation.name and gen_ai.provider.name; keep
// attrs to bounded values (the operation, provider, model, server.address,
// server.port, error.type), never ids.
func (in *StreamInstruments) Record(ctx context.Context, m *StreamMetrics, attrs ...attribute.KeyValue) error {
	s, intervals, err := m.SnapshotAndIntervals()
	if err != nil {
		return err
	}
	opt := metric.WithAttributes(attrs...)
	if s.TimeToFirstChunk != nil {
		in.timeToFirstChunk.Record(ctx, *s.TimeToFirstChunk, opt)
	}
	if s.TimeToLastChunk != nil {
		in.timeToLastChunk.Record(ctx, *s.TimeToLastChunk, opt)
	}
	for _, v := range intervals {
		in.chunkInterv.Record(ctx, v, opt)
	}
	in.chunkCount.Record(ctx, int64(min(s.ChunkCount, math.MaxInt64)), opt)
	in.bytes.Record(ctx, int64(min(s.Bytes, math.MaxInt64)), opt)
	return nil
}

// The constants above are the C ABI's values; these lines stop compiling
// (constant overflow) if the two ever differ.
const (
	_ = StreamGeneric - C.TW_STREAM_GENERIC
	_ = C.TW_STREAM_GENERIC - StreamGeneric
	_ = StreamModelOutput - C.TW_STREAM_MODEL_OUTPUT
	_ = C.TW_STREAM_MODEL_OUTPUT - StreamModelOutput
)
