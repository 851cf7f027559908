package family

import (
	"testing"
	"time"

	"github.com/community-edge/edge/drivers"
)

var t0 = time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)

// run advances s second by second for d and returns the events with their offsets.
func run(t *testing.T, s Sim, from, d time.Duration) map[string]time.Duration {
	t.Helper()
	got := map[string]time.Duration{}
	for at := from; at <= from+d; at += time.Second {
		for _, ev := range s.Advance(t0.Add(at)) {
			if err := CheckEvent(s.Family(), ev); err != nil {
				t.Errorf("at %s: invalid event: %v", at, err)
			}
			if _, dup := got[ev.Type]; !dup {
				got[ev.Type] = at
			}
		}
	}
	return got
}

func TestChargerOverTemperature(t *testing.T) {
	s, _ := New(drivers.Charger, Options{Seed: 1})
	s.Advance(t0)
	if err := s.Command(t0, drivers.Command{Name: "start_session", Args: map[string]any{"port": float64(1)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Pin(t0, ptr(1), "temp_c", 80, 40*time.Second); err != nil {
		t.Fatal(err)
	}
	got := run(t, s, time.Second, 100*time.Second)
	// 28 °C → 80 °C over 40 s crosses 70 °C at about 32 s; the fault follows 30 s later.
	for _, typ := range []string{"over_temperature", "fault", "session_stopped"} {
		if at, ok := got[typ]; !ok || at < 60*time.Second || at > 65*time.Second {
			t.Errorf("%s at %s (present %v), want 60–65 s", typ, at, ok)
		}
	}
	if _, ok := got["session_started"]; !ok {
		t.Error("no session_started after start_session")
	}
	tm := s.Telemetry(t0.Add(100 * time.Second))
	if len(tm) != Ports || *tm[0].Port != 1 {
		t.Fatalf("telemetry: %+v", tm)
	}
	if v, _ := tm[0].Metric("temp_c"); v != 80 {
		t.Errorf("pinned temp_c = %v, want 80", v)
	}
	if v, _ := tm[0].Metric("power_w"); v != 0 {
		t.Errorf("power_w = %v after the protection stopped the session, want 0", v)
	}
	if err := s.Command(t0, drivers.Command{Name: "start_session", Args: map[string]any{"port": float64(1)}}); err == nil {
		t.Error("start_session on a tripped port: no error")
	}
}

func TestCallButtonLowBatteryOnce(t *testing.T) {
	s, _ := New(drivers.CallButton, Options{Seed: 3})
	s.Advance(t0)
	if err := s.Pin(t0, nil, "battery_pct", 10, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	n := 0
	for at := time.Second; at < 60*time.Second; at += time.Second {
		for _, ev := range s.Advance(t0.Add(at)) {
			if ev.Type == "low_battery" {
				n++
				if *ev.Data.BatteryPct >= lowBattery {
					t.Errorf("low_battery with %v%%", *ev.Data.BatteryPct)
				}
			}
		}
	}
	if n != 1 {
		t.Errorf("%d low_battery events, want 1", n)
	}
}

func TestLockerAutoActivityKeepsState(t *testing.T) {
	s, _ := New(drivers.Locker, Options{Seed: 5, AutoEvents: true, ActivityEvery: 10 * time.Second})
	got := run(t, s, 0, 10*time.Minute)
	for _, typ := range []string{"door_opened", "door_closed", "parcel_deposited", "parcel_collected"} {
		if _, ok := got[typ]; !ok {
			t.Errorf("no %s in 10 minutes of activity", typ)
		}
	}
	tm := s.Telemetry(t0.Add(10 * time.Minute))[0]
	occ, _ := tm.Metric("occupied")
	total, _ := tm.Metric("total")
	if total != compartments || occ < 0 || occ > total {
		t.Errorf("occupied %v of %v", occ, total)
	}
}

func TestCommands(t *testing.T) {
	tests := []struct {
		f       drivers.Family
		cmd     drivers.Command
		wantErr bool
	}{
		{drivers.CallButton, drivers.Command{Name: "locate"}, false},
		{drivers.CallButton, drivers.Command{Name: "open_compartment"}, true},
		{drivers.Locker, drivers.Command{Name: "open_compartment", Args: map[string]any{"compartment": "A07"}}, false},
		{drivers.Locker, drivers.Command{Name: "open_compartment", Args: map[string]any{"compartment": "Z99"}}, true},
		{drivers.Locker, drivers.Command{Name: "open_compartment"}, true},
		{drivers.Charger, drivers.Command{Name: "stop_session", Args: map[string]any{"port": float64(2)}}, true},
		{drivers.Charger, drivers.Command{Name: "start_session", Args: map[string]any{"port": 1.5}}, true},
		{drivers.Charger, drivers.Command{Name: "reboot"}, true},
	}
	for _, tt := range tests {
		s, _ := New(tt.f, Options{Seed: 1})
		s.Advance(t0)
		if err := s.Command(t0, tt.cmd); (err != nil) != tt.wantErr {
			t.Errorf("%s %s: error %v, want error %v", tt.f, tt.cmd.Name, err, tt.wantErr)
		}
	}
}

func TestRandomEventsAreValid(t *testing.T) {
	for _, f := range drivers.Families() {
		s, _ := New(f, Options{Seed: 9})
		for range 200 {
			if err := CheckEvent(f, s.RandomEvent()); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
}
