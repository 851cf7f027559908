package alarm

// Subscription receives alarm changes as they are stored. A subscriber that falls behind by
// more than its buffer is cut off (C is closed with Lagged set) and should catch up with
// ChangesSince from the last sequence it saw; a slow console never delays the alarm path.
type Subscription struct {
	C      chan Change
	Lagged bool
	e      *Engine
}

// Subscribe returns a subscription with room for buf changes.
func (e *Engine) Subscribe(buf int) *Subscription {
	s := &Subscription{C: make(chan Change, buf), e: e}
	e.mu.Lock()
	e.subs[s] = struct{}{}
	e.mu.Unlock()
	return s
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	if _, ok := s.e.subs[s]; ok {
		delete(s.e.subs, s)
		close(s.C)
	}
}

func (e *Engine) publish(cs []Change) {
	for _, l := range e.listeners {
		l(cs)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for s := range e.subs {
		for _, c := range cs {
			select {
			case s.C <- c:
			default:
				s.Lagged = true
				delete(e.subs, s)
				close(s.C)
			}
			if s.Lagged {
				break
			}
		}
	}
}

func (e *Engine) closeSubs() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for s := range e.subs {
		delete(e.subs, s)
		close(s.C)
	}
}
