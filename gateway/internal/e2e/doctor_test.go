package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/community-edge/edge/cloud/api"
	"github.com/community-edge/edge/gateway/internal/testenv"
)

// doctorReport is the JSON of `gateway doctor -json` and GET /api/v1/doctor.
type doctorReport struct {
	Lang    string `json:"lang"`
	OK      bool   `json:"ok"`
	Results []struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Status string `json:"status"`
		Detail string `json:"detail"`
		Fix    string `json:"fix"`
	} `json:"results"`
}

func (r doctorReport) find(id string) (status, detail, fix string) {
	for _, x := range r.Results {
		if x.ID == id {
			return x.Status, x.Detail, x.Fix
		}
	}
	return "", "", ""
}

func (r doctorReport) String() string {
	var b strings.Builder
	for _, x := range r.Results {
		fmt.Fprintf(&b, "  %-12s %-4s %s | %s\n", x.ID, x.Status, x.Detail, x.Fix)
	}
	return b.String()
}

// runDoctor runs the gateway binary's doctor command on a configuration and returns its exit
// code, its JSON report, and how long it took.
func runDoctor(t *testing.T, cfgPath, brokerPassword string, args ...string) (int, doctorReport, time.Duration, string) {
	t.Helper()
	cmd := exec.Command(gatewayBin, append([]string{"doctor", "-config", cfgPath}, args...)...)
	cmd.Env = append(os.Environ(), "E2E_BROKER_PASSWORD="+brokerPassword)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var rep doctorReport
	if raw := out.Bytes(); len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &rep); err != nil {
			t.Fatalf("doctor -json: %v\n%s", err, out.String())
		}
	}
	return code, rep, took, out.String() + errb.String()
}

// skewProxy sits in front of the cloud and shifts the Date header of every answer.
func skewProxy(t *testing.T, target string, by time.Duration) string {
	t.Helper()
	u, _ := url.Parse("http://" + target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(r *http.Response) error {
		if d, err := http.ParseTime(r.Header.Get("Date")); err == nil {
			r.Header.Set("Date", d.Add(by).UTC().Format(http.TimeFormat))
		}
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rp}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestDoctor: with real Mosquitto (the gateway's own login), influxd, the cloud binary, a
// simulated camera and every device connected, every check of `gateway doctor` passes, in the
// command and in GET /api/v1/doctor of the running gateway. Then each broken setup fails (or
// warns) the right check with the right fix, and the exit code says so.
func TestDoctor(t *testing.T) {
	devs := fleet()
	env := startMosquitto(t, devs)
	influx, err := testenv.StartInflux(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(influx.Stop)
	cl := startCloud(t)
	cam := startCamera(t, 320, 240)
	extra := fmt.Sprintf("influx: {url: %q, bucket: %s, token: %s}\n", influx.URL, testenv.InfluxBucket, testenv.InfluxToken) +
		uplinkYAML("http://"+cl.addr) + cameraYAML(t, cam.addr)
	gw := newGateway(t, env, devs, extra)
	for _, d := range devs {
		mustConnect(t, env.addr, d, false)
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		for _, d := range devs {
			if gw.device(d.ID).Device.Health.State == "unknown" {
				return false, d.ID + " not seen yet"
			}
		}
		return true, ""
	})

	t.Run("healthy", func(t *testing.T) {
		code, rep, took, out := runDoctor(t, gw.cfgPath, gwPassword, "-json")
		if code != 0 || !rep.OK {
			t.Fatalf("exit %d on a healthy site:\n%s%s", code, rep, out)
		}
		if len(rep.Results) != 9 {
			t.Errorf("%d results, want 9 (one camera):\n%s", len(rep.Results), rep)
		}
		for _, r := range rep.Results {
			if r.Status != "pass" {
				t.Errorf("%s: %s %s (%s)", r.ID, r.Status, r.Detail, r.Fix)
			}
		}
		if _, detail, _ := rep.find("camera:cam-east"); !strings.Contains(detail, "H264") || !strings.Contains(detail, "320x240") || strings.Contains(detail, camPass) {
			t.Errorf("camera detail %q: want codec and resolution, never the password", detail)
		}
		if took > 10*time.Second {
			t.Errorf("doctor took %s, want ≤ 10 s", took)
		}
		t.Logf("healthy site checked in %s", took.Round(time.Millisecond))

		// the table, in Chinese by default
		code, _, _, table := runDoctor(t, gw.cfgPath, gwPassword)
		if code != 0 || !strings.Contains(table, "共 9 项：9 通过，0 警告，0 失败，0 跳过") || !strings.Contains(table, "检查项") {
			t.Errorf("table (exit %d):\n%s", code, table)
		}
		t.Logf("gateway doctor:\n%s", table)

		// the running daemon's own report
		var api doctorReport
		if c := gw.get("/api/v1/doctor?lang=en", &api); c != 200 || !api.OK || api.Lang != "en" {
			t.Fatalf("GET /api/v1/doctor: %d\n%s", c, api)
		}
		for _, r := range api.Results {
			if r.Status != "pass" {
				t.Errorf("API %s: %s %s (%s)", r.ID, r.Status, r.Detail, r.Fix)
			}
		}

		// a camera added in the console with a wrong password is probed by the daemon's checks
		body := `{"id":"cam-west","name":"西门","url":"rtsp://` + cam.addr + `/main","username":"` + camUser + `","password":"wrong-pass","force":true}`
		req, _ := http.NewRequest("POST", "http://"+gw.http+"/api/v1/cameras", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		bearer(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("adding a camera in the console: %s", resp.Status)
		}
		api = doctorReport{}
		gw.get("/api/v1/doctor?lang=en", &api)
		if st, detail, fix := api.find("camera:cam-west"); st != "fail" || !strings.Contains(detail, "(401)") || !strings.Contains(fix, "camera setup page") || strings.Contains(detail+fix, "wrong-pass") {
			t.Errorf("console-added camera: %s %q fix %q\n%s", st, detail, fix, api)
		}
		if st, _, _ := api.find("camera:cam-east"); st != "pass" || api.OK {
			t.Errorf("configured camera %s, report ok %v", st, api.OK)
		}
	})

	healthy, err := os.ReadFile(gw.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(t.TempDir(), "data-file")
	os.WriteFile(notDir, []byte("not a directory"), 0o600)
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	udpPort := udp.LocalAddr().(*net.UDPAddr).Port
	dataDir := filepath.Join(filepath.Dir(gw.cfgPath), "data")
	otherKey := api.EncodeKey([]byte("a-key-of-32-bytes-not-gw-demo's!")) // well-formed, but not gw-demo's

	tests := []struct {
		name     string
		edit     func(string) string
		password string // the broker password in the environment
		id       string // the check that must not pass
		status   string
		fix      string // in the English fix
		exit     int
	}{
		{"invalid config", func(s string) string {
			return strings.Replace(s, "code: "+site, "code: \"E2E SITE\"", 1) + "surprise: 1\n"
		}, gwPassword, "config", "fail", "gateway check-config", 1},
		{"data dir is a file", func(s string) string { return strings.Replace(s, dataDir, notDir, 1) }, gwPassword, "data_dir", "fail", "data_dir must name a directory", 1},
		{"wrong broker password", nil, "not-the-password", "broker", "fail", "wrong username or password", 1},
		{"influxdb down", func(s string) string {
			return strings.Replace(s, influx.URL, fmt.Sprintf("http://127.0.0.1:%d", freePort(t)), 1)
		}, gwPassword, "influx", "fail", "check InfluxDB runs", 1},
		{"influxdb bucket missing", func(s string) string {
			return strings.Replace(s, "bucket: "+testenv.InfluxBucket, "bucket: nosuchdb/rp", 1)
		}, gwPassword, "influx", "fail", "create the bucket", 1},
		{"wrong cloud key", func(s string) string { return strings.Replace(s, cloudKey, otherKey, 1) }, gwPassword, "cloud", "fail", "key does not match", 1},
		{"wrong camera password", func(s string) string { return strings.Replace(s, "password: "+camPass, "password: wrong-pass", 1) }, gwPassword, "camera:cam-east", "fail", "cameras[0].username/password", 1},
		{"camera unreachable", func(s string) string {
			return strings.Replace(s, cam.addr, "127.0.0.1:"+fmt.Sprint(freePort(t)), 1)
		}, gwPassword, "camera:cam-east", "fail", "ping it", 1},
		{"webrtc udp port taken", func(s string) string {
			s = strings.Replace(s, gw.http, fmt.Sprintf("127.0.0.1:%d", freePort(t)), 1) // not the running gateway's
			return replaceField(t, s, "udp_port: ", fmt.Sprint(udpPort))
		}, gwPassword, "webrtc_udp", "fail", "video.webrtc.udp_port", 1},
		{"clock 45 s ahead of the cloud", func(s string) string {
			return strings.Replace(s, "http://"+cl.addr, skewProxy(t, cl.addr, -45*time.Second), 1)
		}, gwPassword, "clock", "fail", "±5 min", 1},
		{"clock 6 s behind the cloud", func(s string) string {
			return strings.Replace(s, "http://"+cl.addr, skewProxy(t, cl.addr, 6*time.Second), 1)
		}, gwPassword, "clock", "warn", "timedatectl set-ntp true", 0},
		{"device never connected", func(s string) string {
			return strings.Replace(s, "devices:\n", "devices:\n  - {id: cb-9999, family: callbutton, password: cb-9999-password}\n", 1)
		}, gwPassword, "devices", "warn", "username = device id", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := string(healthy)
			if tt.edit != nil {
				cfg = tt.edit(cfg)
			}
			path := filepath.Join(t.TempDir(), "gateway.yaml")
			os.WriteFile(path, []byte(cfg), 0o600)
			code, rep, took, out := runDoctor(t, path, tt.password, "-json", "-lang", "en")
			status, detail, fix := rep.find(tt.id)
			if status != tt.status || !strings.Contains(fix, tt.fix) {
				t.Errorf("%s: %s %q fix %q; want %s with a fix saying %q\n%s", tt.id, status, detail, fix, tt.status, tt.fix, rep)
			}
			if code != tt.exit {
				t.Errorf("exit %d, want %d\n%s", code, tt.exit, out)
			}
			for _, r := range rep.Results {
				if r.ID == tt.id || r.Status == "pass" || r.Status == "skip" { // skipped: an earlier check explains it
					continue
				}
				if tt.id == "clock" && r.ID == "cloud" { // the proxy shifts only the Date header
					continue
				}
				t.Errorf("%s also %s: %s (%s)", r.ID, r.Status, r.Detail, r.Fix)
			}
			if strings.Contains(out, camPass) || strings.Contains(out, "wrong-pass") {
				t.Errorf("a camera password was printed:\n%s", out)
			}
			if took > 10*time.Second {
				t.Errorf("took %s", took)
			}
		})
	}
}

// replaceField replaces the value after key (up to the end of its line or a comma or brace).
func replaceField(t *testing.T, s, key, value string) string {
	t.Helper()
	i := strings.Index(s, key)
	if i < 0 {
		t.Fatalf("no %q in the configuration", key)
	}
	j := i + len(key)
	k := j
	for k < len(s) && !strings.ContainsRune(",}\n", rune(s[k])) {
		k++
	}
	return s[:j] + value + s[k:]
}

// TestConsoleDoctorPage: the console's check page (检查) shows the running gateway's checks as
// a table, coloured by result — here devices that never connected warn, the embedded broker
// passes — and its nav entry is offered to the admin.
func TestConsoleDoctorPage(t *testing.T) {
	env := &brokerEnv{mode: "embedded"}
	gw := newGateway(t, env, fleet(), "")
	gw.addUser("wangjun", "admin", "admin-password-1")
	b := newBrowser(t, "http://"+gw.http)
	b.login("wangjun", "admin-password-1")
	if !js[bool](b, `!document.querySelector('#nav a[data-nav="doctor"]').hidden`) {
		t.Error("the admin is not offered the 检查 page")
	}
	b.do(10*time.Second, "check page", chromedp.Click(chromedp.CSS(`#nav a[data-nav="doctor"]`)))
	b.waitJS(12*time.Second, "the checks' table", `document.querySelectorAll("#doctor-table tbody tr").length === 9`)
	row := func(id string) string {
		return js[string](b, `(() => { const r = document.querySelector('#doctor-table tr[data-check="`+id+`"]'); return r.dataset.status + "|" + r.innerText })()`)
	}
	if r := row("broker"); !strings.HasPrefix(r, "pass|") || !strings.Contains(r, "通过") {
		t.Errorf("broker row: %q", r)
	}
	if r := row("devices"); !strings.HasPrefix(r, "warn|") || !strings.Contains(r, "从未连接") || !strings.Contains(r, "cb-0001") || !strings.Contains(r, "用户名 = 设备 ID") {
		t.Errorf("devices row: %q", r)
	}
	colour := func(id string) string {
		return js[string](b, `getComputedStyle(document.querySelector('#doctor-table tr[data-check="`+id+`"] .doctor-status')).backgroundColor`)
	}
	if colour("broker") == colour("devices") || colour("devices") == colour("cloud") {
		t.Errorf("pass, warn and skip look alike: %s %s %s", colour("broker"), colour("devices"), colour("cloud"))
	}
	if s := b.text("#doctor-summary"); !strings.Contains(s, "没有失败项") {
		t.Errorf("summary: %q", s)
	}
	b.screenshot(screenshotDir(t), "doctor.png")
}
