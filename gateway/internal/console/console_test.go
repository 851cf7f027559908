package console

import (
	"encoding/json"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/community-edge/edge/gateway/internal/alarm"
	"github.com/community-edge/edge/gateway/internal/alarm/rules"
	"github.com/community-edge/edge/gateway/internal/config"
)

func TestHandler(t *testing.T) {
	h := Handler()
	get := func(method, p string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, p, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, tc := range []struct {
		method, path string
		status       int
		ctype, body  string
	}{
		{"GET", "/", 200, "text/html", `<script type="module" src="js/app.js">`},
		{"GET", "/index.html", 200, "text/html", "<main"},
		{"GET", "/style.css", 200, "text/css", ".alarm-card"},
		{"GET", "/js/app.js", 200, "text/javascript", "AlarmFeed"},
		{"GET", "/i18n/zh.json", 200, "application/json", "值班台"},
		{"HEAD", "/js/feed.js", 200, "text/javascript", ""},
		{"GET", "/missing.js", 404, "", ""},
		{"GET", "/../console.go", 404, "", ""},
		{"GET", "/js/", 404, "", ""},
		{"POST", "/", 405, "", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := get(tc.method, tc.path)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("Content-Security-Policy = %q", csp)
			}
			if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no X-Content-Type-Options: nosniff")
			}
			if !strings.HasPrefix(rec.Header().Get("Content-Type"), tc.ctype) {
				t.Errorf("Content-Type %q, want %s…", rec.Header().Get("Content-Type"), tc.ctype)
			}
			if !strings.Contains(rec.Body.String(), tc.body) {
				t.Errorf("body lacks %q", tc.body)
			}
		})
	}
	first := get("GET", "/js/app.js")
	tag := first.Header().Get("ETag")
	if tag == "" || first.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("want an ETag and Cache-Control: no-cache, got %q %q", tag, first.Header().Get("Cache-Control"))
	}
	if rec := get("GET", "/js/app.js", "If-None-Match", tag); rec.Code != http.StatusNotModified {
		t.Fatalf("revalidation with the ETag: status %d, want 304", rec.Code)
	}
}

// TestImportsResolve checks that every relative module import names an embedded file, since
// no build step would catch a typo.
func TestImportsResolve(t *testing.T) {
	files := Assets()
	importRe := regexp.MustCompile(`(?m)^\s*import\s[^"]*"(\.[^"]+)"`)
	n := 0
	fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		b, _ := fs.ReadFile(files, p)
		for _, m := range importRe.FindAllStringSubmatch(string(b), -1) {
			n++
			target := path.Join(path.Dir(p), m[1])
			if _, err := fs.Stat(files, target); err != nil {
				t.Errorf("%s imports %s: %s is not embedded", p, m[1], target)
			}
		}
		return nil
	})
	if n < 10 {
		t.Fatalf("found %d imports; the pattern is broken", n)
	}
}

func dictionary(t *testing.T, lang string) map[string]string {
	t.Helper()
	b, err := fs.ReadFile(Assets(), "i18n/"+lang+".json")
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]string
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s.json: %v", lang, err)
	}
	return d
}

// TestDictionaries checks that both languages have the same keys, none empty, with the same
// placeholders, and that every key the pages use exists: the literal ones in the code and the
// ones made from the gateway's own vocabularies (severities, states, roles, alarm types…).
func TestDictionaries(t *testing.T) {
	zh, en := dictionary(t, "zh"), dictionary(t, "en")
	placeholders := regexp.MustCompile(`\{\w+\}`)
	for k, v := range zh {
		w, ok := en[k]
		switch {
		case !ok:
			t.Errorf("en.json lacks %q", k)
		case v == "" || w == "":
			t.Errorf("%q is empty in a language", k)
		default:
			a, b := placeholders.FindAllString(v, -1), placeholders.FindAllString(w, -1)
			slices.Sort(a)
			slices.Sort(b)
			if !slices.Equal(a, b) {
				t.Errorf("%q: placeholders differ: zh %v, en %v", k, a, b)
			}
		}
	}
	for k := range en {
		if _, ok := zh[k]; !ok {
			t.Errorf("zh.json lacks %q", k)
		}
	}

	used := map[string]string{} // key → where
	literal := regexp.MustCompile(`\bt\("([A-Za-z0-9_.]+)"|data-i18n="([^"]+)"|\[\s*"((?:history|device|devices|resident|event|users)\.[A-Za-z]+)"`)
	fs.WalkDir(Assets(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".html")) {
			return err
		}
		b, _ := fs.ReadFile(Assets(), p)
		for _, m := range literal.FindAllStringSubmatch(string(b), -1) {
			used[m[1]+m[2]+m[3]] = p
		}
		return nil
	})
	if len(used) < 100 {
		t.Fatalf("found %d keys in the code; the pattern is broken", len(used))
	}
	vocab := map[string][]string{
		"sev.":    {string(rules.Critical), string(rules.High), string(rules.Medium), string(rules.Low)},
		"state.":  {string(alarm.Raised), string(alarm.Acknowledged), string(alarm.Resolved)},
		"role.":   config.Roles,
		"family.": {"callbutton", "locker", "charger"},
		"kind.": {alarm.ChangeRaised, alarm.ChangeRepeated, alarm.ChangeAcknowledged, alarm.ChangeResolved, alarm.ChangeEscalated,
			alarm.ChangeCancelled, alarm.ChangeCleared, alarm.ChangeCase, alarm.ChangeNote},
		"type.": {rules.TypeSOS, rules.TypeFall, rules.TypeInactivity, rules.TypeTamper, rules.TypeLowBattery, rules.TypeDeviceOffline,
			rules.TypeDoorLeftOpen, rules.TypePowerLost, rules.TypeParcelUncollected, rules.TypeSmoke, rules.TypeOverTemperature,
			rules.TypeChargerFault, rules.TypeTempHigh, rules.TypeOverPower},
		"dstate.":       {"online", "offline", "unknown"},
		"filter.state.": {"all", "open", "resolved"},
	}
	for prefix, words := range vocab {
		for _, w := range words {
			used[prefix+w] = "the gateway's vocabulary"
		}
	}
	for k, where := range used {
		if strings.HasSuffix(k, ".") { // t("sev." + s): a family of keys
			if !slices.ContainsFunc(slices.Collect(maps.Keys(zh)), func(x string) bool { return strings.HasPrefix(x, k) }) {
				t.Errorf("%s makes keys %q…, and the dictionaries have none", where, k)
			}
			continue
		}
		if _, ok := zh[k]; !ok {
			t.Errorf("%s uses %q, which the dictionaries lack", where, k)
		}
	}
}
