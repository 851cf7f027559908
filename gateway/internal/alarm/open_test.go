package alarm

import (
	"context"
	"maps"
	"strings"
	"testing"
)

// TestKnownAlarmsKeepOnlyWhatNoOneChanged: what an ingest transaction knew is kept for the next
// one, unless another transaction changed alarms after it began; an alarm it resolved is no
// longer among its device's open alarms. (No database here: a device known is not read.)
func TestKnownAlarmsKeepOnlyWhatNoOneChanged(t *testing.T) {
	ctx := context.Background()
	sos := Alarm{ID: "t-1", DeviceID: "cb-1", Type: "sos", State: Raised, Count: 2}
	fall := Alarm{ID: "t-2", DeviceID: "cb-1", Type: "fall", State: Raised, Count: 1}
	power := Alarm{ID: "t-3", DeviceID: "lk-1", Type: "power_lost", State: Raised, Count: 1}
	for _, tc := range []struct {
		name    string
		between bool // another transaction changed alarms before the second one was learnt
		resolve bool // the second transaction resolves the sos alarm
		want    map[string]string
	}{
		{name: "learnt", want: map[string]string{"cb-1": "sos fall", "lk-1": "power_lost"}},
		{name: "changed in between", between: true, want: map[string]string{}},
		{name: "resolved", resolve: true, want: map[string]string{"cb-1": "fall", "lk-1": "power_lost"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var k knownAlarms
			var o openAlarms
			o.reset(&k)
			o.byDevice = map[string][]*openAlarm{"cb-1": {{a: sos}}, "lk-1": {{a: power}}}
			k.learn(&o) // a first batch
			o.reset(&k)
			if _, err := o.device(ctx, nil, "cb-1"); err != nil {
				t.Fatal(err)
			}
			o.add(fall)
			if tc.resolve {
				x, err := o.find(ctx, nil, "cb-1", "sos")
				if err != nil || x == nil {
					t.Fatalf("sos not found: %v", err)
				}
				resolved := x.a
				resolved.State = Resolved
				o.saved(x, resolved)
			}
			if tc.between {
				k.invalidate()
			}
			k.learn(&o)
			got := map[string]string{}
			for dev, as := range k.m {
				for _, a := range as {
					got[dev] = strings.TrimSpace(got[dev] + " " + a.Type)
				}
			}
			if !maps.Equal(got, tc.want) {
				t.Fatalf("known %v, want %v", got, tc.want)
			}
		})
	}
}
