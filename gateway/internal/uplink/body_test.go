package uplink

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/community-edge/edge/cloud/api"
)

func sampleAlert() api.Alert {
	return api.Alert{AlarmID: "a-17", Type: "sos", Family: "callbutton", Device: "cb-0007", Priority: api.Urgent,
		OccurredAt: time.Date(2026, 11, 23, 6, 30, 0, 0, time.FixedZone("CST", 8*3600)),
		Site:       "sunrise", GridCode: "110105001002003", Address: `3号楼 2单元 "东" 1201`,
		Location: &api.Location{Lat: 39.9, Lon: 116.4},
		Resident: &api.Resident{Name: "张桂兰", Phone: "13800000001"}}
}

func TestWebhookBody(t *testing.T) {
	full := sampleAlert()
	noResident := sampleAlert()
	noResident.Resident, noResident.Location = nil, nil
	whole, _ := json.Marshal(full)
	for _, tc := range []struct {
		name, tmpl string
		alert      api.Alert
		want       string
	}{
		{"the default is the whole alert", "", full, string(whole)},
		{"json values", `{"no": {{json .AlarmID}}, "who": {{json .Resident.Name}}, "lat": {{json .Location.Lat}}}`, full,
			`{"no": "a-17", "who": "张桂兰", "lat": 39.9}`},
		{"absent fields are null", `{"who": {{json .Resident.Name}}, "r": {{json .Resident}}, "lat": {{json .Location.Lat}}}`, noResident,
			`{"who": null, "r": null, "lat": null}`},
		{"text is escaped inside a string", `{"msg": "{{.Type}} at {{.Address}}"}`, full,
			`{"msg": "sos at 3号楼 2单元 \"东\" 1201"}`},
		{"absent text is empty", `{"msg": "call {{.Resident.Phone}}"}`, noResident, `{"msg": "call "}`},
		{"times as RFC 3339", `{"at": "{{.OccurredAt}}", "t": {{json .OccurredAt}}}`, full,
			`{"at": "2026-11-23T06:30:00+08:00", "t": "2026-11-23T06:30:00+08:00"}`},
		{"named types print as their value", `{"p": "{{.Priority}}", "lon": "{{.Location.Lon}}"}`, full,
			`{"p": "urgent", "lon": "116.4"}`},
		{"spaces inside the braces", `{"g": {{ json  .GridCode }}}`, full, `{"g": "110105001002003"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := NewWebhook("http://127.0.0.1:1/", nil, tc.tmpl, "")
			if err != nil {
				t.Fatal(err)
			}
			got, err := w.Render(tc.alert)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestWebhookBodyErrors(t *testing.T) {
	for _, tc := range []struct{ tmpl, want string }{
		{`{"x": {{json .Adress}}}`, `at 6: {{json .Adress}}: the alert has no field "Adress" here (fields: AlarmID, Type,`},
		{`{"x": {{json .Resident.Age}}}`, `no field "Age" here (fields: Name, Phone, Unit, Contact, ContactPhone, MedicalNotes)`},
		{`{"x": {{json .Type.Name}}}`, `.Type.Name has no fields`},
		{`{"x": {{printf "%s" .Type}}}`, `a placeholder is {{.Field}} or {{json .Field}}`},
		{`{"x": {{json Type}}}`, `a field path starts with a dot`},
		{`{"x": "{{.}}"}`, `the whole alert goes in as {{json .}}`},
		{`{"x": {{json .Type}`, `at 6: {{ without }}`},
		{`{"x": json .Type}}}`, `at 16: }} without {{`},
		{`{"x": {{json .Type}}, "y": .Site}}}`, `at 32: }} without {{`},
		{`{"x": {{}}}`, `a placeholder is`},
	} {
		_, err := NewWebhook("http://127.0.0.1:1/", nil, tc.tmpl, "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", tc.tmpl, err, tc.want)
		}
	}
}

func TestWebhookBodyMustBeJSON(t *testing.T) {
	w, err := NewWebhook("http://127.0.0.1:1/", nil, `{"kind": {{.Type}}}`, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Render(sampleAlert()); err == nil || !strings.Contains(err.Error(), "did not produce JSON") {
		t.Fatalf("got %v, want the body refused as not JSON", err)
	}
}

// FuzzWebhookBody: no template makes reading or rendering panic, and what renders is either
// refused or JSON.
func FuzzWebhookBody(f *testing.F) {
	for _, s := range []string{"", `{{json .}}`, `{"a": {{json .Resident.Name}}, "b": "{{.Address}}"}`, `{{`, `}}`,
		`{{json .Location.Lat.X}}`, `{{ .OccurredAt }}`, `{{json .Resident}}`} {
		f.Add(s)
	}
	alerts := []api.Alert{sampleAlert(), {}}
	f.Fuzz(func(t *testing.T, tmpl string) {
		w, err := NewWebhook("http://127.0.0.1:1/", nil, tmpl, "")
		if err != nil {
			return
		}
		for _, a := range alerts {
			if b, err := w.Render(a); err == nil && !json.Valid(b) {
				t.Fatalf("%q rendered %q, not JSON", tmpl, b)
			}
		}
	})
}
