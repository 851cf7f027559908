package codec

import (
	"testing"

	"github.com/community-edge/edge/drivers"
)

// TestAllocations guards the decoder's allocation budget: the event (with its data's numbers)
// and each string it keeps; the report and its metric slice.
func TestAllocations(t *testing.T) {
	d := New(Spec{Family: drivers.Charger, Metrics: []string{"power_w", "voltage_v"}, PerPort: true,
		Events: []EventType{{Name: "session_stopped", Fields: []Field{
			{Name: "port", Kind: Int, Required: true, Min: 0, Max: MaxPort},
			{Name: "session", Kind: Text, Required: true},
			{Name: "energy_wh", Kind: Number, Required: true, Min: 0, Max: Unbounded},
		}}}})
	for _, c := range []struct {
		ch      drivers.Channel
		payload string
		max     float64
	}{
		{drivers.ChanEvent, `{"id":"e-1","ts":1767225600200,"type":"session_stopped","data":{"port":3,"session":"S-3","energy_wh":812.5}}`, 3},
		{drivers.ChanTelemetry, `{"ts":1767225600000,"port":3,"metrics":{"power_w":231.5,"voltage_v":220.4}}`, 3},
	} {
		payload := []byte(c.payload)
		allocs := testing.AllocsPerRun(200, func() {
			if _, err := d.Decode(c.ch, payload); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > c.max {
			t.Errorf("%s: %v allocations, want at most %v", c.ch, allocs, c.max)
		}
	}
}
