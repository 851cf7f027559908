package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/community-edge/edge/gateway/internal/audit"
	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/setup"
	"github.com/community-edge/edge/gateway/internal/store"
	"github.com/community-edge/edge/gateway/internal/users"
)

// setupEnv is a server over a database with no users yet, its setup enabled.
type setupEnv struct {
	srv      *Server
	users    *users.Directory
	setup    *setup.Setup
	restarts *atomic.Int32
}

func newSetupEnv(t *testing.T) *setupEnv {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, m := range []store.Migrator{audit.Migrations, users.Migrations, setup.Migrations} {
		if err := st.Migrate(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.DiscardHandler)
	dir := users.New(st.DB(), users.Options{Params: users.Params{MemoryKiB: 64, Time: 1, Threads: 1}}, log)
	srv := New("127.0.0.1:0", nil, Deps{Store: st, Gatherer: prometheus.NewRegistry(), Users: dir,
		Site: config.Site{Code: "from-config", Name: "配置", TimeZone: "Asia/Shanghai"}}, log)
	e := &setupEnv{srv: srv, users: dir, setup: setup.New(st.DB(), dir, log), restarts: new(atomic.Int32)}
	srv.SetSetup(e.setup, func() { e.restarts.Add(1) })
	return e
}

// call sends one request from remote straight to the router.
func (e *setupEnv) call(method, path, remote, body string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "http://gw.local:8080"+path, strings.NewReader(body))
	r.RemoteAddr = remote
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.srv.Router().ServeHTTP(rec, r)
	return rec
}

func setupBody(admin string) string {
	b, _ := json.Marshal(map[string]string{"admin": admin, "password": "a-good-password", "password_confirm": "a-good-password",
		"site_name": "幸福里社区", "site_code": "xingfuli", "time_zone": "Asia/Urumqi", "grid_code": "650102003004005"})
	return string(b)
}

func TestSetupRefusals(t *testing.T) {
	e := newSetupEnv(t)
	const lan, wan = "192.168.1.20:50000", "203.0.113.5:50000"
	for _, tc := range []struct {
		name   string
		remote string
		body   string
		hdr    map[string]string
		want   int
		says   string
	}{
		{"from the internet", wan, setupBody("a1"), nil, 403, "local network"},
		{"X-Forwarded-For is not trusted", wan, setupBody("a1"),
			map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "192.168.1.2", "Forwarded": "for=127.0.0.1"}, 403, "local network"},
		{"carrier-grade NAT is not the LAN", "100.64.1.2:5000", setupBody("a1"), nil, 403, "local network"},
		{"a page of another origin", lan, setupBody("a1"), map[string]string{"Origin": "http://evil.example"}, 403, "Origin"},
		{"same host, other scheme", lan, setupBody("a1"), map[string]string{"Origin": "https://gw.local:8080"}, 403, "Origin"},
		{"opaque origin", lan, setupBody("a1"), map[string]string{"Origin": "null"}, 403, "Origin"},
		{"cross-site fetch", lan, setupBody("a1"), map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "Sec-Fetch-Site"},
		{"a form post", lan, "admin=a1", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, "application/json"},
		{"text/plain (a no-preflight cross-site fetch)", lan, setupBody("a1"), map[string]string{"Content-Type": "text/plain"}, 415, "application/json"},
		{"an unknown field", lan, `{"admin":"a1","role":"duty"}`, nil, 400, "unknown field"},
		{"not JSON", lan, `{"admin":`, nil, 400, "bad request body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.call("POST", "/api/v1/setup", tc.remote, tc.body, tc.hdr)
			if rec.Code != tc.want || !strings.Contains(rec.Body.String(), tc.says) {
				t.Fatalf("%d %s, want %d saying %q", rec.Code, rec.Body, tc.want, tc.says)
			}
		})
	}
	if us, _ := e.users.List(context.Background()); len(us) != 0 || e.restarts.Load() != 0 {
		t.Fatalf("a refused setup made users %v or restarted %d", us, e.restarts.Load())
	}
	// GET tells a client off the LAN that it may not, and nothing else
	rec := e.call("GET", "/api/v1/setup", wan, "", nil)
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"lan":false,"needed":true}` {
		t.Fatalf("GET from outside: %d %s", rec.Code, rec.Body)
	}

	// From the LAN, same origin: done; the admin is logged in and the daemon asked to restart.
	rec = e.call("POST", "/api/v1/setup", "[fd00::5]:4000", setupBody("Zhang.Admin"),
		map[string]string{"Origin": "http://gw.local:8080", "Sec-Fetch-Site": "same-origin"})
	if rec.Code != 201 || e.restarts.Load() != 1 {
		t.Fatalf("setup: %d %s, restarts %d", rec.Code, rec.Body, e.restarts.Load())
	}
	var res struct {
		User, Role, Auth string
		CSRF             string   `json:"csrf_token"`
		Site             siteView `json:"site"`
	}
	json.Unmarshal(rec.Body.Bytes(), &res)
	if res.User != "zhang.admin" || res.Role != "admin" || res.Auth != "session" || res.CSRF == "" || res.Site.Code != "xingfuli" {
		t.Fatalf("setup result: %s", rec.Body)
	}
	var cookie *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == SessionCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie: %v", rec.Header()["Set-Cookie"])
	}
	// Until the daemon has rebuilt itself the API says so; the console's files stay served.
	for _, p := range []string{"/api/v1/setup", "/api/v1/me", "/healthz"} {
		if rec := e.call("GET", p, lan, "", nil); rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("%s while restarting: %d %s", p, rec.Code, rec.Body)
		}
	}
	if rec := e.call("GET", "/", lan, "", nil); rec.Code != 200 {
		t.Fatalf("console while restarting: %d", rec.Code)
	}
}

func TestSetupDoneAnswersGone(t *testing.T) {
	e := newSetupEnv(t)
	if _, err := e.users.Add(context.Background(), users.Actor{Name: "cli"}, users.User{Name: "root1", Role: "admin"}, "admin-password-1"); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"GET", "POST"} {
		if rec := e.call(m, "/api/v1/setup", "127.0.0.1:1", setupBody("a1"), nil); rec.Code != 410 {
			t.Fatalf("%s with an admin: %d %s", m, rec.Code, rec.Body)
		}
	}
	// a server without a setup (tests, or no user directory) offers none
	plain := New("127.0.0.1:0", nil, Deps{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	rec := httptest.NewRecorder()
	plain.Router().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/setup", nil))
	if rec.Code != 410 {
		t.Fatalf("no setup: %d %s", rec.Code, rec.Body)
	}
}

func TestSetupInvalidReportsEveryField(t *testing.T) {
	e := newSetupEnv(t)
	rec := e.call("POST", "/api/v1/setup", "127.0.0.1:1", `{"admin":"张三","password":"short","password_confirm":"x",`+
		`"site_name":"","site_code":"Bad Code","time_zone":"Asia/Nowhere","grid_code":"12345"}`, nil)
	var out struct {
		Error  string
		Fields map[string]string
	}
	json.Unmarshal(rec.Body.Bytes(), &out)
	if rec.Code != 400 || len(out.Fields) != 7 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	for _, want := range []string{"admin", "password", "password_confirm", "site_name", "site_code", "time_zone", "grid_code"} {
		if out.Fields[want] == "" || !strings.Contains(out.Error, want+":") {
			t.Errorf("field %s not reported: %s", want, rec.Body)
		}
	}
}

func TestConcurrentSetupsMakeOneAdmin(t *testing.T) {
	e := newSetupEnv(t)
	// without a restart to wait for, so that every request reaches the setup (with one, those
	// arriving after the first success would be answered 503 until the restart)
	e.srv.SetSetup(e.setup, nil)
	const n = 6
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = e.call("POST", "/api/v1/setup", "127.0.0.1:1", setupBody("admin"+string(rune('a'+i))), nil).Code
		}()
	}
	wg.Wait()
	created := 0
	for _, c := range codes {
		switch c {
		case 201:
			created++
		case 409, 410:
		default:
			t.Errorf("unexpected status %d", c)
		}
	}
	us, _ := e.users.List(context.Background())
	if created != 1 || len(us) != 1 || us[0].Role != "admin" {
		t.Fatalf("statuses %v, users %v, restarts %d", codes, us, e.restarts.Load())
	}
}
