package daemon

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/httpapi"
)

// newTestGateway builds (without running) a gateway with HTTPS self-signed and no data key
// configured.
func newTestGateway(t *testing.T, extra string) (*Gateway, *bytes.Buffer, string) {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	yaml := fmt.Sprintf(`site: {code: t}
data_dir: %s
broker: {mode: embedded, embedded: {listen: "127.0.0.1:0"}}
http:
  listen: "127.0.0.1:0"
  tls: self-signed
  tls_hosts: [gw.community.local]
  api_tokens: [{name: script, token: script-token-0123456789, role: admin}]
devices:
  - id: cb-1
    family: callbutton
    password: cb-1-password
    resident: {name: 张秀英, age: 82, medical_notes: 心脏支架}
%s`, data, extra)
	cfg, err := config.Parse([]byte(yaml), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var logb bytes.Buffer
	g, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(&logb, nil)))
	if err != nil {
		t.Fatalf("%v\n%s", err, logb.String())
	}
	t.Cleanup(func() { g.Close() })
	return g, &logb, data
}

func TestSecurityWiring(t *testing.T) {
	g, logb, data := newTestGateway(t, "")
	st, err := os.Stat(filepath.Join(data, DataKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("data key file: %v %v", err, st)
	}
	for _, want := range []string{"generated a data key", "generated a self-signed certificate", "no admin user"} {
		if !strings.Contains(logb.String(), want) {
			t.Errorf("the log does not say %q:\n%s", want, logb.String())
		}
	}
	if _, err := os.Stat(filepath.Join(data, "tls", "self-signed.crt")); err != nil {
		t.Fatal(err)
	}
	if g.Users == nil {
		t.Fatal("no users directory")
	}
	raw, _ := os.ReadFile(DBPath(g.cfg))
	wal, _ := os.ReadFile(DBPath(g.cfg) + "-wal")
	if bytes.Contains(append(raw, wal...), []byte("心脏支架")) {
		t.Fatal("medical notes are in the database file in the clear")
	}
}

// TestEveryRouteNeedsALogin walks the router of the fully wired gateway and sends every route
// an anonymous request, one with a wrong bearer token and one with a made-up session cookie:
// each must answer 401, except /healthz, POST /api/v1/login and the first-run setup.
func TestEveryRouteNeedsALogin(t *testing.T) {
	g, _, _ := newTestGateway(t, "")
	ts := httptest.NewServer(g.HTTP.Router())
	defer ts.Close()
	public := map[string]bool{"GET /healthz": true, "POST /api/v1/login": true,
		// the first-run setup needs no login by design, only until an admin exists, and only
		// from the LAN (TestFirstRunSetupRestartsWithTheNewSite, httpapi's TestSetupRefusals)
		"GET /api/v1/setup": true, "POST /api/v1/setup": true}
	n := 0
	err := chi.Walk(g.HTTP.Router(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if public[method+" "+route] {
			return nil
		}
		if !strings.HasPrefix(route, "/api/") && route != "/metrics" {
			// console pages and assets: static, and only readable
			if method != http.MethodGet && method != http.MethodHead {
				t.Errorf("%s %s: a non-API route that is not read-only", method, route)
			}
			return nil
		}
		path := route
		for strings.Contains(path, "{") {
			i, j := strings.Index(path, "{"), strings.Index(path, "}")
			path = path[:i] + "x1" + path[j+1:]
		}
		path = strings.ReplaceAll(path, "*", "x1")
		for _, auth := range []struct{ name, header, cookie string }{
			{"anonymous", "", ""},
			{"wrong bearer", "Bearer not-a-token-0123456789", ""},
			{"wrong personal token", "Bearer gwt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ""},
			{"made-up session", "", "0123456789abcdef0123456789abcdef0123456789a"},
		} {
			r, _ := http.NewRequest(method, ts.URL+path, strings.NewReader("{}"))
			r.Header.Set("Content-Type", "application/json")
			if auth.header != "" {
				r.Header.Set("Authorization", auth.header)
			}
			if auth.cookie != "" {
				r.AddCookie(&http.Cookie{Name: httpapi.SessionCookie, Value: auth.cookie})
			}
			resp, err := ts.Client().Do(r)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s (%s): %d, want 401", method, path, auth.name, resp.StatusCode)
			}
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 15 {
		t.Fatalf("walked only %d protected routes", n)
	}
	for _, p := range []string{"/healthz"} {
		resp, err := ts.Client().Get(ts.URL + p)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", p, err, resp)
		}
		resp.Body.Close()
	}
}

func TestWrongDataKeyIsReported(t *testing.T) {
	g, _, data := newTestGateway(t, "")
	// Residents from the config are sealed again from it; one added through the API is not.
	if _, _, err := g.Devices.Add(context.Background(), config.Device{ID: "cb-api", Family: "callbutton",
		Resident: &config.Resident{Name: "李桂兰", MedicalNotes: "糖尿病"}}, "test", ""); err != nil {
		t.Fatal(err)
	}
	g.Close()
	cfg := g.cfg
	cfg.Security.DataKey = strings.Repeat("A", 43) + "=" // 32 zero bytes: not the generated key
	_, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "data key") {
		t.Fatalf("a wrong data key started the gateway: %v (data %s)", err, data)
	}
}
