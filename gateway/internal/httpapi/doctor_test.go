package httpapi

import (
	"context"
	"testing"

	"github.com/community-edge/edge/gateway/internal/doctor"
)

// TestDoctorRoles: the installer's checks are for admin and installer only; the language is
// passed through and checked.
func TestDoctorRoles(t *testing.T) {
	e := newEnv(t, false)
	cookie, _ := e.login("inst1")
	if resp, _ := e.do(req{method: "GET", path: "/api/v1/doctor", cookie: cookie}); resp.StatusCode != 503 {
		t.Fatalf("without checks wired: %d, want 503", resp.StatusCode)
	}
	var langs []string
	e.srv.SetDoctor(func(_ context.Context, lang string) doctor.Report {
		langs = append(langs, lang)
		return doctor.Report{Lang: lang, OK: false, Fail: 1, Results: []doctor.Result{{ID: "broker", Status: doctor.Fail, Detail: "x", Fix: "y"}}}
	})
	for _, tc := range []struct {
		user, query string
		want        int
	}{
		{"admin1", "", 200},
		{"inst1", "?lang=en", 200},
		{"duty1", "", 403},
		{"guard1", "", 403},
		{"", "", 401},
		{"inst1", "?lang=fr", 400},
	} {
		r := req{method: "GET", path: "/api/v1/doctor" + tc.query}
		if tc.user != "" {
			r.cookie, _ = e.login(tc.user)
		}
		resp, out := e.do(r)
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d %v, want %d", tc.user, tc.query, resp.StatusCode, out, tc.want)
			continue
		}
		if tc.want == 200 {
			res, _ := out["results"].([]any)
			if out["ok"] != false || len(res) != 1 || res[0].(map[string]any)["fix"] != "y" {
				t.Errorf("%s: report %v", tc.user, out)
			}
		}
	}
	if len(langs) != 2 || langs[0] != "zh" || langs[1] != "en" {
		t.Errorf("languages asked for: %v, want [zh en]", langs)
	}
}
