package scenario

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/community-edge/edge/drivers"
)

func TestShippedScenariosAreValid(t *testing.T) {
	files, err := filepath.Glob("../../configs/scenarios/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"charger-overheat.yaml", "demo.yaml", "device-silent.yaml", "locker-door-open.yaml", "sos.yaml"}
	got := map[string]bool{}
	for _, f := range files {
		got[filepath.Base(f)] = true
		if _, err := Load(f); err != nil {
			t.Errorf("%v", err)
		}
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("configs/scenarios/%s is missing", w)
		}
	}
}

func TestThreeMistakesAllReported(t *testing.T) {
	_, err := Load("testdata/three-mistakes.yaml")
	if err == nil {
		t.Fatal("Load: no error")
	}
	msg := err.Error()
	for _, want := range []string{
		"3 mistake(s)",
		`line 5: "10x" is not a duration`,
		"line 11: field evnt not found",
		`steps[2] (line 12).device: "cb-0009" is not in the fleet`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"two kinds in a step", "fleet: {callbutton: 1}\nsteps:\n- {at: 1s, device: cb-0001, event: fall, action: go_silent}\n",
			[]string{"steps[0] (line 3).event/action/set_metric: a step needs exactly one, has 2"}},
		{"unknown event for family", "fleet: {locker: 1}\nsteps:\n- {at: 1s, device: lk-0001, event: sos, data: {source: wall}}\n",
			[]string{`"sos" is not a locker event`}},
		{"missing event data", "fleet: {locker: 1}\nsteps:\n- {at: 1s, device: lk-0001, event: door_opened}\n",
			[]string{"door_opened event needs data [compartment]"}},
		{"unknown data field", "fleet: {callbutton: 1}\nsteps:\n- {at: 1s, device: cb-0001, event: sos, data: {sorce: wall}}\n",
			[]string{`steps[0] (line 3).data: unknown field "sorce"`}},
		{"bad set_metric", "fleet: {charger: 1, locker: 1}\nsteps:\n- {at: 1s, device: ch-0001, set_metric: {name: temp_c, value: 80}}\n- {at: 1s, device: lk-0001, set_metric: {name: power_w, value: 1}}\n",
			[]string{"set_metric.port: a charger metric needs a port", `set_metric.name: "power_w" is not a locker metric`}},
		{"bad top level", "dialect: mqtt\nloop: 10s\nfleet: {charger: -1}\ndevices:\n- {id: a/b, family: lamp}\nsteps:\n- {at: 20s, device: a/b, action: explode}\n",
			[]string{`dialect: "mqtt"`, "fleet.charger: -1", "devices[0].id: \"a/b\" must not contain", `devices[0].family: "lamp"`, "at: 20s is not before the loop period 10s", `action: "explode"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatal("Parse: no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestExpand(t *testing.T) {
	s, err := Parse([]byte(`
dialect: alink
fleet: {callbutton: 2, charger: 1}
devices:
  - {id: cb-0002, family: callbutton, dialect: native, fw: "2.0.1"}
  - {id: pendant-x, family: callbutton}
steps:
  - {at: 10s, device: cb-0001, event: sos, data: {source: pendant}}
  - {at: 5s, device: pendant-x, action: go_silent}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := s.Expand(nil)
	want := []Device{
		{ID: "cb-0001", Family: drivers.CallButton, Dialect: "alink"},
		{ID: "cb-0002", Family: drivers.CallButton, Dialect: "native", FW: "2.0.1"},
		{ID: "ch-0001", Family: drivers.Charger, Dialect: "alink"},
		{ID: "pendant-x", Family: drivers.CallButton, Dialect: "alink"},
	}
	if len(got) != len(want) {
		t.Fatalf("Expand: got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("device %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if n := len(s.Expand(&Counts{Locker: 3})); n != 5 {
		t.Errorf("Expand with counts: %d devices, want 3 lockers + pendant-x + cb-0002", n)
	}
	steps := s.Sorted()
	if steps[0].At.D() != 5*time.Second || steps[1].EventData.Source != "pendant" {
		t.Errorf("Sorted: %+v", steps)
	}
}
