package alarm

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// openAlarms is what one transaction knows of the open alarms of the devices it touches: all of
// a device's open alarms, read once (from what earlier ingest transactions left known, or from
// the database) and then kept as the transaction changes them. A batch of events raises,
// repeats, clears and cancels alarms in memory; a repeated press is written once per alarm,
// before the transaction commits. One statement per press (the alarm found, rewritten and read
// back) had been a quarter of the ingest writer's time, and a query per clear or cancel that
// mostly found nothing another tenth. The transaction holds the database's write lock from
// BEGIN, so no one else changes these alarms meanwhile.
type openAlarms struct {
	byDevice map[string][]*openAlarm // every open alarm of the device, oldest first
	dirty    int
	// known, when set, is what earlier ingest transactions left known, as of generation gen
	known *knownAlarms
	gen   uint64
}

type openAlarm struct {
	a     Alarm
	dirty bool // count and last time not yet written
}

// device returns all open alarms of the device, reading them the first time.
func (o *openAlarms) device(ctx context.Context, tx querier, device string) ([]*openAlarm, error) {
	if xs, ok := o.byDevice[device]; ok {
		return xs, nil
	}
	var as []Alarm
	ok := false
	if o.known != nil {
		as, ok = o.known.get(device)
	}
	if !ok {
		var err error
		if as, err = queryAlarms(ctx, tx, `WHERE device_id = ? AND state != 'resolved' ORDER BY seq`, device); err != nil {
			return nil, err
		}
	}
	xs := make([]*openAlarm, len(as))
	for i, a := range as {
		xs[i] = &openAlarm{a: a}
	}
	if o.byDevice == nil {
		o.byDevice = map[string][]*openAlarm{}
	}
	o.byDevice[device] = xs
	return xs, nil
}

// find returns the device's open alarm of this type, or nil.
func (o *openAlarms) find(ctx context.Context, tx querier, device, typ string) (*openAlarm, error) {
	xs, err := o.device(ctx, tx, device)
	if err != nil {
		return nil, err
	}
	for _, x := range xs {
		if x.a.Type == typ {
			return x, nil
		}
	}
	return nil, nil
}

// add takes in an alarm just raised.
func (o *openAlarms) add(a Alarm) {
	o.byDevice[a.DeviceID] = append(o.byDevice[a.DeviceID], &openAlarm{a: a})
}

// repeat counts one more press on x at atMS and returns the alarm as it now is.
func (o *openAlarms) repeat(x *openAlarm, atMS int64) Alarm {
	x.a.Count++
	x.a.LastMS = atMS
	if !x.dirty {
		x.dirty = true
		o.dirty++
	}
	return x.a
}

// saved takes in x as just written whole (every mutable field, the count too): one still
// open is known as it now is, a resolved one is no longer among the device's open alarms.
func (o *openAlarms) saved(x *openAlarm, a Alarm) {
	x.a = a
	if x.dirty {
		x.dirty = false
		o.dirty--
	}
	if a.State == Resolved {
		o.byDevice[a.DeviceID] = slices.DeleteFunc(o.byDevice[a.DeviceID], func(y *openAlarm) bool { return y == x })
	}
}

// flush writes every counted press.
func (o *openAlarms) flush(ctx context.Context, tx querier) error {
	if o.dirty == 0 {
		return nil
	}
	for _, xs := range o.byDevice {
		for _, x := range xs {
			if !x.dirty {
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE alarms SET count = ?, last_ms = ? WHERE id = ?`, x.a.Count, x.a.LastMS, x.a.ID); err != nil {
				return fmt.Errorf("alarm: repeat %s: %w", x.a.ID, err)
			}
			x.dirty = false
			o.dirty--
		}
	}
	return nil
}

// reset forgets everything, for the next transaction; known (nil for none) is what it may
// start from.
func (o *openAlarms) reset(known *knownAlarms) {
	clear(o.byDevice)
	o.dirty = 0
	o.known = known
	if known != nil {
		o.gen = known.generation()
	}
}

// knownAlarms is what the ingest writer's committed transactions left it knowing: all open
// alarms of the devices they touched, so a later batch reads none of them again. Only ingest
// transactions fill it. Any other transaction that changes alarms (an acknowledgement, a
// resolution, a timer, an escalation) empties it before it commits, and what an ingest
// transaction knew is kept only if no such transaction committed after it began: transactions
// take the write lock at BEGIN, so none runs while an ingest one does.
type knownAlarms struct {
	mu  sync.Mutex
	m   map[string][]Alarm // every open alarm of the device
	gen uint64
}

// get returns a copy of the device's open alarms, if they are known.
func (k *knownAlarms) get(device string) ([]Alarm, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	as, ok := k.m[device]
	return slices.Clone(as), ok
}

func (k *knownAlarms) generation() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.gen
}

// invalidate forgets everything; call it before committing a change to alarms.
func (k *knownAlarms) invalidate() {
	k.mu.Lock()
	defer k.mu.Unlock()
	clear(k.m)
	k.gen++
}

// learn keeps what the committed ingest transaction o knew, unless another transaction
// changed alarms since it began.
func (k *knownAlarms) learn(o *openAlarms) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.gen != o.gen {
		return
	}
	if k.m == nil {
		k.m = map[string][]Alarm{}
	}
	for dev, xs := range o.byDevice {
		as := k.m[dev][:0]
		for _, x := range xs {
			as = append(as, x.a)
		}
		k.m[dev] = as
	}
}
