package auth

import (
	"context"
	"sync"
	"time"
)

// KeyCache remembers gateway keys for a while, so that a busy gateway's requests do not each
// read the store. A disabled gateway is refused at the latest TTL after it was disabled.
type KeyCache struct {
	keys KeyFunc
	ttl  time.Duration
	now  func() time.Time

	mu      sync.Mutex
	entries map[string]keyEntry
}

type keyEntry struct {
	key     []byte
	expires time.Time
}

// NewKeyCache caches the keys of keys for ttl.
func NewKeyCache(keys KeyFunc, ttl time.Duration, now func() time.Time) *KeyCache {
	return &KeyCache{keys: keys, ttl: ttl, now: now, entries: map[string]keyEntry{}}
}

// Key returns the gateway's key; errors are not cached.
func (c *KeyCache) Key(ctx context.Context, id string) ([]byte, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.key, nil
	}
	key, err := c.keys(ctx, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.entries) > 100000 {
		clear(c.entries)
	}
	c.entries[id] = keyEntry{key: key, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return key, nil
}
