package doctor

import (
	"bytes"
	"context"
	"crypto/tls"
	"flag"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/community-edge/edge/gateway/internal/testenv"

	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/tlscert"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// load parses a configuration written into a temporary directory.
func load(t *testing.T, yaml string) (*config.Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return config.Load(p, func(string) string { return "" })
}

func result(t *testing.T, rep Report, id string) Result {
	t.Helper()
	for _, r := range rep.Results {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no %s in the report: %+v", id, rep.Results)
	return Result{}
}

func freeTCP(t *testing.T) string {
	t.Helper()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(port)
}

// TestLocalChecks: each broken local setup fails (or warns) the right check with the right
// fix, in both languages; the others are not disturbed.
func TestLocalChecks(t *testing.T) {
	busyTCP, _ := net.Listen("tcp", "127.0.0.1:0")
	defer busyTCP.Close()
	busyUDP, _ := net.ListenPacket("udp", "127.0.0.1:0")
	defer busyUDP.Close()
	udpPort := busyUDP.LocalAddr().(*net.UDPAddr).Port
	fileDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(fileDir, []byte("x"), 0o600)

	base := func(dataDir, listen string, udp int, extra string) string {
		return "site: {code: s1}\ndata_dir: " + dataDir + "\nbroker: {mode: embedded, embedded: {listen: \"" + listen + "\"}}\n" +
			"http: {listen: \"" + freeTCP(t) + "\"}\nvideo: {webrtc: {udp_port: " + itoa(udp) + ", listen_ip: 127.0.0.1}}\n" + extra
	}
	tests := []struct {
		name     string
		yaml     func(dir string) string
		id       string
		status   Status
		detail   string // in the Chinese report
		fixZH    string
		fixEN    string
		skipRest bool
	}{
		{"invalid config", func(dir string) string {
			return "site: {code: BAD CODE}\ndata_dir: " + dir + "\nbroker: {mode: embeded}\nvideo: {webrtc: {udp_port: 0}}\n"
		}, "config", Fail, "site.code", "gateway check-config", "gateway check-config", true},
		{"data dir missing", func(dir string) string { return base(filepath.Join(dir, "nope"), freeTCP(t), 0, "") }, "data_dir", Fail, "不存在", "install -d -o community-gateway", "does not exist", false},
		{"data dir is a file", func(dir string) string { return base(fileDir, freeTCP(t), 0, "") }, "data_dir", Fail, "不是目录", "data_dir 必须指向一个目录", "data_dir must name a directory", false},
		{"broker port taken", func(dir string) string { return base(dir, busyTCP.Addr().String(), 0, "") }, "broker", Fail, "无法监听", "ss -ltnp", "ss -ltnp", false},
		{"udp port taken with cameras", func(dir string) string {
			return base(dir, freeTCP(t), udpPort, "cameras: [{id: cam-1, url: \"rtsp://127.0.0.1:1/x\"}]\n")
		}, "webrtc_udp", Fail, "无法监听", "video.webrtc.udp_port", "video.webrtc.udp_port", false},
		{"udp port taken without cameras", func(dir string) string { return base(dir, freeTCP(t), udpPort, "") }, "webrtc_udp", Warn, "无法监听", "ss -lunp", "ss -lunp", false},
		{"devices never connected", func(dir string) string {
			return base(dir, freeTCP(t), 0, "devices:\n  - {id: cb-1, family: callbutton}\n  - {id: cb-2, family: callbutton}\n")
		}, "devices", Warn, "2/2 台设备从未连接：cb-1, cb-2", "用户名 = 设备 ID", "username = device id", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			y := tt.yaml(dir)
			if strings.Contains(y, "udp_port: 0") && !strings.Contains(tt.name, "invalid") {
				y = strings.Replace(y, "udp_port: 0", "udp_port: "+itoa(freeUDP(t)), 1)
			}
			cfg, err := load(t, y)
			for _, lang := range []string{"zh", "en"} {
				rep := New(Options{ConfigPath: "gateway.yaml", Config: cfg, ConfigErr: err, Lang: lang, Timeout: 3 * time.Second}).Run(context.Background())
				r := result(t, rep, tt.id)
				fix := tt.fixZH
				if lang == "en" {
					fix = tt.fixEN
				}
				if r.Status != tt.status || (lang == "zh" && !strings.Contains(r.Detail, tt.detail)) || !strings.Contains(r.Fix+r.Detail, fix) {
					t.Errorf("%s %s: got %s %q fix %q; want %s with %q and fix %q", lang, tt.id, r.Status, r.Detail, r.Fix, tt.status, tt.detail, fix)
				}
				if rep.OK != (tt.status != Fail) {
					t.Errorf("%s: report OK=%v with %s", lang, rep.OK, tt.status)
				}
				for _, o := range rep.Results {
					if o.ID == tt.id {
						continue
					}
					if tt.skipRest && o.Status != Skip {
						t.Errorf("%s: %s ran with an invalid configuration: %+v", lang, o.ID, o)
					}
					if !tt.skipRest && o.Status == Fail && o.ID != "camera:cam-1" {
						t.Errorf("%s: %s failed too: %+v", lang, o.ID, o)
					}
				}
			}
		})
	}
}

// TestInvalidConfigListsEveryProblem: the config check names every key at once.
func TestInvalidConfigListsEveryProblem(t *testing.T) {
	cfg, err := load(t, "site: {code: BAD CODE, time_zone: Mars/Base}\ndata_dir: x\nbroker: {mode: embeded}\nlog: {level: loud}\n")
	r := result(t, New(Options{ConfigPath: "gw.yaml", Config: cfg, ConfigErr: err}).Run(context.Background()), "config")
	for _, key := range []string{"site.code", "site.time_zone", "broker.mode", "log.level", "4 处问题"} {
		if !strings.Contains(r.Detail, key) {
			t.Errorf("config detail does not name %s:\n%s", key, r.Detail)
		}
	}
}

// TestUnreadableConfig: a missing file and broken YAML fail the config check with their own
// fix, and nothing else runs.
func TestUnreadableConfig(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.yaml")
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	os.WriteFile(broken, []byte("site:\n  code: [s1\n"), 0o600)
	for _, tc := range []struct{ path, fix string }{{missing, "give the configuration file with -config"}, {broken, "not valid YAML"}} {
		cfg, err := config.Load(tc.path, func(string) string { return "" })
		rep := New(Options{ConfigPath: tc.path, Config: cfg, ConfigErr: err, Lang: "en"}).Run(context.Background())
		if r := result(t, rep, "config"); r.Status != Fail || !strings.Contains(r.Fix, tc.fix) || rep.Skip != len(rep.Results)-1 {
			t.Errorf("%s: %+v (skipped %d of %d)", tc.path, r, rep.Skip, len(rep.Results))
		}
	}
}

// TestEmbeddedBrokerServedByRunningGateway: a taken broker port is fine when this
// configuration's gateway answers /healthz (it holds the port itself).
func TestEmbeddedBrokerServedByRunningGateway(t *testing.T) {
	busy, _ := net.Listen("tcp", "127.0.0.1:0")
	defer busy.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Write([]byte(`{"status":"ok"}`))
		}
	}))
	defer srv.Close()
	cfg, err := load(t, "site: {code: s1}\ndata_dir: "+t.TempDir()+"\nbroker: {mode: embedded, embedded: {listen: \""+busy.Addr().String()+"\"}}\nhttp: {listen: \""+strings.TrimPrefix(srv.URL, "http://")+"\"}\n")
	if err != nil {
		t.Fatal(err)
	}
	r := result(t, New(Options{Config: cfg, Lang: "en"}).Run(context.Background()), "broker")
	if r.Status != Pass || !strings.Contains(r.Detail, "held by the running gateway") {
		t.Fatalf("%+v", r)
	}
}

func TestClockSkew(t *testing.T) {
	sent := time.Date(2026, 5, 1, 8, 0, 0, 200e6, time.UTC)
	tests := []struct {
		name     string
		answered time.Duration
		date     string
		want     time.Duration
	}{
		{"in sync", 100 * time.Millisecond, "Fri, 01 May 2026 08:00:00 GMT", -250 * time.Millisecond},
		{"ahead 40 s", 0, "Fri, 01 May 2026 07:59:20 GMT", 40*time.Second - 300*time.Millisecond},
		{"behind 10 min", 0, "Fri, 01 May 2026 08:10:00 GMT", -10*time.Minute - 300*time.Millisecond},
	}
	for _, tt := range tests {
		got, err := clockSkew(sent, sent.Add(tt.answered), tt.date)
		if err != nil || got != tt.want {
			t.Errorf("%s: %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
	if _, err := clockSkew(sent, sent, "yesterday"); err == nil || !strings.HasPrefix(err.Error(), "doctor: date header") {
		t.Errorf("a bad Date header: %v", err)
	}
}

// FuzzClockSkew: any Date header a server sends gives an estimate or an error, never a panic.
func FuzzClockSkew(f *testing.F) {
	f.Add("Fri, 01 May 2026 08:00:00 GMT")
	f.Add("Friday, 01-May-26 08:00:00 GMT")
	f.Add("Fri May  1 08:00:00 2026")
	f.Add("")
	f.Fuzz(func(t *testing.T, date string) {
		now := time.Now()
		if d, err := clockSkew(now, now, date); err == nil && d.Abs() > 1<<62 {
			t.Fatalf("absurd skew %v for %q", d, date)
		}
	})
}

func TestCameraCredentialsNeverShown(t *testing.T) {
	cam := config.Camera{URL: "rtsp://admin:s3cret-pw@10.0.0.9:554/main", Password: "other-pw"}
	if got := redactURL(cam.URL); got != "rtsp://10.0.0.9:554/main" {
		t.Errorf("redactURL: %s", got)
	}
	got := scrub("dial rtsp://admin:s3cret-pw@10.0.0.9:554/main failed; other-pw", cam)
	if strings.Contains(got, "s3cret-pw") || strings.Contains(got, "other-pw") || strings.Contains(got, "admin:") {
		t.Errorf("scrub left a credential: %s", got)
	}
}

// TestTableGolden: the printed table in both languages, CJK columns aligned.
func TestTableGolden(t *testing.T) {
	for _, lang := range []string{"zh", "en"} {
		d := New(Options{Lang: lang})
		rep := Report{Lang: lang, Results: []Result{
			{ID: "config", Name: d.t("配置文件", "configuration"), Status: Pass, Detail: d.t("配置有效：gw.yaml", "valid: gw.yaml")},
			{ID: "clock", Name: d.t("时钟同步", "clock"), Status: Warn, Detail: d.t("本机时钟比云平台快 3.0 秒", "this clock is 3.0 s ahead of the cloud"), Fix: "timedatectl set-ntp true"},
			{ID: "broker", Name: d.t("MQTT 服务器", "MQTT broker"), Status: Fail, Detail: "line one\nline two", Fix: "fix it"},
			{ID: "influx", Name: "InfluxDB", Status: Skip, Detail: "-"},
		}, Pass: 1, Warn: 1, Fail: 1, Skip: 1}
		var b bytes.Buffer
		if err := WriteTable(&b, rep, false); err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "table."+lang+".golden")
		if *update {
			os.WriteFile(golden, b.Bytes(), 0o644)
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if b.String() != string(want) {
			t.Errorf("%s table differs from %s:\n%s", lang, golden, b.String())
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func freeUDP(t *testing.T) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// silentServer accepts TCP connections and never answers; it returns its address.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	t.Cleanup(func() { // registered first, so it runs after serve's: no connection comes later
		for _, c := range conns {
			c.Close()
		}
	})
	serve(t, ln, func(c net.Conn) { conns = append(conns, c) })
	return ln.Addr().String()
}

// serve hands each connection ln accepts to handle, one at a time, until the test ends.
func serve(t *testing.T, ln net.Listener, handle func(net.Conn)) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			handle(c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
}

// TestChecksBoundedByTimeout: a broker and an InfluxDB that accept connections but never
// answer fail their checks within the per-check timeout, with what was seen.
func TestChecksBoundedByTimeout(t *testing.T) {
	broker, influx := silentServer(t), silentServer(t)
	cfg, err := load(t, "site: {code: s1}\ndata_dir: "+t.TempDir()+"\nbroker:\n  mode: external\n  external: {url: \"tcp://"+broker+"\", client_id: gw, username: gateway, password: pw}\n"+
		"http: {listen: \""+freeTCP(t)+"\"}\ninflux: {url: \"http://"+influx+"\", bucket: b}\nvideo: {webrtc: {udp_port: "+itoa(freeUDP(t))+"}}\n")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rep := New(Options{Config: cfg, Lang: "en", Timeout: 1500 * time.Millisecond}).Run(context.Background())
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the run took %s with a 1.5 s per-check timeout", took)
	}
	if r := result(t, rep, "broker"); r.Status != Fail || !strings.Contains(r.Detail, "did not answer the MQTT login") {
		t.Errorf("silent broker: %+v", r)
	}
	if r := result(t, rep, "influx"); r.Status != Fail || !strings.Contains(r.Detail, "did not finish within 1.5s") {
		t.Errorf("silent InfluxDB: %+v", r)
	}
	if rep.OK {
		t.Error("report OK with failures")
	}
}

// TestDataDirOwner: run as root (sudo gateway doctor), a data directory the service user does
// not own is named, since root's own write probe would pass.
func TestDataDirOwner(t *testing.T) {
	dir := t.TempDir()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := foreignOwner(fi, "no-such-service-user"); got != "" {
		t.Errorf("without the service user: %q", got)
	}
	if os.Geteuid() != 0 {
		if got := foreignOwner(fi, "nobody"); got != "" {
			t.Errorf("not root: %q", got)
		}
		return
	}
	if got := foreignOwner(fi, "nobody"); got != "root" {
		t.Errorf("root's directory with service user nobody: %q, want root", got)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	fi, _ = os.Stat(dir)
	if got := foreignOwner(fi, "nobody"); got != "" {
		t.Errorf("nobody's directory: %q", got)
	}
}

// tlsBroker is a TLS listener with a self-signed certificate for 127.0.0.1 that answers any
// MQTT CONNECT with CONNACK code; it returns its address and the certificate file.
func tlsBroker(t *testing.T, code byte) (addr, certFile string) {
	t.Helper()
	cert, err := tlscert.SelfSigned(t.TempDir(), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cert.Config)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, ln, func(c net.Conn) {
		buf := make([]byte, 512)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(buf); err == nil && n > 0 && buf[0] == 0x10 {
			c.Write([]byte{0x20, 0x02, 0x00, code})
			c.Read(buf) // DISCONNECT or close
		}
		c.Close()
	})
	return ln.Addr().String(), cert.CertFile
}

// TestBrokerTLSAndConnack: the external broker's certificate is verified against ca_file, and
// each refusing CONNACK code gets its own fix.
func TestBrokerTLSAndConnack(t *testing.T) {
	tests := []struct {
		name   string
		code   byte
		withCA bool
		status Status
		text   string // in detail or fix
	}{
		{"verified, login accepted", 0, true, Pass, "TLS certificate verified"},
		{"unknown CA", 0, false, Fail, "TLS verification failed"},
		{"bad user name or password (4)", 4, true, Fail, "wrong username or password"},
		{"not authorised (5)", 5, true, Fail, "wrong username or password"},
		{"identifier rejected (2)", 2, true, Fail, "client_id"},
		{"server unavailable (3)", 3, true, Fail, "journalctl -u mosquitto"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, ca := tlsBroker(t, tt.code)
			caLine := ""
			if tt.withCA {
				caLine = ", ca_file: \"" + ca + "\""
			}
			cfg, err := load(t, "site: {code: s1}\ndata_dir: "+t.TempDir()+"\nbroker:\n  mode: external\n  external: {url: \"ssl://"+addr+"\", client_id: gw, username: gateway, password: pw"+caLine+"}\n")
			if err != nil {
				t.Fatal(err)
			}
			r := result(t, New(Options{Config: cfg, Lang: "en", Timeout: 5 * time.Second}).Run(context.Background()), "broker")
			if r.Status != tt.status || !strings.Contains(r.Detail+" "+r.Fix, tt.text) {
				t.Errorf("%s %q fix %q; want %s with %q", r.Status, r.Detail, r.Fix, tt.status, tt.text)
			}
		})
	}
}
