package drivers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// AlinkModel maps one Alibaba Cloud IoT product's thing model (Alink JSON) onto the canonical
// model of a family. Models are loaded from per-product YAML files (configs/alink/) by
// LoadAlinkModels; the family's driver checks the mapping when the model is added to a
// Registry.
type AlinkModel struct {
	ProductKey string `yaml:"product_key"`
	Family     Family `yaml:"family"`
	Name       string `yaml:"name"`
	// Properties maps a thing-model property identifier to a canonical metric.
	Properties map[string]AlinkProperty `yaml:"properties"`
	// Events maps a thing-model event identifier to a canonical event type.
	Events map[string]AlinkEvent `yaml:"events"`
	// PortProperty (chargers) names the property that carries the port number in a property
	// post, e.g. GunNo; the report's metrics are that port's.
	PortProperty string `yaml:"port_property,omitempty"`
	// Port (chargers) is the port of a single-port product: used for property posts without
	// PortProperty and for events that carry no port.
	Port *int `yaml:"port,omitempty"`

	// File is the file the model was loaded from, for error messages; empty if built in code.
	File string `yaml:"-"`
}

// AlinkProperty maps one property to a metric.
type AlinkProperty struct {
	Metric string  `yaml:"metric"`
	Scale  float64 `yaml:"scale,omitempty"` // multiplies the value; 0 means 1
}

// AlinkEvent maps one event identifier to a canonical event type, and its output parameters
// to canonical data fields.
type AlinkEvent struct {
	Type   string            `yaml:"type"`
	Fields map[string]string `yaml:"fields,omitempty"` // thing-model parameter → canonical data field (json name)
	// Values maps, per canonical data field, a vendor value (a string, or a number or boolean
	// as written in JSON, e.g. "2" or "true") to the canonical value, e.g. source: {"2": pull_cord}.
	Values map[string]map[string]string `yaml:"values,omitempty"`
	// Defaults gives canonical data fields the event does not carry, e.g. source: pull_cord
	// for a product whose PullCordAlarm event has no parameters.
	Defaults map[string]string `yaml:"defaults,omitempty"`
}

// where names the model in error messages.
func (m *AlinkModel) where() string {
	if m.File != "" {
		return m.File
	}
	return fmt.Sprintf("alink model %q", m.ProductKey)
}

// Check checks what can be checked of a model without its family's driver: the product key,
// the family and that every mapping names its target. Every problem is reported, each naming
// the file and the key.
func (m *AlinkModel) Check() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("drivers: %s: %s: %s", m.where(), key, fmt.Sprintf(format, args...)))
	}
	switch {
	case m.ProductKey == "":
		bad("product_key", "missing")
	case strings.ContainsAny(m.ProductKey, "/+#"):
		bad("product_key", "%q contains a topic separator or wildcard", m.ProductKey)
	}
	if !m.Family.Valid() {
		bad("family", "%q is not one of %v", m.Family, Families())
	}
	if len(m.Properties) == 0 && len(m.Events) == 0 {
		bad("properties", "the model maps neither properties nor events")
	}
	for _, id := range sortedKeys(m.Properties) {
		p := m.Properties[id]
		if p.Metric == "" {
			bad("properties."+id+".metric", "missing")
		}
		if id == m.PortProperty {
			bad("properties."+id, "is the port_property and cannot also be a metric")
		}
	}
	for _, id := range sortedKeys(m.Events) {
		e := m.Events[id]
		if id == "property" {
			bad("events.property", "identifier property is reserved for property posts")
		}
		if strings.ContainsAny(id, "/+#") {
			bad("events."+id, "identifier contains a topic separator or wildcard")
		}
		if e.Type == "" {
			bad("events."+id+".type", "missing")
		}
		for _, p := range sortedKeys(e.Fields) {
			if e.Fields[p] == "" {
				bad("events."+id+".fields."+p, "missing canonical field")
			}
		}
	}
	if m.Port != nil && *m.Port < 0 {
		bad("port", "%d is negative", *m.Port)
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// LoadAlinkModels reads every *.yaml and *.yml file in dir, each one AlinkModel, decoded
// strictly (unknown keys are errors). It checks each model (see AlinkModel.Check) and that no
// product key is used twice, and reports every problem at once, each naming the file and the
// key. A model's mapping onto its family is checked when it is added to a Registry.
func LoadAlinkModels(dir string) ([]*AlinkModel, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("drivers: alink models: %w", err)
	}
	var (
		models []*AlinkModel
		errs   []error
		byKey  = map[string]string{}
	)
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		file := filepath.Join(dir, name)
		m, err := loadAlinkModel(file)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := m.Check(); err != nil {
			errs = append(errs, err)
		}
		if m.ProductKey != "" {
			if prev, dup := byKey[m.ProductKey]; dup {
				errs = append(errs, fmt.Errorf("drivers: %s: product_key: %q is also the product key in %s", file, m.ProductKey, prev))
			}
			byKey[m.ProductKey] = file
		}
		models = append(models, m)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return models, nil
}

func loadAlinkModel(file string) (*AlinkModel, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("drivers: alink model: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	m := &AlinkModel{File: file}
	if err := dec.Decode(m); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("drivers: %s: empty model file", file)
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			errs := make([]error, len(te.Errors))
			for i, msg := range te.Errors {
				errs[i] = fmt.Errorf("drivers: %s: %s", file, msg)
			}
			return nil, errors.Join(errs...)
		}
		return nil, fmt.Errorf("drivers: %s: %w", file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("drivers: %s: more than one model in the file", file)
	}
	return m, nil
}
