package tracewire

import (
	"strings"
	"testing"
)

// The cache policy: a hit needs the exact input bytes, and keys over the
// bound are never kept.
func TestMemoFollowsTheCachePolicy(t *testing.T) {
	var m memo[int]
	m.put("rojo=1", 1)
	if v, ok := m.get([]byte("rojo=1")); !ok || v != 1 {
		t.Fatalf("get(rojo=1) = %d, %v", v, ok)
	}
	for _, k := range []string{"rojo=", "rojo=10", "Rojo=1"} {
		if _, ok := m.get([]byte(k)); ok {
			t.Errorf("%q hit the entry of rojo=1", k)
		}
	}
	long := strings.Repeat("x", cacheMaxKeyBytes+1)
	m.put(long, 2)
	if _, ok := m.get([]byte(long)); ok {
		t.Error("a key over cacheMaxKeyBytes was kept")
	}
	atBound := long[:cacheMaxKeyBytes]
	m.put(atBound, 3)
	if v, ok := m.get([]byte(atBound)); !ok || v != 3 {
		t.Errorf("a key of cacheMaxKeyBytes: %d, %v", v, ok)
	}
}
