package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/community-edge/edge/cloud/api"
	"github.com/community-edge/edge/cloud/internal/auth"
	"github.com/community-edge/edge/cloud/internal/cases"
	"github.com/community-edge/edge/cloud/internal/store"
	"github.com/community-edge/edge/cloud/internal/store/storetest"
)

var env = new(storetest.Env)

func TestMain(m *testing.M) { os.Exit(env.Main(m)) }

// fakeClock is the injected clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type testEnv struct {
	srv   *Server
	st    *store.Store
	http  *httptest.Server
	clock *fakeClock
	keys  map[string][]byte
}

const password = "grid-centre-pass"

// users are the grid centre's test users, one per role.
var users = []store.User{
	{Username: "admin", Role: "admin", Department: "网格中心"},
	{Username: "disp", Role: "dispatcher", Department: "网格中心"},
	{Username: "wuye", Role: "handler", Department: "物业"},
	{Username: "chengguan", Role: "handler", Department: "城管"},
	{Username: "insp", Role: "inspector", Department: "核查组"},
}

func newEnv(t *testing.T, backend string) *testEnv {
	t.Helper()
	st := env.Open(t, backend)
	clk := &fakeClock{now: time.Now().Truncate(time.Second)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := New(Options{Departments: []string{"物业", "城管"}}, st, cases.NewMachine(), cases.DefaultClassifier(), clk.Now, log)
	e := &testEnv{srv: srv, st: st, clock: clk, keys: map[string][]byte{}}
	ctx := context.Background()
	for _, id := range []string{"gw-a", "gw-b"} {
		k := bytes.Repeat([]byte(id[len(id)-1:]), api.KeySize)
		e.keys[id] = k
		if err := st.AddGateway(ctx, store.Gateway{ID: id, Name: id, Key: k, Created: clk.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		u.PasswordHash, u.DisplayName, u.Created = hash, u.Username, clk.Now()
		if _, err := st.AddUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	e.http = httptest.NewServer(srv.Handler())
	t.Cleanup(e.http.Close)
	return e
}

func (e *testEnv) client(gw string) *api.Client {
	return api.NewClient(e.http.URL, gw, e.keys[gw], api.WithClock(e.clock.Now))
}

func eachBackend(t *testing.T, fn func(t *testing.T, e *testEnv)) {
	for _, b := range storetest.Backends() {
		t.Run(b, func(t *testing.T) { fn(t, newEnv(t, b)) })
	}
}

func alert(id, typ string) api.Alert {
	return api.Alert{AlarmID: id, Type: typ, Family: "callbutton", Device: "cb-1", OccurredAt: time.Now(),
		Site: "幸福小区", GridCode: "110105001002003", Address: "3号楼2单元501",
		Location: &api.Location{Lat: 39.9, Lon: 116.4},
		Resident: &api.Resident{Name: "王奶奶", Phone: "13800000000", MedicalNotes: "糖尿病"}}
}

// ---- the gateway API ----

func TestIntakeIdempotent(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		ctx := context.Background()
		a := e.client("gw-a")
		first, err := a.SendAlert(ctx, alert("alarm-1", "sos"))
		if err != nil {
			t.Fatal(err)
		}
		if first.State != api.Reported || first.Category.SubclassName != "老人求助" || first.Priority != api.Urgent || first.Resident.MedicalNotes != "糖尿病" {
			t.Fatalf("case %+v", first)
		}
		again, err := a.SendAlert(ctx, alert("alarm-1", "sos"))
		if err != nil || again.ID != first.ID {
			t.Fatalf("repeat: %v, id %d want %d", err, again.ID, first.ID)
		}
		byAlarm, err := a.CaseByAlarm(ctx, "alarm-1")
		if err != nil || byAlarm.ID != first.ID {
			t.Fatalf("case by alarm: %v", err)
		}
		// The same alarm id from another gateway is another case; neither sees the other's.
		b := e.client("gw-b")
		other, err := b.SendAlert(ctx, alert("alarm-1", "smoke"))
		if err != nil || other.ID == first.ID || other.Resident.MedicalNotes != "" {
			t.Fatalf("other gateway: %v %+v", err, other)
		}
		if _, err := b.CaseByAlarm(ctx, "alarm-2"); !isStatus(err, 404) {
			t.Fatalf("unknown alarm: %v", err)
		}
		bad := alert("alarm-3", "sos")
		bad.GridCode = "1234"
		if _, err := a.SendAlert(ctx, bad); !isStatus(err, 400) || !strings.Contains(err.Error(), "grid_code") || api.Retryable(err) {
			t.Fatalf("bad grid code: %v", err)
		}
	})
}

func isStatus(err error, status int) bool {
	var e *api.Error
	return errors.As(err, &e) && e.Status == status
}

// TestGatewaySecurity: unsigned, wrongly signed, stale, replayed, unknown and other-gateway
// requests are refused on every gateway endpoint.
func TestGatewaySecurity(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		body, _ := json.Marshal(alert("sec-1", "sos"))
		now := e.clock.Now()
		send := func(req *http.Request) (int, string) {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var eb api.ErrorBody
			json.NewDecoder(resp.Body).Decode(&eb)
			return resp.StatusCode, eb.Code
		}
		newReq := func(method, path string, body []byte) *http.Request {
			r, _ := http.NewRequest(method, e.http.URL+path, bytes.NewReader(body))
			return r
		}
		signed := func(method, path, gw string, key []byte, at time.Time, body []byte) *http.Request {
			r := newReq(method, path, body)
			api.SignRequest(r, gw, key, at, body)
			return r
		}
		paths := []struct{ method, path string }{
			{"POST", "/api/v1/alerts"}, {"GET", "/api/v1/alerts/sec-1"},
			{"POST", "/api/v1/gateway/heartbeat"}, {"GET", "/api/v1/gateway/updates?after=0&wait=0s"},
		}
		for _, p := range paths {
			b := body
			if p.method == "GET" {
				b = nil
			}
			tests := []struct {
				name string
				req  *http.Request
				code string
			}{
				{"unsigned", newReq(p.method, p.path, b), "unsigned"},
				{"wrong key", signed(p.method, p.path, "gw-a", bytes.Repeat([]byte{9}, 32), now, b), "bad_signature"},
				{"other gateway's key", signed(p.method, p.path, "gw-a", e.keys["gw-b"], now, b), "bad_signature"},
				{"unknown gateway", signed(p.method, p.path, "gw-z", e.keys["gw-a"], now, b), "unknown_gateway"},
				{"stale", signed(p.method, p.path, "gw-a", e.keys["gw-a"], now.Add(-6*time.Minute), b), "stale_timestamp"},
				{"future", signed(p.method, p.path, "gw-a", e.keys["gw-a"], now.Add(6*time.Minute), b), "stale_timestamp"},
			}
			for _, tt := range tests {
				if status, code := send(tt.req); status != 401 || code != tt.code {
					t.Errorf("%s %s %s: %d %s, want 401 %s", p.method, p.path, tt.name, status, code, tt.code)
				}
			}
			// Tampering: signed for one body, sent with another.
			r := signed(p.method, p.path, "gw-a", e.keys["gw-a"], now, b)
			r.Body = io.NopCloser(strings.NewReader(`{"alarm_id":"other"}`))
			r.ContentLength = -1
			if status, code := send(r); status != 401 || code != "bad_signature" {
				t.Errorf("%s %s tampered body: %d %s", p.method, p.path, status, code)
			}
		}
		// A replay of a good request within the window is refused.
		good := signed("POST", "/api/v1/alerts", "gw-a", e.keys["gw-a"], now, body)
		replay := good.Clone(context.Background())
		replay.Body = io.NopCloser(bytes.NewReader(body))
		if status, _ := send(good); status != 201 {
			t.Fatalf("good request: %d", status)
		}
		if status, code := send(replay); status != 401 || code != "replayed" {
			t.Fatalf("replay: %d %s", status, code)
		}
		// A gateway does not see another gateway's case.
		if _, err := e.client("gw-b").CaseByAlarm(context.Background(), "sec-1"); !isStatus(err, 404) {
			t.Fatalf("other gateway's case: %v", err)
		}
		// A disabled gateway is refused (once its cached key expires).
		if err := e.st.SetGatewayDisabled(context.Background(), "gw-b", true); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(31 * time.Second)
		if _, err := e.client("gw-b").Heartbeat(context.Background(), api.Heartbeat{}); !isStatus(err, 401) {
			t.Fatalf("disabled gateway: %v", err)
		}
	})
}

// ---- people ----

// browser is a logged-in user agent: cookie jar plus the CSRF token.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

func (e *testEnv) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: e.http.URL, c: &http.Client{Jar: jar}}
}

func (b *browser) do(method, path string, in any, hdr ...string) (int, map[string]any) {
	b.t.Helper()
	var body io.Reader
	if in != nil {
		data, _ := json.Marshal(in)
		body = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, b.base+path, body)
	if b.csrf != "" {
		req.Header.Set(CSRFHeader, b.csrf)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func (e *testEnv) login(t *testing.T, user string) *browser {
	t.Helper()
	b := e.browser(t)
	status, out := b.do("POST", "/api/v1/session", map[string]string{"username": user, "password": password})
	if status != 200 {
		t.Fatalf("login %s: %d %v", user, status, out)
	}
	b.csrf = out["csrf"].(string)
	return b
}

func TestLoginRequired(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		anon := e.browser(t)
		for _, p := range []string{"/api/v1/session", "/api/v1/cases", "/api/v1/cases/1", "/api/v1/gateways", "/api/v1/reports/timeliness", "/api/v1/users"} {
			if status, _ := anon.do("GET", p, nil); status != 401 {
				t.Errorf("GET %s without login: %d", p, status)
			}
		}
		if status, _ := anon.do("POST", "/api/v1/cases/1/actions/register", map[string]any{}); status != 401 {
			t.Errorf("action without login: %d", status)
		}
		// The cookie is HttpOnly and SameSite=Strict.
		resp, err := http.Post(e.http.URL+"/api/v1/session", "application/json", strings.NewReader(`{"username":"disp","password":"`+password+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ck := resp.Header.Get("Set-Cookie")
		if !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Strict") {
			t.Fatalf("cookie %q", ck)
		}
		// A forged cookie is refused.
		forged := e.browser(t)
		forged.c.Jar.SetCookies(resp.Request.URL, []*http.Cookie{{Name: CookieName, Value: "forged"}})
		if status, _ := forged.do("GET", "/api/v1/cases", nil); status != 401 {
			t.Errorf("forged cookie: %d", status)
		}
		// CSRF: a state-changing request needs the token and the same origin.
		d := e.login(t, "disp")
		tok := d.csrf
		d.csrf = ""
		if status, out := d.do("POST", "/api/v1/cases/1/actions/register", map[string]any{}); status != 403 || out["code"] != "csrf" {
			t.Errorf("no CSRF token: %d %v", status, out)
		}
		d.csrf = "wrong"
		if status, _ := d.do("DELETE", "/api/v1/session", nil); status != 403 {
			t.Errorf("wrong CSRF token: %d", status)
		}
		d.csrf = tok
		if status, _ := d.do("POST", "/api/v1/cases/1/actions/register", map[string]any{}, "Origin", "https://evil.example"); status != 403 {
			t.Errorf("cross-origin: %d", status)
		}
		if status, _ := e.browser(t).do("POST", "/api/v1/session", map[string]string{"username": "disp", "password": password}, "Sec-Fetch-Site", "cross-site"); status != 403 {
			t.Errorf("cross-site login: %d", status)
		}
		// Roles: only the admin lists users.
		if status, _ := d.do("GET", "/api/v1/users", nil); status != 403 {
			t.Errorf("dispatcher lists users: %d", status)
		}
		if status, out := e.login(t, "admin").do("GET", "/api/v1/users", nil); status != 200 || len(out["users"].([]any)) != len(users) {
			t.Errorf("admin lists users: %d %v", status, out)
		}
		// Logout ends the session.
		if status, _ := d.do("DELETE", "/api/v1/session", nil); status != 204 {
			t.Errorf("logout: %d", status)
		}
		if status, _ := d.do("GET", "/api/v1/cases", nil); status != 401 {
			t.Errorf("after logout: %d", status)
		}
		// The session expires.
		a := e.login(t, "admin")
		e.clock.Advance(13 * time.Hour)
		if status, _ := a.do("GET", "/api/v1/cases", nil); status != 401 {
			t.Errorf("after 13 h: %d", status)
		}
	})
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t, "sqlite")
	b := e.browser(t)
	for i := range 5 {
		if status, _ := b.do("POST", "/api/v1/session", map[string]string{"username": "disp", "password": "wrong-password"}); status != 401 {
			t.Fatalf("failure %d: %d", i, status)
		}
	}
	status, out := b.do("POST", "/api/v1/session", map[string]string{"username": "disp", "password": password})
	if status != 429 || out["code"] != "rate_limited" {
		t.Fatalf("after 5 failures the right password: %d %v", status, out)
	}
	e.clock.Advance(16 * time.Minute)
	if status, _ := b.do("POST", "/api/v1/session", map[string]string{"username": "disp", "password": password}); status != 200 {
		t.Fatalf("after the lockout: %d", status)
	}
	if status, _ := b.do("POST", "/api/v1/session", map[string]string{"username": "nobody", "password": password}); status != 401 {
		t.Fatalf("unknown user: %d", status)
	}
}

// TestWorkflowOverHTTP runs the closed loop with each role doing its step, checks the steps
// offered per role, refusals, overdue flags on the injected clock, and the timeliness report.
func TestWorkflowOverHTTP(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		c, err := e.client("gw-a").SendAlert(context.Background(), alert("wf-1", "fall"))
		if err != nil {
			t.Fatal(err)
		}
		path := fmt.Sprintf("/api/v1/cases/%d", c.ID)
		disp, wuye, cg, insp := e.login(t, "disp"), e.login(t, "wuye"), e.login(t, "chengguan"), e.login(t, "insp")

		actions := func(b *browser) string {
			status, out := b.do("GET", path, nil)
			if status != 200 {
				return fmt.Sprint(status)
			}
			return fmt.Sprint(out["actions"])
		}
		step := func(b *browser, action string, in map[string]any, want int) map[string]any {
			t.Helper()
			status, out := b.do("POST", path+"/actions/"+action, in)
			if status != want {
				t.Fatalf("%s: %d %v, want %d", action, status, out, want)
			}
			return out
		}
		overdue := func() bool {
			_, out := disp.do("GET", "/api/v1/cases?overdue=1", nil)
			return len(out["cases"].([]any)) == 1
		}
		if got := actions(disp); got != "[register]" {
			t.Fatalf("dispatcher on a reported case: %s", got)
		}
		if got := actions(insp); got != "[]" {
			t.Fatalf("inspector on a reported case: %s", got)
		}
		if overdue() {
			t.Fatal("overdue at once")
		}
		e.clock.Advance(11 * time.Minute) // urgent: register within 10 min
		if !overdue() {
			t.Fatal("not overdue after 11 minutes")
		}
		out := step(insp, "register", nil, 403)
		if out["code"] != "forbidden" {
			t.Fatalf("inspector registers: %v", out)
		}
		step(wuye, "register", nil, 404) // handlers see only their department's cases
		step(disp, "register", nil, 200)
		if overdue() {
			t.Fatal("overdue right after registering")
		}
		out = step(disp, "close", nil, 409)
		if out["code"] != "illegal_transition" || !strings.Contains(out["error"].(string), "cannot close a case that is registered") {
			t.Fatalf("illegal close: %v", out)
		}
		step(disp, "dispatch", map[string]any{"target": "不存在"}, 400)
		step(disp, "dispatch", map[string]any{"target": "城管"}, 200)
		// 城管 returns it: wrong department.
		if status, _ := wuye.do("GET", path, nil); status != 404 {
			t.Fatalf("handler of another department sees the case: %d", status)
		}
		step(cg, "return", map[string]any{"note": "非本部门职责"}, 200)
		out = step(disp, "dispatch", map[string]any{"target": "物业", "version": 1}, 409)
		if out["code"] != "conflict" {
			t.Fatalf("stale version: %v", out)
		}
		step(disp, "dispatch", map[string]any{"target": "物业"}, 200)
		if got := actions(wuye); got != "[handle return park]" {
			t.Fatalf("handler on its dispatched case: %s", got)
		}
		step(wuye, "handle", map[string]any{}, 400) // a result note is required
		step(wuye, "handle", map[string]any{"note": "已上门, 老人送医"}, 200)
		step(insp, "verify", nil, 200)
		out = step(disp, "close", nil, 200)
		cs := out["case"].(map[string]any)
		if cs["state"] != "closed" || cs["evaluation"] == nil {
			t.Fatalf("closed case %v", cs)
		}
		step(disp, "evaluate", map[string]any{"score": 5, "note": "满意"}, 200)
		_, out = disp.do("GET", path, nil)
		if tl := out["timeline"].([]any); len(tl) != 9 {
			t.Fatalf("timeline has %d entries: %v", len(tl), tl)
		}
		_, out = disp.do("GET", "/api/v1/reports/timeliness", nil)
		deps := fmt.Sprint(out["departments"])
		if !strings.Contains(deps, "网格中心") || !strings.Contains(deps, "物业") {
			t.Fatalf("timeliness report %s", deps)
		}
		// Filters reach the store.
		if _, out := disp.do("GET", "/api/v1/cases?state=evaluated&grid=110105", nil); len(out["cases"].([]any)) != 1 {
			t.Fatalf("filter: %v", out)
		}
		if status, _ := disp.do("GET", "/api/v1/cases?state=bogus", nil); status != 400 {
			t.Fatalf("bad filter: %d", status)
		}
	})
}

// TestLongPoll: the gateway's poll returns when its case changes, carries only its own cases,
// and returns empty after the wait.
func TestLongPoll(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		ctx := context.Background()
		a, b := e.client("gw-a"), e.client("gw-b")
		c, err := a.SendAlert(ctx, alert("lp-1", "sos"))
		if err != nil {
			t.Fatal(err)
		}
		ups, err := a.PollCaseUpdatesWait(ctx, 0, time.Second)
		if err != nil || len(ups.Updates) != 1 || ups.Updates[0].State != api.Reported || ups.Next != 1 {
			t.Fatalf("first poll: %+v %v", ups, err)
		}
		start := time.Now()
		empty, err := b.PollCaseUpdatesWait(ctx, 0, 200*time.Millisecond)
		if err != nil || len(empty.Updates) != 0 || empty.Next != 0 || time.Since(start) < 200*time.Millisecond {
			t.Fatalf("empty poll: %+v %v after %v", empty, err, time.Since(start))
		}
		type result struct {
			ups api.Updates
			err error
			at  time.Time
		}
		done := make(chan result, 1)
		go func() {
			u, err := a.PollCaseUpdatesWait(ctx, ups.Next, 10*time.Second)
			done <- result{u, err, time.Now()}
		}()
		time.Sleep(300 * time.Millisecond) // the poll is waiting
		d := e.login(t, "disp")
		changed := time.Now()
		if status, out := d.do("POST", fmt.Sprintf("/api/v1/cases/%d/actions/register", c.ID), nil); status != 200 {
			t.Fatalf("register: %d %v", status, out)
		}
		r := <-done
		if r.err != nil || len(r.ups.Updates) != 1 || r.ups.Updates[0].State != api.Registered || r.ups.Updates[0].AlarmID != "lp-1" || r.ups.Next != 2 {
			t.Fatalf("woken poll: %+v %v", r.ups, r.err)
		}
		if lag := r.at.Sub(changed); lag > 2*time.Second {
			t.Fatalf("poll answered %v after the change", lag)
		}
	})
}

func TestHeartbeatAndLinkSupervision(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		ctx := context.Background()
		rep, err := e.client("gw-a").Heartbeat(ctx, api.Heartbeat{IntervalS: 20, Version: "gw 1.2.0", OutboxPending: 2})
		if err != nil || rep.OfflineAfterS != 60 {
			t.Fatalf("heartbeat: %+v %v", rep, err)
		}
		link := func() string {
			_, out := e.login(t, "disp").do("GET", "/api/v1/gateways", nil)
			for _, g := range out["gateways"].([]any) {
				if g := g.(map[string]any); g["id"] == "gw-a" {
					return fmt.Sprint(g["link"], " ", g["version"], " ", g["outbox_pending"])
				}
			}
			return "missing"
		}
		if got := link(); got != "online gw 1.2.0 2" {
			t.Fatalf("after heartbeat: %s", got)
		}
		e.clock.Advance(59 * time.Second)
		e.srv.checkLinks(ctx)
		if got := link(); !strings.HasPrefix(got, "online") {
			t.Fatalf("after two missed: %s", got)
		}
		e.clock.Advance(2 * time.Second)
		e.srv.checkLinks(ctx)
		if got := link(); !strings.HasPrefix(got, "offline") {
			t.Fatalf("after three missed: %s", got)
		}
		if _, err := e.client("gw-a").Heartbeat(ctx, api.Heartbeat{IntervalS: 20}); err != nil {
			t.Fatal(err)
		}
		if got := link(); !strings.HasPrefix(got, "online") {
			t.Fatalf("back: %s", got)
		}
	})
}

func TestUIServed(t *testing.T) {
	e := newEnv(t, "sqlite")
	for _, p := range []string{"/", "/cases/3", "/static/app.js", "/static/app.css"} {
		resp, err := http.Get(e.http.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: %d csp=%q", p, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
		}
	}
}

// TestServeShutdown: Serve ends promptly when its context ends, even with a long poll waiting.
func TestServeShutdown(t *testing.T) {
	e := newEnv(t, "sqlite")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.srv.Serve(ctx, ln) }()
	cl := api.NewClient("http://"+ln.Addr().String(), "gw-a", e.keys["gw-a"], api.WithClock(e.clock.Now))
	polled := make(chan error, 1)
	go func() {
		_, err := cl.PollCaseUpdatesWait(context.Background(), 0, 20*time.Second)
		polled <- err
	}()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if err := <-polled; err != nil {
		t.Fatalf("poll during shutdown: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
	// Every goroutine Serve started (supervisor, connections, long polls) has ended.
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after shutdown, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
