// Command ingestbench measures the gateway's ingest path end to end: simulated devices on real
// MQTT connections → a real broker (the embedded one, or Mosquitto with the shipped config) →
// the gateway process → durable SQLite store. It reports the sustained rate, loss (events the
// broker acknowledged that are not stored), the gateway's CPU seconds per 100k messages and its
// peak RSS, for each broker.
//
//	go run ./gateway/cmd/ingestbench -devices 1000 -rate 12000 -duration 20s
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/firmware-sim/credentials"
	"github.com/community-edge/edge/firmware-sim/load"
	"github.com/community-edge/edge/gateway/internal/credential"
	"github.com/community-edge/edge/gateway/internal/testenv"
)

const (
	site     = "bench"
	token    = "bench-admin-token-0123456789"
	devPass  = "bench-device-password"
	gwPass   = "bench-gateway-password"
	clkTicks = 100 // USER_HZ on Linux
)

func main() {
	devices := flag.Int("devices", 1000, "device connections")
	rate := flag.Float64("rate", 12000, "target messages/s in total (0: as fast as acknowledged)")
	dur := flag.Duration("duration", 20*time.Second, "how long to send")
	events := flag.Float64("events", 1.0, "fraction of messages that are events (the rest telemetry)")
	brokers := flag.String("brokers", "embedded,mosquitto", "which brokers to measure")
	flag.Parse()
	root, err := repoRoot()
	if err != nil {
		fail(err)
	}
	work, err := os.MkdirTemp("", "ingestbench-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "gateway")
	fmt.Fprintln(os.Stderr, "building the gateway …")
	if out, err := exec.Command("go", "build", "-o", bin, "./gateway/cmd/gateway").CombinedOutput(); err != nil {
		fail(fmt.Errorf("build: %v\n%s", err, out))
	}
	hash, _ := credential.Hash(devPass)
	fmt.Printf("machine: %d cores, %s/%s, %s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, cpuModel())
	fmt.Printf("load: %d devices, target %.0f msg/s, %s, QoS 1, %.0f%% events\n\n", *devices, *rate, *dur, *events*100)
	fmt.Printf("%-10s %10s %10s %10s %8s %14s %12s %12s\n", "broker", "sent", "acked", "accepted", "lost", "rate msg/s", "cpu s/100k", "peak RSS MiB")
	for _, b := range strings.Split(*brokers, ",") {
		r, err := runOne(root, work, bin, b, hash, *devices, *rate, *dur, *events)
		if err != nil {
			fail(fmt.Errorf("%s: %w", b, err))
		}
		fmt.Printf("%-10s %10d %10d %10.0f %8.0f %14.0f %12.2f %12.1f\n", b, r.load.Sent, r.load.Acked, r.stored, r.lost, r.load.Rate(), r.cpuPer100k, r.peakRSSMiB)
	}
}

type result struct {
	load       load.Report
	stored     float64
	lost       float64
	cpuPer100k float64
	peakRSSMiB float64
}

func runOne(root, work, bin, mode, hash string, n int, rate float64, dur time.Duration, events float64) (result, error) {
	dir, _ := os.MkdirTemp(work, mode+"-")
	var ids []string
	fams := drivers.Families()
	for i := 0; i < n; i++ {
		ids = append(ids, fmt.Sprintf("load-%s-%05d", fams[i%len(fams)], i+1))
	}
	var csv strings.Builder
	csv.WriteString("family,id,heartbeat_interval\n")
	for i, id := range ids {
		fmt.Fprintf(&csv, "%s,%s,1h\n", fams[i%len(fams)], id)
	}
	os.WriteFile(filepath.Join(dir, "devices.csv"), []byte(csv.String()), 0o600)
	httpPort, _ := testenv.FreePort()
	brokerAddr := ""
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "site: {code: %s}\ndata_dir: %s\nlog: {level: warn}\n", site, filepath.Join(dir, "data"))
	fmt.Fprintf(&cfg, "http:\n  listen: 127.0.0.1:%d\n  api_tokens: [{name: bench, token: %s, role: admin}]\n", httpPort, token)
	fmt.Fprintf(&cfg, "devices_csv: [devices.csv]\n")
	var mosq *testenv.Mosquitto
	switch mode {
	case "embedded":
		p, _ := testenv.FreePort()
		brokerAddr = fmt.Sprintf("127.0.0.1:%d", p)
		fmt.Fprintf(&cfg, "broker:\n  mode: embedded\n  embedded: {listen: %q}\n", brokerAddr)
	case "mosquitto":
		pw := []string{"gateway:" + mustHash(gwPass)}
		for _, id := range ids {
			pw = append(pw, id+":"+hash)
		}
		var err error
		if mosq, err = testenv.StartMosquitto(root, dir, pw); err != nil {
			return result{}, err
		}
		defer mosq.Stop()
		brokerAddr = mosq.Addr
		fmt.Fprintf(&cfg, "broker:\n  mode: external\n  external: {url: \"tcp://%s\", client_id: gateway-bench, username: gateway, password: %s}\n", brokerAddr, gwPass)
	default:
		return result{}, fmt.Errorf("unknown broker %q", mode)
	}
	// declared devices get the same hash as in Mosquitto's file, so the embedded broker checks it
	cfgText := strings.Replace(cfg.String(), "devices_csv: [devices.csv]\n", "", 1)
	var devYAML strings.Builder
	devYAML.WriteString("devices:\n")
	for i, id := range ids {
		fmt.Fprintf(&devYAML, "  - {id: %s, family: %s, heartbeat_interval: 1h, password_hash: %q}\n", id, fams[i%len(fams)], hash)
	}
	os.WriteFile(filepath.Join(dir, "gateway.yaml"), []byte(cfgText+devYAML.String()), 0o600)

	gw := exec.Command(bin, "run", "-config", filepath.Join(dir, "gateway.yaml"))
	gwLog := &testenv.Buffer{}
	gw.Stdout, gw.Stderr = gwLog, gwLog
	if err := gw.Start(); err != nil {
		return result{}, err
	}
	defer func() { gw.Process.Signal(syscall.SIGTERM); gw.Wait() }()
	api := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	if err := waitHealthy(api, 30*time.Second); err != nil {
		return result{}, fmt.Errorf("%w\n%s", err, gwLog.String())
	}
	if mode == "embedded" {
		testenv.WaitTCP(brokerAddr, 10*time.Second)
	}
	cpu0 := cpuSeconds(gw.Process.Pid)
	gen, err := load.New(load.Config{Broker: "tcp://" + brokerAddr, Site: site, Devices: n, Rate: rate, Duration: dur,
		QoS: 1, EventRatio: events, Credentials: credentials.Shared(devPass)}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return result{}, err
	}
	rep, err := gen.Run(context.Background())
	if err != nil {
		return result{}, err
	}
	// wait for the store to catch up (external broker: acks are the broker's)
	want := float64(rep.Acked)
	var stored float64
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		// events the pipeline took (each is acknowledged only once committed) plus telemetry
		stored = metric(api, `gateway_mqtt_messages_total{kind="event"}`) + metric(api, `gateway_mqtt_messages_total{kind="telemetry"}`)
		if stored >= want && gen != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	cpu := cpuSeconds(gw.Process.Pid) - cpu0
	rss := peakRSSMiB(gw.Process.Pid)
	return result{load: rep, stored: stored, lost: max(0, want-stored), cpuPer100k: cpu / float64(rep.Acked) * 100000, peakRSSMiB: rss}, nil
}

func mustHash(pw string) string {
	h, err := credential.Hash(pw)
	if err != nil {
		fail(err)
	}
	return h
}

func waitHealthy(api string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(api + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("gateway not healthy after %s", d)
}

// metric reads one sample (name with its labels, exactly as exposed) from /metrics.
func metric(api, sample string) float64 {
	req, _ := http.NewRequest("GET", api+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok && k == sample {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

func cpuSeconds(pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / clkTicks
}

func peakRSSMiB(pid int) float64 {
	raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func cpuModel() string {
	raw, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "unknown cpu"
}

func repoRoot() (string, error) {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "configs", "mosquitto", "mosquitto.conf")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("run from inside the repository")
		}
		dir = parent
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ingestbench:", err)
	os.Exit(1)
}
