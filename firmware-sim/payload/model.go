package payload

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/community-edge/edge/drivers"
	"gopkg.in/yaml.v3"
)

// Reversed is a drivers.AlinkModel turned around for encoding. When several identifiers map
// to the same metric, event type or field, the first in lexical order is used.
type Reversed struct {
	key    string
	family drivers.Family
	props  map[string]prop              // metric → property
	events map[string]string            // event type → identifier
	params map[string]map[string]string // identifier → field → parameter
}

type prop struct {
	ident string
	scale float64
}

// Reverse reverses a product model.
func Reverse(m *drivers.AlinkModel) (*Reversed, error) {
	if m.ProductKey == "" {
		return nil, errors.New("payload: alink model has no product_key")
	}
	if !m.Family.Valid() {
		return nil, fmt.Errorf("payload: alink model %s: unknown family %q", m.ProductKey, m.Family)
	}
	r := &Reversed{key: m.ProductKey, family: m.Family, props: map[string]prop{},
		events: map[string]string{}, params: map[string]map[string]string{}}
	for _, ident := range sortedKeys(m.Properties) {
		p := m.Properties[ident]
		if _, dup := r.props[p.Metric]; !dup {
			r.props[p.Metric] = prop{ident: ident, scale: p.Scale}
		}
	}
	if m.PortProperty != "" {
		r.props["port"] = prop{ident: m.PortProperty, scale: 1}
	}
	for _, ident := range sortedKeys(m.Events) {
		ev := m.Events[ident]
		if _, dup := r.events[ev.Type]; !dup {
			r.events[ev.Type] = ident
		}
		fields := map[string]string{}
		for _, param := range sortedKeys(ev.Fields) {
			if _, dup := fields[ev.Fields[param]]; !dup {
				fields[ev.Fields[param]] = param
			}
		}
		r.params[ident] = fields
	}
	return r, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ProductKey implements ThingModel.
func (r *Reversed) ProductKey() string { return r.key }

// Family is the family the product belongs to.
func (r *Reversed) Family() drivers.Family { return r.family }

// PropertyOf implements ThingModel.
func (r *Reversed) PropertyOf(metric string) (string, float64, bool) {
	p, ok := r.props[metric]
	if p.scale == 0 {
		p.scale = 1
	}
	return p.ident, p.scale, ok
}

// EventOf implements ThingModel.
func (r *Reversed) EventOf(typ string) (string, bool) {
	ident, ok := r.events[typ]
	return ident, ok
}

// ParamOf implements ThingModel.
func (r *Reversed) ParamOf(ident, field string) (string, bool) {
	p, ok := r.params[ident][field]
	return p, ok
}

// Models holds the product models the simulator can speak, by product key, with a default
// product per family.
type Models struct {
	byKey    map[string]*Reversed
	byFamily map[drivers.Family]*Reversed
}

// NewModels indexes models; the default product of a family is its first in product-key order.
func NewModels(models ...*drivers.AlinkModel) (*Models, error) {
	ms := &Models{byKey: map[string]*Reversed{}, byFamily: map[drivers.Family]*Reversed{}}
	var errs []error
	for _, m := range models {
		r, err := Reverse(m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := ms.byKey[r.key]; dup {
			errs = append(errs, fmt.Errorf("payload: alink product %s defined twice", r.key))
			continue
		}
		ms.byKey[r.key] = r
		if d, ok := ms.byFamily[r.family]; !ok || r.key < d.key {
			ms.byFamily[r.family] = r
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return ms, nil
}

// Product returns the model of a product key.
func (ms *Models) Product(key string) (*Reversed, bool) {
	r, ok := ms.byKey[key]
	return r, ok
}

// ForFamily returns the default product model of a family.
func (ms *Models) ForFamily(f drivers.Family) (*Reversed, bool) {
	r, ok := ms.byFamily[f]
	return r, ok
}

// LoadModels reads every *.yaml product model in dir, strictly (unknown keys are errors), and
// reports every bad file at once.
func LoadModels(dir string) (*Models, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("payload: alink models: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("payload: alink models: no *.yaml file in %s", dir)
	}
	var models []*drivers.AlinkModel
	var errs []error
	for _, f := range files {
		m, err := decodeModel(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		models = append(models, m)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return NewModels(models...)
}

func decodeModel(path string) (*drivers.AlinkModel, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("payload: alink model: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var m drivers.AlinkModel
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("payload: alink model %s: %w", path, err)
	}
	return &m, nil
}
