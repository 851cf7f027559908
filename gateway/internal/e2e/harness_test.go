package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/community-edge/edge/gateway/internal/credential"
	"github.com/community-edge/edge/gateway/internal/testenv"
)

// gatewayBin is built once by TestMain.
var gatewayBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gw-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gatewayBin = filepath.Join(dir, "gateway")
	out, err := exec.Command("go", "build", "-o", gatewayBin, "github.com/community-edge/edge/gateway/cmd/gateway").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building gateway: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	site       = "e2e"
	apiToken   = "e2e-admin-token-0123456789"
	gwUser     = "gateway"
	gwPassword = "gateway-broker-password"
)

func repoRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

func freePort(t testing.TB) int {
	t.Helper()
	p, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func waitTCP(t testing.TB, addr string, d time.Duration) {
	t.Helper()
	if err := testenv.WaitTCP(addr, d); err != nil {
		t.Fatal(err)
	}
}

// testDevice is a device the tests declare, with its password.
type testDevice struct {
	ID, Family, Password string
	Heartbeat            string
	Resident             bool
}

// fleet is the devices every test declares.
func fleet() []testDevice {
	return []testDevice{
		{ID: "cb-0001", Family: "callbutton", Password: "cb-0001-password", Heartbeat: "60s", Resident: true},
		{ID: "cb-0002", Family: "callbutton", Password: "cb-0002-password", Heartbeat: "1s"},
		{ID: "lk-0001", Family: "locker", Password: "lk-0001-password", Heartbeat: "60s"},
		{ID: "ch-0001", Family: "charger", Password: "ch-0001-password", Heartbeat: "60s"},
	}
}

// broker is where devices connect: the gateway's embedded broker or a Mosquitto.
type brokerEnv struct {
	mode string // embedded or mosquitto
	addr string // host:port devices use
}

// startMosquitto runs Mosquitto with the shipped configuration and ACL and a password file
// for the devices and the gateway.
func startMosquitto(t *testing.T, devs []testDevice, extra ...testDevice) *brokerEnv {
	t.Helper()
	var pw []string
	for _, d := range append(append([]testDevice{}, devs...), extra...) {
		h, _ := credential.Hash(d.Password)
		pw = append(pw, d.ID+":"+h)
	}
	h, _ := credential.Hash(gwPassword)
	pw = append(pw, gwUser+":"+h)
	m, err := testenv.StartMosquitto(repoRoot(t), t.TempDir(), pw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Stop()
		if t.Failed() {
			t.Logf("mosquitto log:\n%s", m.Log())
		}
	})
	return &brokerEnv{mode: "mosquitto", addr: m.Addr}
}

// gateway is a gateway process under test.
type gateway struct {
	t       *testing.T
	cfgPath string
	http    string
	env     *brokerEnv
	cmd     *exec.Cmd
	log     *testenv.Buffer
	done    chan struct{}
}

// newGateway writes a configuration for the broker env and starts the gateway.
func newGateway(t *testing.T, env *brokerEnv, devs []testDevice, extraYAML string) *gateway {
	t.Helper()
	dir := t.TempDir()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	var b strings.Builder
	fmt.Fprintf(&b, "site:\n  code: %s\n  name: 测试社区\n  time_zone: Asia/Shanghai\n  grid_code: \"110105001002003\"\n", site)
	fmt.Fprintf(&b, "data_dir: %s\nlog:\n  level: debug\n", filepath.Join(dir, "data"))
	fmt.Fprintf(&b, "alink:\n  models_dir: %s\n", filepath.Join(repoRoot(t), "configs", "alink"))
	switch env.mode {
	case "embedded":
		if env.addr == "" {
			env.addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		}
		fmt.Fprintf(&b, "broker:\n  mode: embedded\n  embedded:\n    listen: %s\n", env.addr)
	default:
		fmt.Fprintf(&b, "broker:\n  mode: external\n  external:\n    url: tcp://%s\n    client_id: gateway-%s\n    username: %s\n    password: ${E2E_BROKER_PASSWORD}\n    keep_alive: 5s\n", env.addr, site, gwUser)
	}
	fmt.Fprintf(&b, "http:\n  listen: %s\n  api_tokens:\n    - {name: e2e, token: %s, role: admin}\n", httpAddr, apiToken)
	b.WriteString("devices:\n")
	for _, d := range devs {
		fmt.Fprintf(&b, "  - id: %s\n    family: %s\n    name: 测试设备 %s\n    password: %s\n    heartbeat_interval: %s\n    location: {building: \"3\", unit: \"2\", room: \"401\"}\n",
			d.ID, d.Family, d.ID, d.Password, d.Heartbeat)
		if d.Resident {
			b.WriteString("    resident:\n      name: 张秀英\n      age: 82\n      phone: \"13800000001\"\n      medical_notes: 高血压，心脏支架\n      lives_alone: true\n      emergency_contacts:\n        - {name: 张伟, relation: 儿子, phone: \"13900000002\"}\n")
		}
	}
	b.WriteString(extraYAML)
	cfgPath := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfgPath, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	g := &gateway{t: t, cfgPath: cfgPath, http: httpAddr, env: env}
	g.start()
	t.Cleanup(func() {
		g.stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("gateway log:\n%s", g.log.String())
		}
	})
	return g
}

func (g *gateway) start() {
	g.t.Helper()
	g.cmd = exec.Command(gatewayBin, "run", "-config", g.cfgPath)
	g.cmd.Env = append(os.Environ(), "E2E_BROKER_PASSWORD="+gwPassword)
	if g.log == nil {
		g.log = &testenv.Buffer{}
	}
	g.cmd.Stdout, g.cmd.Stderr = g.log, g.log
	if err := g.cmd.Start(); err != nil {
		g.t.Fatal(err)
	}
	g.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(g.cmd, g.done)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-g.done:
			g.t.Fatalf("gateway exited at start:\n%s", g.log.String())
		default:
		}
		resp, err := http.Get("http://" + g.http + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				if g.env.mode == "embedded" {
					waitTCP(g.t, g.env.addr, 5*time.Second)
				} else {
					g.waitMetric("gateway_broker_connected", 1, 10*time.Second)
				}
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	g.t.Fatalf("gateway not healthy after 20s:\n%s", g.log.String())
}

// stop sends sig and waits for the process to end.
func (g *gateway) stop(sig syscall.Signal) {
	if g.cmd == nil || g.cmd.Process == nil {
		return
	}
	select {
	case <-g.done:
		return
	default:
	}
	g.cmd.Process.Signal(sig)
	select {
	case <-g.done:
	case <-time.After(15 * time.Second):
		g.cmd.Process.Kill()
		<-g.done
		g.t.Errorf("gateway did not stop within 15s of %v", sig)
	}
}

func (g *gateway) get(path string, out any) int {
	g.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+g.http+path, nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			g.t.Fatalf("GET %s: %v: %s", path, err, body)
		}
	}
	return resp.StatusCode
}

// metric returns the sum of the samples of a metric whose labels contain match.
func (g *gateway) metric(name, match string) float64 {
	g.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+g.http+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		nameLabels, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		n, labels, _ := strings.Cut(nameLabels, "{")
		if n != name || !strings.Contains(labels, match) {
			continue
		}
		v, _ := strconv.ParseFloat(val, 64)
		sum += v
	}
	return sum
}

func (g *gateway) waitMetric(name string, want float64, d time.Duration) {
	g.t.Helper()
	eventually(g.t, d, func() (bool, string) {
		v := g.metric(name, "")
		return v == want, fmt.Sprintf("%s = %v, want %v", name, v, want)
	})
}

type deviceJSON struct {
	ID     string `json:"id"`
	Health struct {
		State      string   `json:"state"`
		BatteryPct *float64 `json:"battery_pct"`
		RSSI       *float64 `json:"rssi_dbm"`
	} `json:"health"`
	Resident *struct {
		Name         string `json:"name"`
		MedicalNotes string `json:"medical_notes"`
	} `json:"resident"`
}

type eventJSON struct {
	ID   string          `json:"id"`
	Type string          `json:"type"`
	TS   int64           `json:"ts"`
	Data json.RawMessage `json:"data"`
}

type deviceResp struct {
	Device deviceJSON  `json:"device"`
	Events []eventJSON `json:"events"`
}

func (g *gateway) device(id string) deviceResp {
	var r deviceResp
	if code := g.get("/api/v1/devices/"+id, &r); code != 200 {
		g.t.Fatalf("GET device %s: status %d", id, code)
	}
	return r
}

// eventsOf returns how many stored events of a device have the id.
func (g *gateway) countEvent(dev, id string) int {
	n := 0
	for _, e := range g.device(dev).Events {
		if e.ID == id {
			n++
		}
	}
	return n
}

// waitStored checks an acknowledged event is stored once. With the embedded broker the
// device's acknowledgement means it is stored already, so it must be there at once; with an
// external broker the acknowledgement is the broker's, so it may take a moment.
func (g *gateway) waitStored(dev, id string) {
	g.t.Helper()
	if g.env.mode == "embedded" {
		if n := g.countEvent(dev, id); n != 1 {
			g.t.Fatalf("event %s/%s acknowledged by the embedded broker but stored %d times", dev, id, n)
		}
		return
	}
	eventually(g.t, 10*time.Second, func() (bool, string) {
		n := g.countEvent(dev, id)
		return n == 1, fmt.Sprintf("event %s/%s stored %d times", dev, id, n)
	})
}

func eventually(t testing.TB, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	var msg string
	for {
		var ok bool
		if ok, msg = cond(); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not true after %s: %s", d, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dev is a simulated device on a real MQTT connection.
type dev struct {
	t      *testing.T
	d      testDevice
	client paho.Client
	conn   net.Conn // the raw connection, to kill it without DISCONNECT
	mu     sync.Mutex
}

func topic(d testDevice, ch string) string {
	return fmt.Sprintf("community/%s/%s/%s/%s", site, d.Family, d.ID, ch)
}

// connectDevice logs a device in with a last will and publishes its retained online status.
func connectDevice(t *testing.T, addr string, d testDevice, password string, reconnect bool) (*dev, error) {
	t.Helper()
	dv := &dev{t: t, d: d}
	opts := paho.NewClientOptions().AddBroker("tcp://"+addr).SetClientID(d.ID).SetUsername(d.ID).SetPassword(password).
		SetCleanSession(false).SetAutoReconnect(reconnect).SetConnectRetry(false).SetMaxReconnectInterval(500*time.Millisecond).
		SetKeepAlive(30*time.Second).SetConnectTimeout(5*time.Second).
		SetWill(topic(d, "status"), `{"state":"offline"}`, 1, true).
		SetCustomOpenConnectionFn(func(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
			c, err := net.DialTimeout("tcp", uri.Host, 5*time.Second)
			if err == nil {
				dv.mu.Lock()
				dv.conn = c
				dv.mu.Unlock()
			}
			return c, err
		})
	dv.client = paho.NewClient(opts)
	tok := dv.client.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, fmt.Errorf("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { dv.client.Disconnect(100) })
	return dv, nil
}

func mustConnect(t *testing.T, addr string, d testDevice, reconnect bool) *dev {
	t.Helper()
	dv, err := connectDevice(t, addr, d, d.Password, reconnect)
	if err != nil {
		t.Fatalf("device %s: %v", d.ID, err)
	}
	dv.publish("status", `{"state":"online","fw":"1.2.3","ts":`+now()+`}`, true)
	return dv
}

func now() string { return strconv.FormatInt(time.Now().UnixMilli(), 10) }

func (dv *dev) publish(ch, payload string, retain bool) {
	dv.t.Helper()
	dv.publishTopic(topic(dv.d, ch), payload, retain)
}

func (dv *dev) publishTopic(tp, payload string, retain bool) {
	dv.t.Helper()
	tok := dv.client.Publish(tp, 1, retain, payload)
	if !tok.WaitTimeout(15 * time.Second) {
		dv.t.Fatalf("%s: publish to %s not acknowledged within 15s", dv.d.ID, tp)
	}
	if err := tok.Error(); err != nil {
		dv.t.Fatalf("%s: publish to %s: %v", dv.d.ID, tp, err)
	}
}

// killHard closes the device's socket without DISCONNECT, so the broker sends its last will.
// Use it on a device connected without reconnect.
func (dv *dev) killHard() {
	dv.mu.Lock()
	c := dv.conn
	dv.mu.Unlock()
	c.Close()
}
