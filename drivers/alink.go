package drivers

// AlinkModel maps one Alibaba Cloud IoT product's thing model (Alink JSON) onto the canonical
// model of a family. Models are loaded from per-product files under configs/.
type AlinkModel struct {
	ProductKey string `yaml:"product_key"`
	Family     Family `yaml:"family"`
	Name       string `yaml:"name"`
	// Properties maps a thing-model property identifier to a canonical metric.
	Properties map[string]AlinkProperty `yaml:"properties"`
	// Events maps a thing-model event identifier to a canonical event type.
	Events map[string]AlinkEvent `yaml:"events"`
}

// AlinkProperty maps one property to a metric.
type AlinkProperty struct {
	Metric string  `yaml:"metric"`
	Scale  float64 `yaml:"scale"` // multiplies the value; 0 means 1
}

// AlinkEvent maps one event identifier to a canonical event type, and its output parameters
// to canonical data fields.
type AlinkEvent struct {
	Type   string            `yaml:"type"`
	Fields map[string]string `yaml:"fields"` // thing-model parameter → canonical data field (json name)
}
