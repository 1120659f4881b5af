package merklelog

import (
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// hashCache keeps committed stored hashes in memory. A stored hash never
// changes once committed, so the cache needs no invalidation, only a bound:
// when full it starts again empty (simple, and the hashes a proof needs
// most, the upper levels, come back at once).
type hashCache struct {
	mu  sync.RWMutex
	max int
	m   map[int64]tlog.Hash
}

func newHashCache(max int) *hashCache {
	return &hashCache{max: max, m: make(map[int64]tlog.Hash)}
}

func (c *hashCache) get(id int64) (tlog.Hash, bool) {
	c.mu.RLock()
	h, ok := c.m[id]
	c.mu.RUnlock()
	return h, ok
}

func (c *hashCache) put(id int64, h tlog.Hash) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		c.m = make(map[int64]tlog.Hash)
	}
	c.m[id] = h
	c.mu.Unlock()
}
