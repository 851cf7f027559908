package rules

import (
	"reflect"
	"testing"
	"time"

	"github.com/community-edge/edge/drivers"
)

func f64(v float64) *float64 { return &v }
func iptr(v int) *int        { return &v }

func TestOnEvent(t *testing.T) {
	cfg := Defaults()
	cfg.Devices = map[string]Override{"lk-slow": {Locker: LockerLimits{DoorOpenLimit: 20 * time.Minute}}}
	const at = 1_000_000
	type want struct {
		op   Op
		typ  string
		sev  Severity
		cond string
		key  string
		atMS int64
	}
	for _, tc := range []struct {
		name   string
		family drivers.Family
		device string
		typ    string
		data   drivers.EventData
		res    ResidentInfo
		want   []want
	}{
		{"sos", drivers.CallButton, "cb", "sos", drivers.EventData{Source: "pendant"}, ResidentInfo{}, []want{{op: OpRaise, typ: TypeSOS, sev: Critical}}},
		{"fall", drivers.CallButton, "cb", "fall", drivers.EventData{}, ResidentInfo{}, []want{{op: OpRaise, typ: TypeFall, sev: Critical}}},
		{"inactivity", drivers.CallButton, "cb", "inactivity", drivers.EventData{Hours: 12}, ResidentInfo{}, []want{{op: OpRaise, typ: TypeInactivity, sev: High}}},
		{"cancel", drivers.CallButton, "cb", "cancel", drivers.EventData{}, ResidentInfo{}, []want{{op: OpCancel}}},
		{"call button tamper", drivers.CallButton, "cb", "tamper", drivers.EventData{}, ResidentInfo{}, []want{{op: OpRaise, typ: TypeTamper, sev: Medium}}},
		{"low battery", drivers.CallButton, "cb", "low_battery", drivers.EventData{BatteryPct: f64(9)}, ResidentInfo{}, []want{{op: OpRaise, typ: TypeLowBattery, sev: Low}}},
		{"call button offline is high", drivers.CallButton, "cb", drivers.EventDeviceOffline, drivers.EventData{Reason: "heartbeat_missed"}, ResidentInfo{}, []want{{op: OpRaise, typ: TypeDeviceOffline, sev: High, cond: "offline"}}},
		{"locker offline is medium", drivers.Locker, "lk", drivers.EventDeviceOffline, drivers.EventData{}, ResidentInfo{}, []want{{op: OpRaise, typ: TypeDeviceOffline, sev: Medium, cond: "offline"}}},
		{"back online clears", drivers.Charger, "ch", drivers.EventDeviceOnline, drivers.EventData{}, ResidentInfo{}, []want{{op: OpClear, cond: "offline"}}},
		{"door opened starts 5 min timer", drivers.Locker, "lk", "door_opened", drivers.EventData{Compartment: "A1"}, ResidentInfo{}, []want{{op: OpTimer, typ: TypeDoorLeftOpen, sev: Medium, cond: "door:A1", key: "lk|door:A1", atMS: at + 5*60_000}}},
		{"per-device door limit", drivers.Locker, "lk-slow", "door_opened", drivers.EventData{Compartment: "B2"}, ResidentInfo{}, []want{{op: OpTimer, typ: TypeDoorLeftOpen, sev: Medium, cond: "door:B2", key: "lk-slow|door:B2", atMS: at + 20*60_000}}},
		{"door closed stops and clears", drivers.Locker, "lk", "door_closed", drivers.EventData{Compartment: "A1"}, ResidentInfo{}, []want{{op: OpStopTimer, key: "lk|door:A1"}, {op: OpClear, cond: "door:A1"}}},
		{"parcel for a resident living alone", drivers.Locker, "lk", "parcel_deposited", drivers.EventData{Parcel: "P9", Resident: "张秀英"}, ResidentInfo{Known: true, LivesAlone: true}, []want{{op: OpTimer, typ: TypeParcelUncollected, sev: High, cond: "parcel:P9", key: "lk|parcel:P9", atMS: at + 72*3600_000}}},
		{"parcel for anyone else", drivers.Locker, "lk", "parcel_deposited", drivers.EventData{Parcel: "P9", Resident: "李"}, ResidentInfo{Known: true}, nil},
		{"parcel collected", drivers.Locker, "lk", "parcel_collected", drivers.EventData{Parcel: "P9"}, ResidentInfo{}, []want{{op: OpStopTimer, key: "lk|parcel:P9"}, {op: OpClear, cond: "parcel:P9"}}},
		{"locker tamper is high", drivers.Locker, "lk", "tamper", drivers.EventData{}, ResidentInfo{}, []want{{op: OpRaise, typ: TypeTamper, sev: High}}},
		{"power lost", drivers.Locker, "lk", "power_lost", drivers.EventData{}, ResidentInfo{}, []want{{op: OpRaise, typ: TypePowerLost, sev: Medium, cond: "power"}}},
		{"power restored clears", drivers.Locker, "lk", "power_restored", drivers.EventData{}, ResidentInfo{}, []want{{op: OpClear, cond: "power"}}},
		{"smoke", drivers.Charger, "ch", "smoke", drivers.EventData{}, ResidentInfo{}, []want{{op: OpRaise, typ: TypeSmoke, sev: Critical}}},
		{"over temperature", drivers.Charger, "ch", "over_temperature", drivers.EventData{Port: iptr(1), TempC: f64(81)}, ResidentInfo{}, []want{{op: OpRaise, typ: TypeOverTemperature, sev: High}}},
		{"dangerous fault", drivers.Charger, "ch", "fault", drivers.EventData{Port: iptr(1), Code: "GroundFailure"}, ResidentInfo{}, []want{{op: OpRaise, typ: TypeChargerFault, sev: High}}},
		{"other fault", drivers.Charger, "ch", "fault", drivers.EventData{Port: iptr(1), Code: "ConnectorLockFailure"}, ResidentInfo{}, []want{{op: OpRaise, typ: TypeChargerFault, sev: Medium}}},
		{"session start is no alarm", drivers.Charger, "ch", "session_started", drivers.EventData{Port: iptr(1)}, ResidentInfo{}, nil},
		{"parcel deposit for nobody known", drivers.Locker, "lk", "parcel_deposited", drivers.EventData{Parcel: "P1"}, ResidentInfo{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := OnEvent(cfg.WithDefaults(), Event{Device: tc.device, Family: tc.family, Type: tc.typ, AtMS: at, Data: tc.data, Resident: tc.res})
			var got []want
			for _, d := range ds {
				got = append(got, want{op: d.Op, typ: d.Type, sev: d.Severity, cond: d.Condition, key: d.Key, atMS: d.AtMS})
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
			for _, d := range ds {
				if d.Op == OpRaise || d.Op == OpTimer {
					if _, ok := Titles[d.Type]; !ok {
						t.Errorf("type %s has no title", d.Type)
					}
				}
			}
		})
	}
}

func TestOnReading(t *testing.T) {
	cfg := Defaults()
	cfg.Devices = map[string]Override{"ch-cool": {Charger: ChargerLimits{TempCMax: 55}}}
	for _, tc := range []struct {
		name string
		r    Reading
		op   Op
		typ  string
		atMS int64
		key  string
	}{
		{"temp over 70 starts 30 s timer", Reading{Device: "ch", Family: drivers.Charger, Port: iptr(2), Metric: "temp_c", Value: 71, AtMS: 1000}, OpTimer, TypeTempHigh, 31000, "ch|thr:temp_c:2"},
		{"temp at 70 is fine", Reading{Device: "ch", Family: drivers.Charger, Port: iptr(2), Metric: "temp_c", Value: 70, AtMS: 1000, Timing: true}, OpStopTimer, "", 0, "ch|thr:temp_c:2"},
		{"temp at 70 with no timer running: nothing to stop", Reading{Device: "ch", Family: drivers.Charger, Port: iptr(2), Metric: "temp_c", Value: 70, AtMS: 1000}, 0, "", 0, ""},
		{"per-device limit", Reading{Device: "ch-cool", Family: drivers.Charger, Port: iptr(1), Metric: "temp_c", Value: 60, AtMS: 0}, OpTimer, TypeTempHigh, 30000, "ch-cool|thr:temp_c:1"},
		{"power over rating", Reading{Device: "ch", Family: drivers.Charger, Port: iptr(1), Metric: "power_w", Value: 7400, AtMS: 0}, OpTimer, TypeOverPower, 10000, "ch|thr:power_w:1"},
		{"voltage has no rule", Reading{Device: "ch", Family: drivers.Charger, Metric: "voltage_v", Value: 400}, 0, "", 0, ""},
		{"call buttons have no thresholds", Reading{Device: "cb", Family: drivers.CallButton, Metric: "battery_pct", Value: 3}, 0, "", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := OnReading(cfg.WithDefaults(), tc.r)
			if tc.op == 0 {
				if len(ds) != 0 {
					t.Fatalf("want nothing, got %+v", ds)
				}
				return
			}
			if len(ds) != 1 || ds[0].Op != tc.op || ds[0].Type != tc.typ || ds[0].AtMS != tc.atMS || ds[0].Key != tc.key {
				t.Fatalf("got %+v", ds)
			}
		})
	}
}

func TestValidateNamesKeys(t *testing.T) {
	c := Config{EscalateAfter: -time.Second, Charger: ChargerLimits{TempCMax: 500},
		Devices: map[string]Override{"ch-1": {Charger: ChargerLimits{PortRatingW: -1}}}}
	got := c.Validate("alarms")
	want := []string{"alarms.escalate_after", "alarms.charger.temp_c_max", "alarms.devices.ch-1.charger.port_rating_w"}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if len(got[i]) < len(want[i]) || got[i][:len(want[i])] != want[i] {
			t.Errorf("problem %d = %q, want key %s", i, got[i], want[i])
		}
	}
}
