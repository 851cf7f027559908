package builtin_test

import (
	"strings"
	"testing"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/drivers/builtin"
)

func TestShippedModels(t *testing.T) {
	models, err := drivers.LoadAlinkModels("../../configs/alink")
	if err != nil {
		t.Fatal(err)
	}
	r, err := builtin.New(models...)
	if err != nil {
		t.Fatal(err)
	}
	perFamily := map[drivers.Family]int{}
	for _, m := range models {
		if got, ok := r.Model(m.ProductKey); !ok || got != m {
			t.Errorf("model %s not in the registry", m.ProductKey)
		}
		perFamily[m.Family]++
	}
	for _, f := range drivers.Families() {
		if perFamily[f] == 0 {
			t.Errorf("configs/alink has no %s product", f)
		}
		if _, ok := r.Driver(f); !ok {
			t.Errorf("no %s driver", f)
		}
	}
}

func TestNewReportsEveryModelError(t *testing.T) {
	bad := []*drivers.AlinkModel{
		{ProductKey: "pk1", Family: drivers.CallButton, File: "one.yaml",
			Properties: map[string]drivers.AlinkProperty{"Bat": {Metric: "battery"}},
			Events:     map[string]drivers.AlinkEvent{"Boom": {Type: "explosion"}}},
		{ProductKey: "pk2", Family: drivers.Charger, File: "two.yaml",
			Events: map[string]drivers.AlinkEvent{"Fault": {Type: "fault", Fields: map[string]string{"Err": "error_code"}}}},
	}
	_, err := builtin.New(bad...)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`one.yaml: properties.Bat.metric: "battery" is not a callbutton metric`,
		`one.yaml: events.Boom.type: "explosion" is not a callbutton event type`,
		`two.yaml: events.Fault.fields.Err: "error_code" is not a data field of fault`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
