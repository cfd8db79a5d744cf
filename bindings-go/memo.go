package tracewire

import "sync"

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
