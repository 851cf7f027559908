package drivers

import (
	"fmt"
	"sort"
)

// Driver decodes the messages of one device family, in both dialects.
type Driver interface {
	// Family is the family this driver decodes.
	Family() Family
	// Decode decodes a native-dialect payload received on channel ch. It fills Kind and the
	// matching payload field; the caller fills Site, Family and Device from the topic.
	Decode(ch Channel, payload []byte) (Message, error)
	// DecodeAlink decodes an Alink JSON payload posted on the thing-model topic t by a device
	// of the product that model describes.
	DecodeAlink(t Topic, model *AlinkModel, payload []byte) (Message, error)
	// EventTypes lists the event types this family's devices may send.
	EventTypes() []string
}

// Registry holds the drivers, one per family, and the Alink product models. It is built once
// at start and read-only afterwards, so it is safe for concurrent use.
type Registry struct {
	drivers map[Family]Driver
	models  map[string]*AlinkModel // by product key
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{drivers: map[Family]Driver{}, models: map[string]*AlinkModel{}}
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

// AddModel adds an Alink product model. Its family must have a driver already.
func (r *Registry) AddModel(m *AlinkModel) error {
	if _, ok := r.drivers[m.Family]; !ok {
		return fmt.Errorf("drivers: alink model %q: no driver for family %q", m.ProductKey, m.Family)
	}
	if _, dup := r.models[m.ProductKey]; dup {
		return fmt.Errorf("drivers: alink model %q added twice", m.ProductKey)
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
// family comes from the product model and Site is left empty for the caller to fill.
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
