package drivers_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/community-edge/edge/drivers"
)

func TestLoadAlinkModels(t *testing.T) {
	models, err := drivers.LoadAlinkModels("testdata/models/good")
	if err != nil {
		t.Fatal(err)
	}
	if len(models) != 1 || models[0].ProductKey != "pkButton" || models[0].File != "testdata/models/good/button.yaml" ||
		models[0].Properties["Bat"].Metric != "battery_pct" || models[0].Events["SOS"].Type != "sos" {
		t.Errorf("loaded %+v", models)
	}
}

func TestLoadAlinkModelsReportsEveryError(t *testing.T) {
	_, err := drivers.LoadAlinkModels("testdata/models/bad")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"unknown_key.yaml: line 4: field propertys not found",
		"unknown_key.yaml: line 7: field feilds not found",
		"missing.yaml: product_key: missing",
		`missing.yaml: family: "toaster" is not one of`,
		"missing.yaml: properties.Bat.metric: missing",
		"missing.yaml: events.property: identifier property is reserved",
		`dup_b.yml: product_key: "pkDup" is also the product key in testdata/models/bad/dup_a.yaml`,
		"two_docs.yaml: more than one model in the file",
		"empty.yaml: empty model file",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := drivers.LoadAlinkModels("testdata/models/none"); err == nil {
		t.Error("no error for a missing directory")
	}
}

// stub is a driver that returns an empty message of the kind the topic says.
type stub struct{ f drivers.Family }

func (s stub) Family() drivers.Family { return s.f }
func (s stub) Decode(ch drivers.Channel, _ []byte) (drivers.Message, error) {
	return drivers.Message{Kind: drivers.KindStatus, Status: &drivers.Status{State: drivers.Online}}, nil
}
func (s stub) DecodeAlink(t drivers.Topic, _ *drivers.AlinkModel, _ []byte) (drivers.Message, error) {
	if t.Identifier == "property" {
		return drivers.Message{Kind: drivers.KindTelemetry, Telemetry: &drivers.Telemetry{}}, nil
	}
	if t.Identifier == "Timed" {
		return drivers.Message{Kind: drivers.KindEvent, Event: &drivers.Event{TS: 5}}, nil
	}
	return drivers.Message{Kind: drivers.KindEvent, Event: &drivers.Event{}}, nil
}
func (s stub) EventTypes() []string { return nil }

func TestRegistryStampsAlinkPostsWithoutTime(t *testing.T) {
	now := time.UnixMilli(1767225600000)
	r := drivers.NewRegistry(drivers.WithClock(func() time.Time { return now }))
	if err := r.Register(stub{drivers.Locker}); err != nil {
		t.Fatal(err)
	}
	m := &drivers.AlinkModel{ProductKey: "pk", Family: drivers.Locker, Events: map[string]drivers.AlinkEvent{"E": {Type: "tamper"}}}
	if err := r.AddModel(m); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		topic string
		ts    int64
	}{
		{drivers.AlinkPropertyTopic("pk", "d1"), now.UnixMilli()},
		{drivers.AlinkEventTopic("pk", "d1", "E"), now.UnixMilli()},
		{drivers.AlinkEventTopic("pk", "d1", "Timed"), 5},
	} {
		msg, err := r.Decode(c.topic, nil)
		if err != nil {
			t.Fatal(err)
		}
		ts := int64(-1)
		if msg.Event != nil {
			ts = msg.Event.TS
		} else if msg.Telemetry != nil {
			ts = msg.Telemetry.TS
		}
		if ts != c.ts || msg.Family != drivers.Locker || msg.Device != "d1" {
			t.Errorf("%s: ts %d family %s device %s, want ts %d", c.topic, ts, msg.Family, msg.Device, c.ts)
		}
	}
}

func TestRegistryAddModel(t *testing.T) {
	r := drivers.NewRegistry()
	if err := r.Register(stub{drivers.Locker}); err != nil {
		t.Fatal(err)
	}
	if err := r.Register(stub{drivers.Locker}); err == nil {
		t.Error("registered a family twice")
	}
	ok := &drivers.AlinkModel{ProductKey: "pk", Family: drivers.Locker, Events: map[string]drivers.AlinkEvent{"E": {Type: "tamper"}}}
	for _, c := range []struct {
		name string
		m    *drivers.AlinkModel
		want string
	}{
		{"nil", nil, "nil model"},
		{"no driver", &drivers.AlinkModel{ProductKey: "pk2", Family: drivers.Charger, Events: ok.Events}, `no driver for family "charger"`},
		{"invalid", &drivers.AlinkModel{Family: drivers.Locker, Events: ok.Events}, "product_key: missing"},
		{"wildcard key", &drivers.AlinkModel{ProductKey: "a/+", Family: drivers.Locker, Events: ok.Events}, "contains a topic separator"},
	} {
		if err := r.AddModel(c.m); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	if err := r.AddModel(ok); err != nil {
		t.Fatal(err)
	}
	if err := r.AddModel(ok); err == nil || !strings.Contains(err.Error(), "added twice") {
		t.Errorf("second add: %v", err)
	}
}

func TestKindText(t *testing.T) {
	for _, k := range []drivers.Kind{drivers.KindEvent, drivers.KindTelemetry, drivers.KindStatus, drivers.KindCmdAck} {
		b, err := k.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back drivers.Kind
		if err := back.UnmarshalText(b); err != nil || back != k {
			t.Errorf("%s: round trip gave %v, %v", k, back, err)
		}
	}
	if _, err := drivers.Kind(0).MarshalText(); err == nil {
		t.Error("encoded kind 0")
	}
	var k drivers.Kind
	if err := k.UnmarshalText([]byte("cmd")); err == nil {
		t.Error("decoded kind cmd")
	}
}

func TestTelemetryJSON(t *testing.T) {
	port := 2
	tl := &drivers.Telemetry{TS: 7, Port: &port, Metrics: []drivers.Metric{{"z_last", 1.5}, {"a_first", -2}}, Unknown: []string{"x"}}
	b, err := json.Marshal(tl)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"ts":7,"port":2,"metrics":{"z_last":1.5,"a_first":-2},"unknown_metrics":["x"]}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}

func TestReasonOf(t *testing.T) {
	err := drivers.Reject(drivers.ReasonOversize, "id is %d bytes", 200)
	wrapped := errors.Join(errors.New("context"), err)
	if got := drivers.ReasonOf(wrapped); got != drivers.ReasonOversize {
		t.Errorf("ReasonOf = %q", got)
	}
	if got := drivers.ReasonOf(errors.New("plain")); got != "" {
		t.Errorf("ReasonOf(plain) = %q", got)
	}
	seen := map[drivers.Reason]bool{}
	for _, r := range drivers.Reasons() {
		if seen[r] {
			t.Errorf("reason %s listed twice", r)
		}
		seen[r] = true
	}
	if !seen[drivers.ReasonOutOfRange] {
		t.Error("Reasons lacks out_of_range")
	}
}
