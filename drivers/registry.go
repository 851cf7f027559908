package drivers

import (
	"fmt"
	"sort"
	"time"
)

// Driver decodes the messages of one device family, in both dialects.
type Driver interface {
	// Family is the family this driver decodes.
	Family() Family
	// Decode decodes a native-dialect payload received on channel ch. It fills Kind and the
	// matching payload field; the caller fills Site, Family and Device from the topic.
	Decode(ch Channel, payload []byte) (Message, error)
	// DecodeAlink decodes an Alink JSON payload posted on the thing-model topic t by a device
	// of the product that model describes. Alink makes the time of a post optional: when the
	// payload carries none, the event's or report's TS is 0, and Registry.Decode stamps it
	// with the time of receipt.
	DecodeAlink(t Topic, model *AlinkModel, payload []byte) (Message, error)
	// EventTypes lists the event types this family's devices may send.
	EventTypes() []string
}

// ModelChecker is implemented by drivers that can check an Alink model's mapping onto their
// family (metric names, event types, data fields). Registry.AddModel uses it.
type ModelChecker interface {
	CheckModel(m *AlinkModel) error
}

// Registry holds the drivers, one per family, and the Alink product models. It is built once
// at start and read-only afterwards, so it is safe for concurrent use.
type Registry struct {
	drivers map[Family]Driver
	models  map[string]*AlinkModel // by product key
	now     func() time.Time
}

// Option configures a Registry.
type Option func(*Registry)

// WithClock sets the clock that stamps Alink posts which carry no time (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(r *Registry) { r.now = now }
}

// NewRegistry returns an empty registry.
func NewRegistry(opts ...Option) *Registry {
	r := &Registry{drivers: map[Family]Driver{}, models: map[string]*AlinkModel{}, now: time.Now}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Register adds a family's driver. A family can be registered once.
func (r *Registry) Register(d Driver) error {
	f := d.Family()
	if !f.Valid() {
		return fmt.Errorf("drivers: register: unknown family %q", f)
	}
	if _, dup := r.drivers[f]; dup {
		return fmt.Errorf("drivers: register: family %q registered twice", f)
	}
	r.drivers[f] = d
	return nil
}

// AddModel adds an Alink product model. Its family must have a driver already, and the model
// must pass AlinkModel.Check and, if the driver is a ModelChecker, the driver's check.
func (r *Registry) AddModel(m *AlinkModel) error {
	if m == nil {
		return fmt.Errorf("drivers: add model: nil model")
	}
	if err := m.Check(); err != nil {
		return err
	}
	d, ok := r.drivers[m.Family]
	if !ok {
		return fmt.Errorf("drivers: %s: no driver for family %q", m.where(), m.Family)
	}
	if _, dup := r.models[m.ProductKey]; dup {
		return fmt.Errorf("drivers: %s: product key %q added twice", m.where(), m.ProductKey)
	}
	if c, ok := d.(ModelChecker); ok {
		if err := c.CheckModel(m); err != nil {
			return err
		}
	}
	r.models[m.ProductKey] = m
	return nil
}

// Driver returns the driver of family f.
func (r *Registry) Driver(f Family) (Driver, bool) {
	d, ok := r.drivers[f]
	return d, ok
}

// Model returns the Alink model of a product key.
func (r *Registry) Model(productKey string) (*AlinkModel, bool) {
	m, ok := r.models[productKey]
	return m, ok
}

// Families lists the registered families in order.
func (r *Registry) Families() []Family {
	out := make([]Family, 0, len(r.drivers))
	for f := range r.drivers {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Decode parses the topic and decodes the payload with the right driver. For Alink topics the
// family comes from the product model, Site is left empty for the caller to fill, and a post
// that carried no time gets the registry clock's time. A rejection is a *DecodeError: count it
// by ReasonOf(err).
func (r *Registry) Decode(topic string, payload []byte) (Message, error) {
	t, err := ParseTopic(topic)
	if err != nil {
		return Message{}, err
	}
	if t.Alink {
		m, ok := r.models[t.ProductKey]
		if !ok {
			return Message{}, Reject(ReasonUnknownModel, "alink product key %q has no model", t.ProductKey)
		}
		msg, err := r.drivers[m.Family].DecodeAlink(t, m, payload)
		if err != nil {
			return Message{}, err
		}
		msg.Family, msg.Device = m.Family, t.Device
		r.stamp(&msg)
		return msg, nil
	}
	d, ok := r.drivers[t.Family]
	if !ok {
		return Message{}, Reject(ReasonUnknownFamily, "no driver for family %q", t.Family)
	}
	msg, err := d.Decode(t.Channel, payload)
	if err != nil {
		return Message{}, err
	}
	msg.Site, msg.Family, msg.Device = t.Site, t.Family, t.Device
	return msg, nil
}

// stamp gives an Alink post that carried no time the time of receipt.
func (r *Registry) stamp(msg *Message) {
	switch {
	case msg.Event != nil && msg.Event.TS == 0:
		msg.Event.TS = r.now().UnixMilli()
	case msg.Telemetry != nil && msg.Telemetry.TS == 0:
		msg.Telemetry.TS = r.now().UnixMilli()
	}
}
