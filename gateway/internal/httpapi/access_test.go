package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/community-edge/edge/gateway/internal/audit"
	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/devices"
	"github.com/community-edge/edge/gateway/internal/store"
	"github.com/community-edge/edge/gateway/internal/users"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

const adminToken = "script-admin-token-0123456789"

// env is a server with users of every role, one call button with a resident, and a clock.
type env struct {
	t     *testing.T
	srv   *Server
	ts    *httptest.Server
	clock *testClock
	users *users.Directory
	st    *store.Store
}

var passwords = map[string]string{"admin1": "admin-password-1", "inst1": "installer-pass-1",
	"duty1": "duty-password-1", "guard1": "security-pass-1"}

func newEnv(t *testing.T, withTLS bool) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, m := range []store.Migrator{audit.Migrations, users.Migrations} {
		if err := st.Migrate(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	devs := devices.New(st, "t", log)
	if err := devs.Load(ctx, []config.Device{{ID: "cb-1", Family: "callbutton", Password: "cb-1-password",
		Resident: &config.Resident{Name: "张秀英", Age: 82, Phone: "13800000001", MedicalNotes: "高血压，心脏支架",
			EmergencyContacts: []config.Contact{{Name: "张伟", Relation: "儿子", Phone: "13900000002"}}}}}); err != nil {
		t.Fatal(err)
	}
	c := &testClock{t: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)}
	dir := users.New(st.DB(), users.Options{SessionLifetime: 12 * time.Hour, SessionIdle: 30 * time.Minute,
		Params: users.Params{MemoryKiB: 64, Time: 1, Threads: 1}, Now: c.Now}, log)
	for name, role := range map[string]string{"admin1": "admin", "inst1": "installer", "duty1": "duty", "guard1": "security"} {
		if _, err := dir.Add(ctx, users.Actor{Name: "test"}, users.User{Name: name, Role: role}, passwords[name]); err != nil {
			t.Fatal(err)
		}
	}
	srv := New("127.0.0.1:0", []config.APIToken{{Name: "script", Token: adminToken, Role: "admin"}},
		Deps{Devices: devs, Store: st, Gatherer: prometheus.NewRegistry(), Users: dir}, log)
	e := &env{t: t, srv: srv, clock: c, users: dir, st: st}
	if withTLS {
		e.ts = httptest.NewTLSServer(srv.Router())
	} else {
		e.ts = httptest.NewServer(srv.Router())
	}
	t.Cleanup(e.ts.Close)
	return e
}

// req is one request: a session cookie and CSRF header, or a bearer token, or nothing.
type req struct {
	method, path string
	body         any
	cookie       string
	csrf         string
	bearer       string
	contentType  string
}

func (e *env) do(r req) (*http.Response, map[string]any) {
	e.t.Helper()
	var body io.Reader
	if r.body != nil {
		b, _ := json.Marshal(r.body)
		body = bytes.NewReader(b)
	}
	hr, err := http.NewRequest(r.method, e.ts.URL+r.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if r.body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.contentType != "" {
		hr.Header.Set("Content-Type", r.contentType)
	}
	if r.cookie != "" {
		hr.AddCookie(&http.Cookie{Name: SessionCookie, Value: r.cookie})
	}
	if r.csrf != "" {
		hr.Header.Set(CSRFHeader, r.csrf)
	}
	if r.bearer != "" {
		hr.Header.Set("Authorization", "Bearer "+r.bearer)
	}
	resp, err := e.ts.Client().Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &out)
	return resp, out
}

// login logs a user in and returns the session cookie and CSRF token.
func (e *env) login(name string) (cookie, csrf string) {
	e.t.Helper()
	resp, out := e.do(req{method: "POST", path: "/api/v1/login", body: map[string]string{"user": name, "password": passwords[name]}})
	if resp.StatusCode != 200 {
		e.t.Fatalf("login %s: %d %v", name, resp.StatusCode, out)
	}
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			cookie = c.Value
		}
	}
	csrf, _ = out["csrf_token"].(string)
	if cookie == "" || csrf == "" {
		e.t.Fatalf("login %s: no cookie or csrf token: %v", name, out)
	}
	return cookie, csrf
}

func TestSessionCookieFlags(t *testing.T) {
	for _, tc := range []struct {
		name       string
		tls        bool
		wantSecure bool
	}{{"plain HTTP", false, false}, {"HTTPS", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.tls)
			resp, out := e.do(req{method: "POST", path: "/api/v1/login", body: map[string]string{"user": "duty1", "password": passwords["duty1"]}})
			if resp.StatusCode != 200 || out["user"] != "duty1" || out["role"] != "duty" || out["csrf_token"] == "" {
				t.Fatalf("login: %d %v", resp.StatusCode, out)
			}
			var c *http.Cookie
			for _, x := range resp.Cookies() {
				if x.Name == SessionCookie {
					c = x
				}
			}
			if c == nil {
				t.Fatalf("no %s cookie: %v", SessionCookie, resp.Header["Set-Cookie"])
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure != tc.wantSecure {
				t.Fatalf("cookie flags: %s", resp.Header.Get("Set-Cookie"))
			}
			if len(c.Value) < 43 {
				t.Fatalf("session id %q is shorter than 256 bits", c.Value)
			}
		})
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, false)
	cookie, csrf := e.login("admin1")
	newUser := func(n string) map[string]string {
		return map[string]string{"name": n, "role": "duty", "password": "a-good-password"}
	}
	for _, tc := range []struct {
		name string
		r    req
		want int
	}{
		{"session POST without the token is refused", req{method: "POST", path: "/api/v1/users", body: newUser("a1"), cookie: cookie}, 403},
		{"session POST with a wrong token is refused", req{method: "POST", path: "/api/v1/users", body: newUser("a2"), cookie: cookie, csrf: csrf + "x"}, 403},
		{"session DELETE without the token is refused", req{method: "DELETE", path: "/api/v1/users/duty1", cookie: cookie}, 403},
		{"session PATCH without the token is refused", req{method: "PATCH", path: "/api/v1/users/duty1", body: map[string]bool{"disabled": true}, cookie: cookie}, 403},
		{"logout without the token is refused", req{method: "POST", path: "/api/v1/logout", cookie: cookie}, 403},
		{"another session's token is refused", req{method: "POST", path: "/api/v1/users", body: newUser("a3"), cookie: cookie, csrf: "other"}, 403},
		{"session GET needs no token", req{method: "GET", path: "/api/v1/users", cookie: cookie}, 200},
		{"session POST with the token passes", req{method: "POST", path: "/api/v1/users", body: newUser("a4"), cookie: cookie, csrf: csrf}, 201},
		{"bearer POST needs no token", req{method: "POST", path: "/api/v1/users", body: newUser("a5"), bearer: adminToken}, 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := e.do(tc.r)
			if resp.StatusCode != tc.want {
				t.Fatalf("got %d %v, want %d", resp.StatusCode, out, tc.want)
			}
			if tc.want == 403 && !strings.Contains(out["error"].(string), CSRFHeader) {
				t.Fatalf("refusal does not name the header: %v", out)
			}
		})
	}
	us, _ := e.users.List(context.Background())
	for _, u := range us {
		if u.Name == "a1" || u.Name == "a2" || u.Name == "a3" {
			t.Errorf("a refused request made user %s", u.Name)
		}
	}
}

func TestLoginRateLimited(t *testing.T) {
	e := newEnv(t, false)
	var codes []int
	for range 10 {
		resp, _ := e.do(req{method: "POST", path: "/api/v1/login", body: map[string]string{"user": "duty1", "password": "wrong-password"}})
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	if codes[0] != 401 || codes[9] != 429 {
		t.Fatalf("10 wrong passwords answered %v; want 401 first and 429 at the end", codes)
	}
	resp, _ := e.do(req{method: "POST", path: "/api/v1/login", body: map[string]string{"user": "duty1", "password": passwords["duty1"]}})
	if resp.StatusCode != 429 {
		t.Fatalf("the right password while locked out: %d", resp.StatusCode)
	}
	e.clock.Advance(15 * time.Minute)
	resp, _ = e.do(req{method: "POST", path: "/api/v1/login", body: map[string]string{"user": "duty1", "password": passwords["duty1"]}})
	if resp.StatusCode != 200 {
		t.Fatalf("after the lockout: %d", resp.StatusCode)
	}

	// Ten wrong guesses at different names from one address lock that address out.
	e = newEnv(t, false)
	for i := range 10 {
		resp, _ := e.do(req{method: "POST", path: "/api/v1/login", body: map[string]string{"user": "user" + string(rune('a'+i)), "password": "wrong-password"}})
		if want := map[bool]int{true: 429, false: 401}[i == 9]; resp.StatusCode != want {
			t.Fatalf("guess %d: %d, want %d", i+1, resp.StatusCode, want)
		}
	}
}

func TestLoginAnswersAlike(t *testing.T) {
	e := newEnv(t, false)
	_, wrong := e.do(req{method: "POST", path: "/api/v1/login", body: map[string]string{"user": "duty1", "password": "wrong-password"}})
	_, unknown := e.do(req{method: "POST", path: "/api/v1/login", body: map[string]string{"user": "nobody", "password": "wrong-password"}})
	if wrong["error"] == nil || wrong["error"] != unknown["error"] {
		t.Fatalf("a wrong password and an unknown user are told apart: %v / %v", wrong, unknown)
	}
	for _, tc := range []struct {
		name string
		r    req
		want int
	}{
		{"form post", req{method: "POST", path: "/api/v1/login", body: map[string]string{"user": "duty1", "password": passwords["duty1"]},
			contentType: "application/x-www-form-urlencoded"}, 415},
		{"missing password", req{method: "POST", path: "/api/v1/login", body: map[string]string{"user": "duty1"}}, 400},
		{"unknown field", req{method: "POST", path: "/api/v1/login", body: map[string]string{"user": "duty1", "password": "x", "role": "admin"}}, 400},
	} {
		if resp, out := e.do(tc.r); resp.StatusCode != tc.want {
			t.Errorf("%s: %d %v, want %d", tc.name, resp.StatusCode, out, tc.want)
		}
	}
}

func TestSessionEnds(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(e *env, cookie, csrf string)
	}{
		{"idle", func(e *env, _, _ string) { e.clock.Advance(31 * time.Minute) }},
		{"expired", func(e *env, cookie, _ string) {
			for range 26 { // keep it busy past its 12 h lifetime
				e.clock.Advance(29 * time.Minute)
				e.do(req{method: "GET", path: "/api/v1/me", cookie: cookie})
			}
		}},
		{"logout", func(e *env, cookie, csrf string) {
			resp, _ := e.do(req{method: "POST", path: "/api/v1/logout", cookie: cookie, csrf: csrf})
			if resp.StatusCode != 204 {
				e.t.Fatalf("logout: %d", resp.StatusCode)
			}
			for _, c := range resp.Cookies() {
				if c.Name == SessionCookie && c.MaxAge >= 0 {
					e.t.Fatalf("logout left the cookie: %v", resp.Header["Set-Cookie"])
				}
			}
		}},
		{"user disabled", func(e *env, _, _ string) {
			if resp, _ := e.do(req{method: "PATCH", path: "/api/v1/users/duty1", body: map[string]bool{"disabled": true}, bearer: adminToken}); resp.StatusCode != 200 {
				e.t.Fatalf("disable: %d", resp.StatusCode)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			cookie, csrf := e.login("duty1")
			if resp, out := e.do(req{method: "GET", path: "/api/v1/me", cookie: cookie}); resp.StatusCode != 200 || out["csrf_token"] != csrf {
				t.Fatalf("me: %d %v", resp.StatusCode, out)
			}
			tc.end(e, cookie, csrf)
			resp, _ := e.do(req{method: "GET", path: "/api/v1/me", cookie: cookie})
			if resp.StatusCode != 401 {
				t.Fatalf("ended session answered %d, want 401", resp.StatusCode)
			}
		})
	}
}

func TestRoles(t *testing.T) {
	e := newEnv(t, false)
	type session struct{ cookie, csrf string }
	s := map[string]session{}
	for name := range passwords {
		c, x := e.login(name)
		s[name] = session{c, x}
	}
	as := func(name, method, path string, body any) req {
		return req{method: method, path: path, body: body, cookie: s[name].cookie, csrf: s[name].csrf}
	}
	newUser := map[string]string{"name": "new1", "role": "admin", "password": "a-good-password"}
	for _, tc := range []struct {
		name string
		r    req
		want int
	}{
		{"security cannot create users", as("guard1", "POST", "/api/v1/users", newUser), 403},
		{"duty cannot create users", as("duty1", "POST", "/api/v1/users", newUser), 403},
		{"installer cannot list users", as("inst1", "GET", "/api/v1/users", nil), 403},
		{"security cannot reset another's password", as("guard1", "POST", "/api/v1/users/duty1/password", map[string]string{"password": "a-good-password"}), 403},
		{"security cannot add a device", as("guard1", "POST", "/api/v1/devices", map[string]string{"id": "x", "family": "locker"}), 403},
		{"duty changes own password with the old one", as("duty1", "POST", "/api/v1/users/duty1/password",
			map[string]string{"old_password": passwords["duty1"], "password": "duty-password-2"}), 204},
		{"own password needs the right old one", as("guard1", "POST", "/api/v1/users/guard1/password",
			map[string]string{"old_password": "wrong", "password": "guard-password-2"}), 403},
		{"weak new password", as("guard1", "POST", "/api/v1/users/guard1/password",
			map[string]string{"old_password": passwords["guard1"], "password": "short"}), 400},
		{"admin creates a user", as("admin1", "POST", "/api/v1/users", newUser), 201},
		{"admin resets a password", as("admin1", "POST", "/api/v1/users/inst1/password", map[string]string{"password": "installer-pass-2"}), 204},
		{"admin changes a role", as("admin1", "PATCH", "/api/v1/users/new1", map[string]string{"role": "security"}), 200},
		{"bad role", as("admin1", "PATCH", "/api/v1/users/new1", map[string]string{"role": "root"}), 400},
		{"admin removes a user", as("admin1", "DELETE", "/api/v1/users/new1", nil), 204},
		{"removed user is gone", as("admin1", "GET", "/api/v1/users/new1", nil), 404},
		{"admin cannot remove the last admin", as("admin1", "DELETE", "/api/v1/users/admin1", nil), 409},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if resp, out := e.do(tc.r); resp.StatusCode != tc.want {
				t.Fatalf("got %d %v, want %d", resp.StatusCode, out, tc.want)
			}
		})
	}
	// The admin's reset ended the installer's session.
	if resp, _ := e.do(as("inst1", "GET", "/api/v1/me", nil)); resp.StatusCode != 401 {
		t.Fatalf("session after a password reset: %d", resp.StatusCode)
	}
	es, _ := audit.List(context.Background(), e.st.DB(), audit.Filter{ActionPrefix: "user."})
	seen := map[string]bool{}
	for _, x := range es {
		seen[x.Action] = true
	}
	for _, a := range []string{"user.login", "user.add", "user.remove", "user.passwd", "user.role"} {
		if !seen[a] {
			t.Errorf("no %s in the audit log", a)
		}
	}
}

func TestMedicalNotesOnlyForDutyAndAdmin(t *testing.T) {
	e := newEnv(t, false)
	for _, tc := range []struct {
		user string
		see  bool
	}{{"admin1", true}, {"duty1", true}, {"guard1", false}, {"inst1", false}} {
		t.Run(tc.user, func(t *testing.T) {
			cookie, _ := e.login(tc.user)
			for _, path := range []string{"/api/v1/devices/cb-1", "/api/v1/devices"} {
				resp, err := e.ts.Client().Do(func() *http.Request {
					r, _ := http.NewRequest("GET", e.ts.URL+path, nil)
					r.AddCookie(&http.Cookie{Name: SessionCookie, Value: cookie})
					return r
				}())
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.Contains(string(body), "张秀英") {
					t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
				}
				for _, secret := range []string{"心脏支架", "13900000002"} {
					if strings.Contains(string(body), secret) != tc.see {
						t.Fatalf("%s sees %q: %v, want %v", tc.user, secret, !tc.see, tc.see)
					}
				}
			}
		})
	}
}

func TestPersonalTokenAPI(t *testing.T) {
	e := newEnv(t, false)
	cookie, csrf := e.login("inst1")
	resp, out := e.do(req{method: "POST", path: "/api/v1/me/tokens", body: map[string]string{"label": "export"}, cookie: cookie, csrf: csrf})
	if resp.StatusCode != 201 {
		t.Fatalf("create token: %d %v", resp.StatusCode, out)
	}
	secret := out["secret"].(string)
	resp, out = e.do(req{method: "GET", path: "/api/v1/me", bearer: secret})
	if resp.StatusCode != 200 || out["user"] != "inst1" || out["role"] != "installer" || out["auth"] != "token" || out["csrf_token"] != nil {
		t.Fatalf("me by token: %d %v", resp.StatusCode, out)
	}
	if resp, _ := e.do(req{method: "POST", path: "/api/v1/me/tokens", body: map[string]string{"label": "x"}, bearer: secret}); resp.StatusCode != 403 {
		t.Fatalf("a token made a token: %d", resp.StatusCode)
	}
	_, list := e.do(req{method: "GET", path: "/api/v1/me/tokens", cookie: cookie})
	toks := list["tokens"].([]any)
	if len(toks) != 1 {
		t.Fatalf("tokens: %v", list)
	}
	tid := int64(toks[0].(map[string]any)["id"].(float64))
	if resp, _ := e.do(req{method: "DELETE", path: "/api/v1/me/tokens/" + jsonNum(tid), cookie: cookie, csrf: csrf}); resp.StatusCode != 204 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if resp, _ := e.do(req{method: "GET", path: "/api/v1/me", bearer: secret}); resp.StatusCode != 401 {
		t.Fatalf("revoked token: %d", resp.StatusCode)
	}
	if resp, out := e.do(req{method: "GET", path: "/api/v1/me", bearer: adminToken}); resp.StatusCode != 200 || out["auth"] != "api_token" {
		t.Fatalf("configured token: %d %v", resp.StatusCode, out)
	}
}

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }
