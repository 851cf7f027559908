package payload

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/community-edge/edge/drivers"
)

// ThingModel is what the Alink encoder needs of a product's thing model: the reverse of the
// gateway's mapping from thing-model identifiers to canonical metrics and event types.
type ThingModel interface {
	// ProductKey is the product the devices belong to.
	ProductKey() string
	// PropertyOf returns the property identifier that carries a canonical metric, and the
	// scale the gateway multiplies its value by (1 if none).
	PropertyOf(metric string) (ident string, scale float64, ok bool)
	// EventOf returns the event identifier that carries a canonical event type.
	EventOf(eventType string) (ident string, ok bool)
	// ParamOf returns the output parameter of event ident that carries a canonical data field
	// (its JSON name in drivers.EventData).
	ParamOf(ident, field string) (param string, ok bool)
}

// Alink encodes the Alibaba Cloud IoT thing model (Alink JSON). Message ids are decimal
// numbers, boot<<32 | counter, unique per device across boots; telemetry and events share
// the counter as Alink message ids do.
type Alink struct {
	dev   Device
	boot  uint32
	n     uint64
	model ThingModel
}

// Dialect implements Encoder.
func (*Alink) Dialect() string { return "alink" }

func (e *Alink) nextID() string {
	e.n++
	return strconv.FormatUint(uint64(e.boot)<<32|e.n&0xffffffff, 10)
}

type alinkPost struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Params  any    `json:"params"`
	Method  string `json:"method"`
}

type alinkEventParams struct {
	Value map[string]json.RawMessage `json:"value"`
	Time  int64                      `json:"time"`
}

// Telemetry implements Encoder: one thing.event.property.post with one property per metric
// (and the port, for per-port reports).
func (e *Alink) Telemetry(t drivers.Telemetry, qos byte) (Message, error) {
	params := make(map[string]float64, len(t.Metrics)+1)
	put := func(metric string, v float64) error {
		ident, scale, ok := e.model.PropertyOf(metric)
		if !ok {
			return fmt.Errorf("payload: alink product %s has no property for metric %q", e.model.ProductKey(), metric)
		}
		params[ident] = unscale(v, scale)
		return nil
	}
	if t.Port != nil {
		if err := put("port", float64(*t.Port)); err != nil {
			return Message{}, err
		}
	}
	for _, m := range t.Metrics {
		if err := put(m.Name, m.Value); err != nil {
			return Message{}, err
		}
	}
	p := alinkPost{ID: e.nextID(), Version: "1.0", Params: params, Method: "thing.event.property.post"}
	return Message{Topic: drivers.AlinkPropertyTopic(e.model.ProductKey(), e.dev.ID), Payload: mustJSON(p), QoS: qos}, nil
}

// Event implements Encoder: a thing.event.{identifier}.post whose value holds the data
// fields the thing model defines parameters for; other fields are not part of the product
// and are left out, as a real device would.
func (e *Alink) Event(ts int64, typ string, data drivers.EventData) (Message, string, error) {
	ident, ok := e.model.EventOf(typ)
	if !ok {
		return Message{}, "", fmt.Errorf("payload: alink product %s has no event for type %q", e.model.ProductKey(), typ)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(mustJSON(data), &fields); err != nil {
		return Message{}, "", fmt.Errorf("payload: alink event %s: %w", typ, err)
	}
	value := make(map[string]json.RawMessage, len(fields))
	for f, v := range fields {
		if param, ok := e.model.ParamOf(ident, f); ok {
			value[param] = v
		}
	}
	id := e.nextID()
	p := alinkPost{ID: id, Version: "1.0", Params: alinkEventParams{Value: value, Time: ts},
		Method: "thing.event." + ident + ".post"}
	return Message{Topic: drivers.AlinkEventTopic(e.model.ProductKey(), e.dev.ID, ident), Payload: mustJSON(p), QoS: 1}, id, nil
}

// unscale turns a canonical value into the property's raw value, rounded to 6 decimals so
// that division does not show binary noise.
func unscale(v, scale float64) float64 {
	if scale == 0 {
		scale = 1
	}
	return math.Round(v/scale*1e6) / 1e6
}
