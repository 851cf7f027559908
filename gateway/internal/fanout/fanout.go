// Package fanout owns the delivery of changes to live subscribers (consoles on the event
// stream): each subscriber has a bounded buffer, and one that falls behind is cut off (its
// channel closed, Lagged set) rather than ever slowing the publisher, which is the alarm path.
package fanout

import "sync"

// Hub delivers values to its subscribers. The zero value is ready to use.
type Hub[T any] struct {
	mu   sync.Mutex
	subs map[*Sub[T]]struct{}
}

// Sub is one subscriber. C is closed when the subscriber is cut off, closed, or the hub shuts.
type Sub[T any] struct {
	C      chan T
	Lagged bool // set before C is closed when the subscriber fell behind
	h      *Hub[T]
}

// Subscribe returns a subscriber with room for buf values.
func (h *Hub[T]) Subscribe(buf int) *Sub[T] {
	s := &Sub[T]{C: make(chan T, buf), h: h}
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[*Sub[T]]struct{}{}
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// Close ends the subscription.
func (s *Sub[T]) Close() {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	s.h.drop(s)
}

func (h *Hub[T]) drop(s *Sub[T]) {
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.C)
	}
}

// Publish offers the values to every subscriber without blocking.
func (h *Hub[T]) Publish(vs ...T) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		for _, v := range vs {
			select {
			case s.C <- v:
				continue
			default:
				s.Lagged = true
				h.drop(s)
			}
			break
		}
	}
}

// CloseAll ends every subscription (shutdown).
func (h *Hub[T]) CloseAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		h.drop(s)
	}
}
