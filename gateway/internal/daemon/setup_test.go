package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/firmware-sim/mqttconn"
	"github.com/community-edge/edge/firmware-sim/payload"
	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/testenv"
)

// setupClient talks to a gateway under Serve like a browser: a cookie jar, JSON bodies.
type setupClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (c *setupClient) do(method, path string, body any, hdr map[string]string) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	r, _ := http.NewRequest(method, c.base+path, rd)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	resp, err := c.c.Do(r)
	if err != nil {
		return 0, map[string]any{"error": err.Error()} // not listening: restarting
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// serve runs Serve for cfg until the returned stop is called, and waits until it answers.
func serve(t *testing.T, cfg *config.Config, logw io.Writer) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, cfg, slog.New(slog.NewTextHandler(logw, nil))) }()
	if err := testenv.WaitTCP(cfg.HTTP.Listen, 20*time.Second); err != nil {
		cancel()
		t.Fatal(err, <-done)
	}
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			return fmt.Errorf("Serve did not return within 15 s of its context's end")
		}
	}
	t.Cleanup(func() { stop() })
	return stop
}

func freeAddr(t *testing.T) string {
	t.Helper()
	p, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", p)
}

var goodSetup = map[string]string{"admin": "zhang.admin", "password": "a-good-password", "password_confirm": "a-good-password",
	"site_name": "幸福里社区", "site_code": "xingfuli", "time_zone": "Asia/Urumqi", "grid_code": "650102003004005"}

// TestFirstRunSetupRestartsWithTheNewSite runs the gateway as `gateway run` does (Serve) on a
// database without users: the setup is offered, refused for bad input with every field named,
// done once from loopback, and then the gateway restarts in-process so that the console's site,
// the broker's topics and the logins all use the new settings; a second setup is refused, also
// after the gateway is started again.
func TestFirstRunSetupRestartsWithTheNewSite(t *testing.T) {
	httpAddr, mqttAddr := freeAddr(t), freeAddr(t)
	yaml := fmt.Sprintf(`site: {code: from-config, name: 配置里的社区, time_zone: Asia/Shanghai, grid_code: "110105001002003"}
data_dir: %s
broker: {mode: embedded, embedded: {listen: "%s"}}
http:
  listen: "%s"
  api_tokens: [{name: script, token: script-token-0123456789, role: admin}]
devices:
  - {id: cb-1, family: callbutton, password: cb-1-password}
`, filepath.Join(t.TempDir(), "data"), mqttAddr, httpAddr)
	cfg, err := config.Parse([]byte(yaml), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var logb testenv.Buffer
	defer func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", logb.String())
		}
	}()
	stop := serve(t, cfg, &logb)
	jar, _ := cookiejar.New(nil)
	c := &setupClient{t: t, base: "http://" + httpAddr, c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
	script := map[string]string{"Authorization": "Bearer script-token-0123456789"}

	if code, out := c.do("GET", "/api/v1/setup", nil, nil); code != 200 || out["needed"] != true || out["lan"] != true || len(out) != 2 {
		t.Fatalf("GET setup before: %d %v", code, out)
	}
	// bad input: every field at once, nothing stored
	code, out := c.do("POST", "/api/v1/setup", map[string]string{"admin": "Not Valid", "password": "short",
		"password_confirm": "other", "site_name": "", "site_code": "A/B", "time_zone": "Mars/Olympus", "grid_code": "12"}, nil)
	fields, _ := out["fields"].(map[string]any)
	var names []string
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	if want := []string{"admin", "grid_code", "password", "password_confirm", "site_code", "site_name", "time_zone"}; code != 400 || !slices.Equal(names, want) {
		t.Fatalf("bad setup: %d %v; fields %v, want %v", code, out, names, want)
	}
	// a browser page of another origin is refused even from the LAN
	if code, out := c.do("POST", "/api/v1/setup", goodSetup, map[string]string{"Origin": "http://evil.example"}); code != 403 {
		t.Fatalf("cross-origin setup: %d %v", code, out)
	}

	code, out = c.do("POST", "/api/v1/setup", goodSetup, map[string]string{"Origin": "http://" + httpAddr, "Sec-Fetch-Site": "same-origin"})
	if code != 201 || out["user"] != "zhang.admin" || out["role"] != "admin" || out["auth"] != "session" || out["csrf_token"] == "" {
		t.Fatalf("setup: %d %v", code, out)
	}
	csrf := out["csrf_token"].(string)

	// The gateway restarts; answers until then are 503 (or nothing while it rebinds), then the
	// session the setup started works on the new one.
	var restarting bool
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, out = c.do("GET", "/api/v1/me", nil, nil)
		if code == 200 {
			break
		}
		if code != 503 && code != 0 {
			t.Fatalf("me after setup: %d %v", code, out)
		}
		restarting = true
		if time.Now().After(deadline) {
			t.Fatalf("the gateway did not come back after the setup: %d %v", code, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(logb.String(), "restarting the gateway with the site settings") {
		t.Fatalf("no restart in the log (answers seen while restarting: %v)", restarting)
	}
	if out["user"] != "zhang.admin" || out["csrf_token"] != csrf {
		t.Fatalf("me after the restart: %v", out)
	}
	if code, out := c.do("GET", "/api/v1/site", nil, nil); code != 200 || out["name"] != "幸福里社区" || out["time_zone"] != "Asia/Urumqi" ||
		out["code"] != "xingfuli" || out["grid_code"] != "650102003004005" {
		t.Fatalf("site after setup: %d %v", code, out)
	}
	if code, out := c.do("POST", "/api/v1/login", map[string]string{"user": "zhang.admin", "password": "a-good-password"}, nil); code != 200 {
		t.Fatalf("the new admin cannot log in: %d %v", code, out)
	}
	if code, out := c.do("POST", "/api/v1/setup", goodSetup, nil); code != 410 {
		t.Fatalf("second setup: %d %v", code, out)
	}
	if code, out := c.do("GET", "/api/v1/setup", nil, nil); code != 410 || out["needed"] != false {
		t.Fatalf("GET setup after: %d %v", code, out)
	}
	code, out = c.do("GET", "/api/v1/audit?action=setup.", nil, script)
	if b, _ := json.Marshal(out); code != 200 || !strings.Contains(string(b), "setup.complete") {
		t.Fatalf("audit: %d %s", code, b)
	}

	// The broker was rebuilt with the new site code: a device publishing on
	// community/xingfuli/… is heard.
	dev := payload.Device{Site: "xingfuli", Family: drivers.CallButton, ID: "cb-1"}
	conn, err := mqttconn.New(mqttconn.Config{Broker: "tcp://" + mqttAddr, Device: dev, Password: "cb-1-password"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := conn.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer conn.Disconnect(context.Background())
	if err := conn.PublishWait(ctx, payload.Status(dev, "fw-setup", time.Now().UnixMilli())); err != nil {
		t.Fatal(err)
	}
	for {
		code, out = c.do("GET", "/api/v1/devices/cb-1", nil, script)
		d, _ := out["device"].(map[string]any)
		health, _ := d["health"].(map[string]any)
		if health["state"] == "online" && d["site"] == "xingfuli" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the device on the new site's topic never came online: %d %v", code, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	conn.Disconnect(context.Background())

	// Started again (as after a reboot): still the new site, still no setup.
	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	serve(t, cfg, &logb)
	if code, out := c.do("POST", "/api/v1/setup", goodSetup, nil); code != 410 {
		t.Fatalf("setup after a restart: %d %v", code, out)
	}
	if code, out := c.do("GET", "/api/v1/site", nil, script); code != 200 || out["name"] != "幸福里社区" {
		t.Fatalf("site after a restart: %d %v", code, out)
	}
}
