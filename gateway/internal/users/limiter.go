package users

import (
	"sync"
	"time"
)

// Limiter counts failed logins per key (a user name, a remote address) and locks a key out
// once it has Threshold failures: for Base, doubling with each further failure, at most Max.
// A key's failures are forgotten Forget after its last one, or at once on a successful login.
// It keeps at most maxKeys keys, so a flood of distinct names cannot grow it without bound.
type Limiter struct {
	threshold int
	base, max time.Duration
	forget    time.Duration
	now       func() time.Time

	mu   sync.Mutex
	keys map[string]*strikes
}

type strikes struct {
	n     int
	last  time.Time
	until time.Time
}

const maxKeys = 50_000

// NewLimiter returns a limiter; forget is raised to at least max.
func NewLimiter(threshold int, base, max, forget time.Duration, now func() time.Time) *Limiter {
	return &Limiter{threshold: threshold, base: base, max: max, forget: maxDur(forget, max), now: now,
		keys: map[string]*strikes{}}
}

func maxDur(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

// Wait returns how long key is still locked out; 0 means a login may be tried.
func (l *Limiter) Wait(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.keys[key]
	if s == nil {
		return 0
	}
	return max(s.until.Sub(l.now()), 0)
}

// Fail records a failed login for key and returns the lockout it now has (0 for none).
func (l *Limiter) Fail(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	s := l.keys[key]
	if s != nil && now.Sub(s.last) > l.forget {
		s = nil
	}
	if s == nil {
		if len(l.keys) >= maxKeys {
			l.prune(now)
		}
		s = &strikes{}
		l.keys[key] = s
	}
	s.n++
	s.last = now
	if s.n < l.threshold {
		return 0
	}
	lock := l.max
	if shift := s.n - l.threshold; shift < 30 {
		lock = min(l.base<<shift, l.max)
	}
	s.until = now.Add(lock)
	return lock
}

// Reset forgets key's failures.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.keys, key)
}

func (l *Limiter) prune(now time.Time) {
	for k, s := range l.keys {
		if now.Sub(s.last) > l.forget {
			delete(l.keys, k)
		}
	}
	if len(l.keys) >= maxKeys {
		// Under a flood of distinct keys: forget the ones not locked out rather than grow.
		for k, s := range l.keys {
			if !now.Before(s.until) {
				delete(l.keys, k)
			}
		}
	}
}
