package auth

import (
	"sync"
	"time"
)

// LoginLimiter refuses logins for a key (a username, a client address) after MaxFailures
// failures within Window, for Lockout. It is safe for concurrent use and bounded in memory.
type LoginLimiter struct {
	MaxFailures int
	Window      time.Duration
	Lockout     time.Duration
	Now         func() time.Time

	mu   sync.Mutex
	keys map[string]*attempts
}

type attempts struct {
	first    time.Time
	failures int
	until    time.Time
}

const limiterMaxKeys = 100000

// NewLoginLimiter returns a limiter: 5 failures in 15 minutes lock for 15 minutes.
func NewLoginLimiter(now func() time.Time) *LoginLimiter {
	return &LoginLimiter{MaxFailures: 5, Window: 15 * time.Minute, Lockout: 15 * time.Minute, Now: now, keys: map[string]*attempts{}}
}

// Allow reports whether a login for key may be tried now, and if not, how long to wait.
func (l *LoginLimiter) Allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.keys[key]
	now := l.Now()
	if a == nil || !now.Before(a.until) {
		return true, 0
	}
	return false, a.until.Sub(now)
}

// Fail records a failed login for key.
func (l *LoginLimiter) Fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.Now()
	a := l.keys[key]
	if a == nil || now.Sub(a.first) > l.Window {
		if len(l.keys) >= limiterMaxKeys {
			l.prune(now)
		}
		a = &attempts{first: now}
		l.keys[key] = a
	}
	a.failures++
	if a.failures >= l.MaxFailures {
		a.until = now.Add(l.Lockout)
		a.failures, a.first = 0, now
	}
}

// Success forgets the failures of key.
func (l *LoginLimiter) Success(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.keys, key)
}

func (l *LoginLimiter) prune(now time.Time) {
	for k, a := range l.keys {
		if now.Sub(a.first) > l.Window && !now.Before(a.until) {
			delete(l.keys, k)
		}
	}
	if len(l.keys) >= limiterMaxKeys { // under attack by many keys: start over rather than grow
		clear(l.keys)
	}
}
