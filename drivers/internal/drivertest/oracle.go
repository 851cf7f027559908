package drivertest

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"testing"

	"github.com/community-edge/edge/drivers"
)

// oracle decodes an accepted payload again with encoding/json into generic values and checks
// that every value both decoders read is the same.
func (s *Suite) oracle(t *testing.T, topic string, payload []byte, msg *drivers.Message) {
	t.Helper()
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		t.Fatalf("accepted payload %q: encoding/json: %v", payload, err)
	}
	tp, err := drivers.ParseTopic(topic)
	if err != nil {
		t.Fatal(err)
	}
	o := oracle{t: t, payload: payload}
	if tp.Alink {
		m, _ := s.Registry.Model(tp.ProductKey)
		params, _ := raw["params"].(map[string]any)
		if msg.Kind == drivers.KindTelemetry {
			s.alinkTelemetry(o, m, params, msg.Telemetry)
			return
		}
		ev := msg.Event
		o.str("id", raw["id"], ev.ID)
		if tm, ok := params["time"]; ok {
			o.int("params.time", tm, ev.TS)
		} else if ev.TS != Clock.UnixMilli() {
			t.Fatalf("%q: alink event without time has ts %d, not the receive time", payload, ev.TS)
		}
		ae := m.Events[tp.Identifier]
		value, _ := params["value"].(map[string]any)
		s.data(o, value, &ae, &ev.Data)
		return
	}
	switch msg.Kind {
	case drivers.KindEvent:
		ev := msg.Event
		o.str("id", raw["id"], ev.ID)
		o.int("ts", raw["ts"], ev.TS)
		o.str("type", raw["type"], ev.Type)
		data, _ := raw["data"].(map[string]any)
		s.data(o, data, nil, &ev.Data)
	case drivers.KindTelemetry:
		tl := msg.Telemetry
		o.int("ts", raw["ts"], tl.TS)
		if tl.Port != nil {
			o.int("port", raw["port"], int64(*tl.Port))
		} else if p, ok := raw["port"]; ok && p != nil && s.Driver.Family() == drivers.Charger {
			t.Fatalf("%q: port %v not decoded", payload, p)
		}
		metrics, _ := raw["metrics"].(map[string]any)
		for _, m := range tl.Metrics {
			o.float("metrics."+m.Name, metrics[m.Name], m.Value)
		}
		known := s.metrics()
		for k, v := range metrics {
			if _, isNum := v.(json.Number); isNum && slices.Contains(known, k) {
				if _, ok := tl.Metric(k); !ok {
					t.Fatalf("%q: metric %s not decoded", payload, k)
				}
			}
		}
		for _, u := range tl.Unknown {
			if _, ok := metrics[u]; !ok || slices.Contains(known, u) {
				t.Fatalf("%q: %q listed as an unknown metric", payload, u)
			}
		}
	case drivers.KindStatus:
		st := msg.Status
		o.str("state", raw["state"], string(st.State))
		if fw, ok := raw["fw"]; ok && fw != nil {
			o.str("fw", fw, st.FW)
		}
		if ts, ok := raw["ts"]; ok {
			o.int("ts", ts, st.TS)
		}
	case drivers.KindCmdAck:
		a := msg.Ack
		o.str("id", raw["id"], a.ID)
		if raw["ok"] != a.OK {
			t.Fatalf("%q: ok %v, decoded %v", payload, raw["ok"], a.OK)
		}
		if e, ok := raw["error"]; ok && e != nil {
			o.str("error", e, a.Error)
		}
	}
}

func (s *Suite) metrics() []string {
	d, ok := s.Driver.(interface{ Metrics() []string })
	if !ok {
		return nil
	}
	return d.Metrics()
}

func (s *Suite) alinkTelemetry(o oracle, m *drivers.AlinkModel, params map[string]any, tl *drivers.Telemetry) {
	var maxTime int64
	for k, v := range params {
		if _, mapped := m.Properties[k]; !mapped && k != m.PortProperty {
			continue // the time of a property the model does not map is not read
		}
		if obj, ok := v.(map[string]any); ok {
			if n, ok := obj["time"].(json.Number); ok {
				if tm, _ := n.Int64(); tm > maxTime {
					maxTime = tm
				}
			}
		}
	}
	if maxTime == 0 {
		maxTime = Clock.UnixMilli()
	}
	if tl.TS != maxTime {
		o.t.Fatalf("%q: ts %d, want %d", o.payload, tl.TS, maxTime)
	}
	for _, met := range tl.Metrics {
		var props []string
		for id, p := range m.Properties {
			if _, in := params[id]; in && p.Metric == met.Name {
				props = append(props, id)
			}
		}
		if len(props) != 1 {
			continue // several properties feed this metric: the order decides, which a map loses
		}
		p := m.Properties[props[0]]
		v := params[props[0]]
		if obj, ok := v.(map[string]any); ok {
			v = obj["value"]
		}
		n, ok := v.(json.Number)
		if !ok {
			o.t.Fatalf("%q: params.%s is %v, decoded %v", o.payload, props[0], v, met.Value)
		}
		f, err := n.Float64()
		if err != nil {
			o.t.Fatal(err)
		}
		if p.Scale != 0 {
			f *= p.Scale
		}
		if f != met.Value && !(math.IsNaN(f) && math.IsNaN(met.Value)) {
			o.t.Fatalf("%q: params.%s is %v (scaled), decoded %v", o.payload, props[0], f, met.Value)
		}
	}
	if m.PortProperty != "" {
		v, in := params[m.PortProperty]
		if obj, ok := v.(map[string]any); ok {
			v = obj["value"]
		}
		if in && v != nil {
			if tl.Port == nil {
				o.t.Fatalf("%q: port not decoded", o.payload)
			}
			o.int("params."+m.PortProperty, v, int64(*tl.Port))
		}
	}
}

// data compares the data fields encoding/json read with the decoded ones: those the driver
// does not rewrite and the model does not map through values.
func (s *Suite) data(o oracle, raw map[string]any, ae *drivers.AlinkEvent, d *drivers.EventData) {
	b, err := json.Marshal(d)
	if err != nil {
		o.t.Fatal(err)
	}
	var got map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&got); err != nil {
		o.t.Fatal(err)
	}
	for k, rv := range raw {
		field := k
		if ae != nil {
			var ok bool
			if field, ok = ae.Fields[k]; !ok {
				continue
			}
			if _, mapped := ae.Values[field]; mapped {
				continue
			}
		}
		if slices.Contains(s.Normalised, field) {
			continue
		}
		gv, ok := got[field]
		if !ok {
			continue // not a field of this type, absent, or a lenient field's invalid value
		}
		switch rv := rv.(type) {
		case string:
			o.str("data."+field, rv, gv.(string))
		case json.Number:
			switch gv := gv.(type) {
			case string: // a text field given as an integer
				if gv != rv.String() {
					o.t.Fatalf("%q: data.%s is %s, decoded %q", o.payload, field, rv, gv)
				}
			case json.Number:
				want, _ := rv.Float64()
				have, _ := gv.Float64()
				if want != have {
					o.t.Fatalf("%q: data.%s is %s, decoded %s", o.payload, field, rv, gv)
				}
			}
		default:
			o.t.Fatalf("%q: data.%s is %v, yet decoded as %v", o.payload, field, rv, gv)
		}
	}
}

type oracle struct {
	t       *testing.T
	payload []byte
}

func (o oracle) str(key string, raw any, got string) {
	o.t.Helper()
	if s, ok := raw.(string); !ok || s != got {
		o.t.Fatalf("%q: %s is %#v, decoded %q", o.payload, key, raw, got)
	}
}

func (o oracle) int(key string, raw any, got int64) {
	o.t.Helper()
	n, ok := raw.(json.Number)
	if !ok {
		o.t.Fatalf("%q: %s is %#v, decoded %d", o.payload, key, raw, got)
	}
	v, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil || v != got {
		o.t.Fatalf("%q: %s is %s, decoded %d", o.payload, key, n, got)
	}
}

func (o oracle) float(key string, raw any, got float64) {
	o.t.Helper()
	n, ok := raw.(json.Number)
	if !ok {
		o.t.Fatalf("%q: %s is %#v, decoded %v", o.payload, key, raw, got)
	}
	v, err := n.Float64()
	if err != nil || v != got {
		o.t.Fatalf("%q: %s is %s, decoded %v", o.payload, key, n, got)
	}
}
