package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/community-edge/edge/gateway/internal/testenv"
)

const (
	cloudGateway = "gw-demo"
	cloudKey     = "ZGVtby1nYXRld2F5LWtleS1ub3QtZm9yLXByb2R1Y3Q" // the demo gateway of configs/cloud.demo.yaml
	cloudPass    = "demo-pass-2025"
)

var (
	cloudOnce sync.Once
	cloudBinP string
	cloudErr  error
)

func cloudBin(t *testing.T) string {
	t.Helper()
	cloudOnce.Do(func() {
		dir, err := os.MkdirTemp("", "e2e-cloud-")
		if err != nil {
			cloudErr = err
			return
		}
		cloudBinP = filepath.Join(dir, "cloud")
		out, err := exec.Command("go", "build", "-o", cloudBinP, "github.com/community-edge/edge/cloud/cmd/cloud").CombinedOutput()
		if err != nil {
			cloudErr = fmt.Errorf("building cloud: %v\n%s", err, out)
		}
	})
	if cloudErr != nil {
		t.Fatal(cloudErr)
	}
	return cloudBinP
}

// cloud is the real grid case system, run from the shipped demo configuration with its own
// port and database.
type cloud struct {
	t    *testing.T
	addr string
	cfg  string
	cmd  *exec.Cmd
	log  *testenv.Buffer
	done chan struct{}
}

func startCloud(t *testing.T) *cloud {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "configs", "cloud.demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := &cloud{t: t, addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), log: &testenv.Buffer{}}
	s := strings.Replace(string(raw), "listen: 127.0.0.1:8480", "listen: "+c.addr, 1)
	s = strings.Replace(s, "path: /tmp/edge-cloud-demo.db", "path: "+filepath.Join(dir, "cloud.db"), 1)
	if !strings.Contains(s, c.addr) || !strings.Contains(s, dir) {
		t.Fatal("configs/cloud.demo.yaml no longer has the lines this test rewrites")
	}
	c.cfg = filepath.Join(dir, "cloud.yaml")
	os.WriteFile(c.cfg, []byte(s), 0o600)
	c.start()
	t.Cleanup(func() {
		c.stop()
		if t.Failed() {
			t.Logf("cloud log:\n%s", c.log.String())
		}
	})
	return c
}

func (c *cloud) start() {
	c.t.Helper()
	c.cmd = exec.Command(cloudBin(c.t), "run", "-config", c.cfg)
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	if err := c.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(c.cmd, c.done)
	waitTCP(c.t, c.addr, 20*time.Second)
}

func (c *cloud) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// user logs in to the grid centre as a person would (session cookie and CSRF token).
type gridUser struct {
	t    *testing.T
	base string
	http *http.Client
	csrf string
}

func (c *cloud) login(t *testing.T, user string) *gridUser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	u := &gridUser{t: t, base: "http://" + c.addr, http: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
	var r struct {
		CSRF string `json:"csrf"`
	}
	if code := u.call("POST", "/api/v1/session", map[string]string{"username": user, "password": cloudPass}, &r); code != 200 {
		t.Fatalf("login %s to the grid centre: %d", user, code)
	}
	u.csrf = r.CSRF
	return u
}

func (u *gridUser) call(method, path string, in, out any) int {
	u.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u.base+path, body)
	req.Header.Set("Content-Type", "application/json")
	if u.csrf != "" {
		req.Header.Set("X-CSRF-Token", u.csrf)
	}
	resp, err := u.http.Do(req)
	if err != nil {
		u.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			u.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode
}

type gridCase struct {
	ID      int64  `json:"id"`
	AlarmID string `json:"alarm_id"`
	State   string `json:"state"`
}

// casesFor counts the grid centre's cases for an alarm.
func (u *gridUser) casesFor(alarmID string) []gridCase {
	u.t.Helper()
	var r struct {
		Cases []gridCase `json:"cases"`
	}
	if code := u.call("GET", "/api/v1/cases?limit=500", nil, &r); code != 200 {
		u.t.Fatalf("list cases: %d", code)
	}
	var out []gridCase
	for _, c := range r.Cases {
		if c.AlarmID == alarmID {
			out = append(out, c)
		}
	}
	return out
}

// faultProxy sits between the gateway and the cloud and can refuse with 500 or answer slowly.
type faultProxy struct {
	mode  atomic.Value // "pass", "fail", "slow"
	hits  atomic.Int64
	fails atomic.Int64
	srv   *http.Server
	addr  string
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	u, _ := url.Parse("http://" + target)
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &faultProxy{addr: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	p.mode.Store("pass")
	p.srv = &http.Server{Addr: p.addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/alerts" {
			rp.ServeHTTP(w, r) // heartbeats and the long poll pass
			return
		}
		p.hits.Add(1)
		switch p.mode.Load() {
		case "fail":
			p.fails.Add(1)
			http.Error(w, `{"error":"overloaded","code":"unavailable"}`, http.StatusInternalServerError)
			return
		case "slow":
			time.Sleep(2 * time.Second)
		}
		rp.ServeHTTP(w, r)
	})}
	go p.srv.ListenAndServe()
	waitTCP(t, p.addr, 5*time.Second)
	t.Cleanup(func() { p.srv.Close() })
	return p
}

func uplinkYAML(url string) string {
	return fmt.Sprintf("uplink:\n  mode: cloud\n  cloud: {url: %q, gateway_id: %s, key: %s}\n  heartbeat: 1s\n  down_after: 3s\n", url, cloudGateway, cloudKey)
}

func (g *gateway) openAlarm(dev, typ string) alarmJSON {
	g.t.Helper()
	var out alarmJSON
	eventually(g.t, 10*time.Second, func() (bool, string) {
		as := g.alarms("state=open&device=" + dev + "&type=" + typ)
		if len(as) != 1 {
			return false, fmt.Sprintf("%d open %s alarms on %s", len(as), typ, dev)
		}
		out = as[0]
		return true, ""
	})
	return out
}

type alarmCase struct {
	CaseID    string `json:"case_id"`
	CaseState string `json:"case_state"`
}

func (g *gateway) alarmCase(id string) alarmCase {
	g.t.Helper()
	var r struct {
		Alarm alarmCase `json:"alarm"`
	}
	if code := g.get("/api/v1/alarms/"+id, &r); code != 200 {
		g.t.Fatalf("GET alarm %s: %d", id, code)
	}
	return r.Alarm
}

// oneCase waits until the grid centre holds exactly one case for the alarm and the alarm
// carries its id, and checks it stays one.
func oneCase(t *testing.T, gw *gateway, grid *gridUser, alarmID string) gridCase {
	t.Helper()
	var c gridCase
	eventually(t, 30*time.Second, func() (bool, string) {
		cs := grid.casesFor(alarmID)
		if len(cs) != 1 {
			return false, fmt.Sprintf("%d cases for %s", len(cs), alarmID)
		}
		c = cs[0]
		ac := gw.alarmCase(alarmID)
		return ac.CaseID == fmt.Sprint(c.ID), fmt.Sprintf("alarm %s has case %q, grid has %d", alarmID, ac.CaseID, c.ID)
	})
	return c
}

// TestUplinkEveryAlarmBecomesExactlyOneCase: through a cloud that refuses, answers slowly, is
// down for a while, and a gateway killed mid-delivery, every SOS becomes exactly one case; and
// case progress made in the grid centre shows on the gateway's alarm.
func TestUplinkEveryAlarmBecomesExactlyOneCase(t *testing.T) {
	cl := startCloud(t)
	proxy := newFaultProxy(t, cl.addr)
	env := &brokerEnv{mode: "embedded"}
	devs := append(fleet(),
		testDevice{ID: "cb-0003", Family: "callbutton", Password: "cb-0003-password", Heartbeat: "60s"},
		testDevice{ID: "cb-0004", Family: "callbutton", Password: "cb-0004-password", Heartbeat: "60s"},
		testDevice{ID: "cb-0005", Family: "callbutton", Password: "cb-0005-password", Heartbeat: "60s"})
	gw := newGateway(t, env, devs, uplinkYAML("http://"+proxy.addr))
	grid := cl.login(t, "dispatcher")
	send := func(d testDevice, id string) string {
		t.Helper()
		dv := mustConnect(t, env.addr, d, true)
		dv.publish("event", sosPayload(id), false)
		return gw.openAlarm(d.ID, "sos").ID
	}

	// 1. plain: an SOS becomes one case, with the resident and the right category
	a1 := send(devs[0], "up-1")
	c1 := oneCase(t, gw, grid, a1)
	var view struct {
		Case struct {
			Priority string `json:"priority"`
			Category struct {
				SubclassName string `json:"subclass_name"`
			} `json:"category"`
			Resident struct {
				Name         string `json:"name"`
				MedicalNotes string `json:"medical_notes"`
			} `json:"resident"`
			GridCode string `json:"grid_code"`
		} `json:"case"`
	}
	grid.call("GET", fmt.Sprintf("/api/v1/cases/%d", c1.ID), nil, &view)
	full := view.Case
	if full.Priority != "urgent" || full.Category.SubclassName != "老人求助" || full.Resident.Name != "张秀英" ||
		full.Resident.MedicalNotes == "" || full.GridCode != "110105001002003" {
		t.Fatalf("case content: %+v", full)
	}

	// 2. case progress made in the grid centre comes back to the alarm
	if code := grid.call("POST", fmt.Sprintf("/api/v1/cases/%d/actions/register", c1.ID), map[string]string{}, nil); code != 200 {
		t.Fatalf("register: %d", code)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		s := gw.alarmCase(a1).CaseState
		return s == "registered", "alarm case state " + s
	})

	// 3. the cloud refuses with 500s for a while
	proxy.mode.Store("fail")
	a2 := send(devs[1], "up-2")
	eventually(t, 20*time.Second, func() (bool, string) {
		return proxy.fails.Load() >= 2, fmt.Sprintf("%d refused attempts", proxy.fails.Load())
	})
	proxy.mode.Store("pass")
	oneCase(t, gw, grid, a2)

	// 4. the cloud answers slowly
	proxy.mode.Store("slow")
	a3 := send(devs[4], "up-3")
	oneCase(t, gw, grid, a3)
	proxy.mode.Store("pass")

	// 5. the cloud is down for a while: the alarm waits in the outbox, uplink_down is raised
	cl.stop()
	a4 := send(devs[5], "up-4")
	gw.openAlarm("gateway", "uplink_down")
	cl.start()
	grid = cl.login(t, "dispatcher")
	oneCase(t, gw, grid, a4)
	eventually(t, 20*time.Second, func() (bool, string) {
		n := len(gw.alarms("state=open&device=gateway&type=uplink_down"))
		return n == 0, fmt.Sprintf("%d open uplink_down alarms after recovery", n)
	})

	// 6. the gateway is killed while the alert is on its way (the cloud is slow, so the
	// request is in flight), then restarted: still one case
	proxy.mode.Store("slow")
	hits := proxy.hits.Load()
	a5 := send(devs[6], "up-5")
	eventually(t, 10*time.Second, func() (bool, string) {
		return proxy.hits.Load() > hits, "alert not yet sent"
	})
	time.Sleep(500 * time.Millisecond)
	gw.stop(syscall.SIGKILL)
	gw.start()
	proxy.mode.Store("pass")
	oneCase(t, gw, grid, a5)

	// every alarm above: still exactly one case each
	for _, id := range []string{a1, a2, a3, a4, a5} {
		if n := len(grid.casesFor(id)); n != 1 {
			t.Fatalf("alarm %s has %d cases", id, n)
		}
	}
}

// TestUplinkWebhook feeds a generic grid system: the body comes from the configured template,
// the alarm id is the idempotency key, refusals are retried, the answer's case id is stored.
func TestUplinkWebhook(t *testing.T) {
	var mu sync.Mutex
	var bodies []map[string]any
	var keys []string
	calls := 0
	srv := &http.Server{Addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 || r.Header.Get("X-City-Token") != "city-secret" {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		bodies = append(bodies, m)
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		fmt.Fprintf(w, `{"ticket":"T-%d"}`, len(bodies))
	})}
	go srv.ListenAndServe()
	t.Cleanup(func() { srv.Close() })
	waitTCP(t, srv.Addr, 5*time.Second)
	env := &brokerEnv{mode: "embedded"}
	yaml := fmt.Sprintf(`uplink:
  mode: webhook
  webhook:
    url: http://%s/intake
    headers: {X-City-Token: city-secret}
    case_id_field: ticket
    body_template: '{"event_no": {{json .AlarmID}}, "kind": {{json .Type}}, "grid": {{json .GridCode}}, "who": {{json .Resident.Name}}, "where": {{json .Address}}}'
`, srv.Addr)
	gw := newGateway(t, env, fleet(), yaml)
	dv := mustConnect(t, env.addr, fleet()[0], true)
	dv.publish("event", sosPayload("wh-1"), false)
	a := gw.openAlarm("cb-0001", "sos")
	eventually(t, 20*time.Second, func() (bool, string) {
		c := gw.alarmCase(a.ID)
		return c.CaseID == "T-1", "alarm case " + c.CaseID
	})
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 || bodies[0]["event_no"] != a.ID || bodies[0]["kind"] != "sos" || bodies[0]["who"] != "张秀英" ||
		bodies[0]["grid"] != "110105001002003" || keys[0] != a.ID {
		t.Fatalf("webhook got %v (keys %v)", bodies, keys)
	}
	if calls != 2 {
		t.Fatalf("want one refused and one accepted call, got %d calls", calls)
	}
}
