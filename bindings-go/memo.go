package tracewire

import (
	"sync"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
)

// memo remembers a pure conversion of a string (at most memoMax entries;
// when full it starts over, so memory stays bounded under any input).
type memo[V any] struct {
	mu sync.RWMutex
	m  map[string]V
}

const memoMax = 512

func (c *memo[V]) get(key []byte) (V, bool) {
	c.mu.RLock()
	v, ok := c.m[string(key)] // no allocation for the lookup
	c.mu.RUnlock()
	return v, ok
}

func (c *memo[V]) put(key string, v V) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= memoMax {
		c.m = make(map[string]V, 64)
	}
	c.m[key] = v
	c.mu.Unlock()
}

// The canonical tracestate and baggage headers the core returns repeat
// across messages and requests; converting them to otel-go values means
// parsing them again in Go, so each conversion is remembered.
var (
	traceStates memo[trace.TraceState]
	baggages    memo[baggage.Baggage]
)

func otelTraceStateOf(header []byte) trace.TraceState {
	if v, ok := traceStates.get(header); ok {
		return v
	}
	s := string(header)
	v := otelTraceState(s)
	traceStates.put(s, v)
	return v
}

func otelBaggageOf(header []byte) baggage.Baggage {
	if v, ok := baggages.get(header); ok {
		return v
	}
	s := string(header)
	v := otelBaggage(s)
	baggages.put(s, v)
	return v
}
