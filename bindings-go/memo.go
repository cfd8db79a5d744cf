package tracewire

import (
	"hash/maphash"
	"sync/atomic"
)

// memo remembers a pure conversion of header bytes (the cache policy,
// docs/ARCHITECTURE.md "Caches"; tracewire::limits in Rust). Goroutines
// have no local storage, so the table is shared: direct-mapped (the slot is
// a hash of the key, a new entry replaces the slot's), read with one atomic
// load and no lock, keyed by the exact input bytes; keys longer than
// cacheMaxKeyBytes are never kept.
type memo[V any] struct {
	slots [cacheSharedSlots]atomic.Pointer[memoEntry[V]]
}

type memoEntry[V any] struct {
	key   string
	value V
}

// The bounds of every cache: the core's (TW_CACHE_* of the C ABI, checked
// in limits.go).
const (
	cacheSharedSlots = 256
	cacheMaxKeyBytes = 1024
)

var memoSeed = maphash.MakeSeed()

func (c *memo[V]) get(key []byte) (V, bool) {
	if e := c.slots[maphash.Bytes(memoSeed, key)%cacheSharedSlots].Load(); e != nil && e.key == string(key) {
		return e.value, true // the comparison allocates nothing
	}
	var zero V
	return zero, false
}

func (c *memo[V]) put(key string, v V) {
	if len(key) > cacheMaxKeyBytes {
		return
	}
	c.slots[maphash.String(memoSeed, key)%cacheSharedSlots].Store(&memoEntry[V]{key: key, value: v})
}
