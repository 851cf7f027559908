package alarm

import "github.com/community-edge/edge/gateway/internal/fanout"

// Subscription receives alarm changes as they are stored. A subscriber that falls behind by
// more than its buffer is cut off (C is closed with Lagged set) and should catch up with
// ChangesSince from the last sequence it saw; a slow console never delays the alarm path.
type Subscription = fanout.Sub[Change]

// Subscribe returns a subscription with room for buf changes.
func (e *Engine) Subscribe(buf int) *Subscription { return e.hub.Subscribe(buf) }

func (e *Engine) publish(cs []Change) {
	for _, l := range e.listeners {
		l(cs)
	}
	e.hub.Publish(cs...)
}
