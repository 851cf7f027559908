package cases

import (
	"encoding/json"
	"testing"

	"github.com/community-edge/edge/cloud/api"
)

// FuzzFromAlert feeds alert bodies as a gateway could send them: no panic, and an accepted
// alert always makes a well-formed case that keeps medical notes only for medical rules.
func FuzzFromAlert(f *testing.F) {
	f.Add([]byte(`{"alarm_id":"a1","type":"sos","family":"callbutton","occurred_at":"2025-03-01T08:00:00Z","site":"s","grid_code":"110105001002003","resident":{"name":"x","medical_notes":"m"}}`))
	f.Add([]byte(`{"alarm_id":"a2","type":"smoke","family":"charger","occurred_at":"2025-03-01T08:00:00Z","site":"s","grid_code":"110105001002003","resident":{"medical_notes":"m"},"location":{"lat":91}}`))
	f.Add([]byte(`{"alarm_id":"","type":"fault","code":"HighTemperature","priority":"asap"}`))
	cl := DefaultClassifier()
	m := NewMachine()
	f.Fuzz(func(t *testing.T, body []byte) {
		var a api.Alert
		if json.Unmarshal(body, &a) != nil {
			return
		}
		c, err := cl.FromAlert("gw", a)
		if err != nil {
			return
		}
		if !ValidGridCode(c.GridCode) || !c.Priority.Valid() || c.AlarmID == "" || len(c.Description) > 2000 {
			t.Fatalf("accepted a malformed case: %+v", c)
		}
		if c.Resident != nil && c.Resident.MedicalNotes != "" && !cl.Rule(a.Family, a.Type, a.Code).Medical {
			t.Fatalf("medical notes kept for %s", a.Type)
		}
		if o := m.Open(c, a.OccurredAt); o.State != api.Reported || o.Due == nil {
			t.Fatalf("opened case %+v", o)
		}
	})
}
