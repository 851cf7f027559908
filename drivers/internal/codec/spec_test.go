package codec

import (
	"strings"
	"testing"

	"github.com/community-edge/edge/drivers"
)

func TestSpecCheck(t *testing.T) {
	good := func() Spec {
		return Spec{Family: drivers.Locker, Metrics: []string{"total"},
			Events: []EventType{{Name: "door_opened", Fields: []Field{{Name: "compartment", Kind: Text}}}}}
	}
	for _, c := range []struct {
		name   string
		break_ func(*Spec)
		want   string
	}{
		{"unknown family", func(s *Spec) { s.Family = "fridge" }, "unknown family"},
		{"repeated type", func(s *Spec) { s.Events = append(s.Events, s.Events[0]) }, "empty or repeated"},
		{"unknown field", func(s *Spec) { s.Events[0].Fields[0].Name = "colour" }, "not a field of drivers.EventData"},
		{"text field as number", func(s *Spec) { s.Events[0].Fields[0].Kind = Number }, "wrong kind"},
		{"port as number", func(s *Spec) { s.Events[0].Fields[0] = Field{Name: "port", Kind: Number} }, "wrong kind"},
		{"enum without values", func(s *Spec) { s.Events[0].Fields[0].Kind = Enum }, "has no values"},
		{"fallback on text", func(s *Spec) { s.Events[0].Fields[0].Fallback = "x" }, "only enums have a fallback"},
		{"repeated metric", func(s *Spec) { s.Metrics = append(s.Metrics, "total") }, "metric \"total\" empty or repeated"},
	} {
		s := good()
		if err := s.check(); err != nil {
			t.Fatalf("good spec: %v", err)
		}
		c.break_(&s)
		if err := s.check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func TestNewPanicsOnBadSpec(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	New(Spec{Family: "fridge"})
}

func TestCheckModel(t *testing.T) {
	d := New(Spec{Family: drivers.Charger, Metrics: []string{"power_w"}, PerPort: true,
		Events: []EventType{{Name: "fault", Fields: []Field{
			{Name: "port", Kind: Int, Min: 0, Max: MaxPort},
			{Name: "code", Kind: Enum, Values: []string{"OverVoltage"}},
		}}}})
	port := 300
	err := d.CheckModel(&drivers.AlinkModel{ProductKey: "pk", Family: drivers.Charger, File: "m.yaml", Port: &port,
		Properties: map[string]drivers.AlinkProperty{"P": {Metric: "watts"}},
		Events: map[string]drivers.AlinkEvent{
			"F": {Type: "fault", Fields: map[string]string{"Gun": "port", "Err": "code"},
				Values:   map[string]map[string]string{"code": {"1": "Boom"}, "session": {"1": "x"}},
				Defaults: map[string]string{"port": "one"}},
			"G": {Type: "party"},
		}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`m.yaml: properties.P.metric: "watts" is not a charger metric (one of power_w)`,
		"m.yaml: port: 300 is outside [0, 255]",
		`m.yaml: events.F.values.code.1: "Boom" is not one of "OverVoltage"`,
		"m.yaml: events.F.values.session: not a data field of fault",
		"m.yaml: events.F.defaults.port: want a number, got string",
		`m.yaml: events.G.type: "party" is not a charger event type (one of fault)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
