// Command tsdbbench measures the time series path end to end: simulated devices on real MQTT
// connections → Mosquitto with the shipped config → the gateway process → a real InfluxDB
// (influxd 1.8). It reports the sustained message rate, points per second, loss (points the
// broker acknowledged that are not in InfluxDB), the gateway's CPU seconds per 100k messages
// and its peak RSS. When a telegraf binary is found (PATH or $(go env GOPATH)/bin; build it
// with go install -tags "custom,inputs.mqtt_consumer,outputs.influxdb_v2,parsers.json_v2"
// github.com/influxdata/telegraf/cmd/telegraf@v1.37.2) it runs Telegraf on the same load,
// writing the same schema, and prints both in one table.
//
//	go run ./gateway/cmd/tsdbbench -devices 1000 -rate 12000 -duration 20s
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/community-edge/edge/firmware-sim/credentials"
	"github.com/community-edge/edge/firmware-sim/load"
	"github.com/community-edge/edge/gateway/internal/testenv"
)

// bench is one benchmark invocation's settings.
type bench struct {
	root, work, gatewayBin, telegrafBin string
	devices                             int
	rate                                float64
	dur                                 time.Duration
	events                              float64
	fleet                               testenv.Fleet
}

// result is one system's figures.
type result struct {
	load       load.Report
	want       int64         // distinct points the load made (series and time)
	points     int64         // in InfluxDB
	lost       int64         // acknowledged by the broker, not in InfluxDB
	until      time.Duration // from the first message to the last point in InfluxDB
	cpuPer100k float64
	peakRSSMiB float64
}

func main() {
	b := bench{}
	flag.IntVar(&b.devices, "devices", 1000, "device connections")
	flag.Float64Var(&b.rate, "rate", 12000, "target messages/s in total (0: as fast as acknowledged)")
	flag.DurationVar(&b.dur, "duration", 20*time.Second, "how long to send")
	flag.Float64Var(&b.events, "events", 0.05, "fraction of messages that are events (the rest telemetry)")
	systems := flag.String("systems", "gateway,telegraf", "what to measure: gateway, telegraf")
	flag.StringVar(&b.telegrafBin, "telegraf", "", "telegraf binary (default: found on PATH or in $(go env GOPATH)/bin)")
	witness := flag.String("witness", "", "internal: run as the witness subscriber of this broker")
	flag.Parse()
	if *witness != "" {
		runWitness(*witness)
		return
	}
	var err error
	if b.root, err = testenv.RepoRoot(); err != nil {
		fail(err)
	}
	if b.work, err = os.MkdirTemp("", "tsdbbench-"); err != nil {
		fail(err)
	}
	defer os.RemoveAll(b.work)
	fmt.Fprintln(os.Stderr, "building the gateway …")
	if b.gatewayBin, err = testenv.BuildGateway(b.root, b.work); err != nil {
		fail(err)
	}
	if b.telegrafBin == "" {
		b.telegrafBin = findTelegraf()
	}
	if b.fleet, err = testenv.NewFleet(b.devices); err != nil {
		fail(err)
	}

	fmt.Printf("machine: %s\n", testenv.Machine())
	fmt.Printf("load: %d devices, target %.0f msg/s, %s, QoS 1, %.0f%% events; Mosquitto → system → influxd 1.8.10\n\n",
		b.devices, b.rate, b.dur, b.events*100)
	fmt.Printf("%-9s %9s %9s %9s %9s %7s %10s %10s %11s %12s\n", "system", "sent", "acked", "distinct", "in influx", "lost", "msg/s", "points/s", "cpu s/100k", "peak RSS MiB")
	for _, s := range strings.Split(*systems, ",") {
		if s == "telegraf" && b.telegrafBin == "" {
			fmt.Printf("%-9s not found: go install -tags \"custom,inputs.mqtt_consumer,outputs.influxdb_v2,parsers.json_v2\" github.com/influxdata/telegraf/cmd/telegraf@v1.37.2\n", s)
			continue
		}
		r, err := b.run(s)
		if err != nil {
			fail(fmt.Errorf("%s: %w", s, err))
		}
		fmt.Printf("%-9s %9d %9d %9d %9d %7d %10.0f %10.0f %11.2f %12.1f\n", s, r.load.Sent, r.load.Acked, r.want, r.points, r.lost,
			r.load.Rate(), float64(r.points)/r.until.Seconds(), r.cpuPer100k, r.peakRSSMiB)
	}
}

func findTelegraf() string {
	if p, err := exec.LookPath("telegraf"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "telegraf")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// run measures one system on a fresh Mosquitto and a fresh influxd.
func (b *bench) run(system string) (result, error) {
	dir, err := os.MkdirTemp(b.work, system+"-")
	if err != nil {
		return result{}, err
	}
	influxDir := filepath.Join(dir, "influx")
	os.Mkdir(influxDir, 0o700)
	in, err := testenv.StartInflux(influxDir)
	if err != nil {
		return result{}, err
	}
	defer in.Stop()
	mosq, err := testenv.StartMosquitto(b.root, dir, b.fleet.Passwd())
	if err != nil {
		return result{}, err
	}
	defer mosq.Stop()

	var pid int
	var diag func() string
	switch system {
	case "gateway":
		gw, err := b.startGateway(dir, mosq.Addr, in.URL)
		if err != nil {
			return result{}, err
		}
		defer gw.Stop()
		pid = gw.Pid()
		diag = func() string {
			return fmt.Sprintf("gateway: received %.0f telemetry + %.0f events; tsdb spooled %.0f, written %.0f, dropped %.0f; broker reported dropped %.0f",
				gw.Metric(`gateway_mqtt_messages_total{kind="telemetry"}`), gw.Metric(`gateway_mqtt_messages_total{kind="event"}`),
				gw.Metric(`gateway_tsdb_points_spooled_total{spool="telemetry"}`)+gw.Metric(`gateway_tsdb_points_spooled_total{spool="events"}`),
				gw.Metric(`gateway_tsdb_points_written_total{spool="telemetry"}`)+gw.Metric(`gateway_tsdb_points_written_total{spool="events"}`),
				gw.Metric(`gateway_tsdb_points_dropped_total{reason="rejected",spool="telemetry"}`)+gw.Metric(`gateway_tsdb_points_dropped_total{reason="spool_full",spool="telemetry"}`), gw.Metric(`gateway_broker_reported_dropped`))
		}
	case "telegraf":
		cmd, err := b.startTelegraf(dir, mosq.Addr, in.URL)
		if err != nil {
			return result{}, err
		}
		defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
		pid = cmd.Process.Pid
	default:
		return result{}, fmt.Errorf("unknown system %q", system)
	}

	wit, err := startWitnessProc(mosq.Addr)
	if err != nil {
		return result{}, err
	}
	defer wit.stop()
	cpu0 := testenv.CPUSeconds(pid)
	gen, err := load.New(load.Config{Broker: "tcp://" + mosq.Addr, Site: testenv.BenchSite, Devices: b.devices, Rate: b.rate, Duration: b.dur,
		QoS: 1, EventRatio: b.events, Credentials: credentials.Shared(testenv.BenchDevicePassword)}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	rep, err := gen.Run(context.Background())
	if err != nil {
		return result{}, err
	}
	// The load stamps messages with the sending millisecond, so a device catching up after a
	// late tick sends some with the same ts: InfluxDB keeps one point per series and time.
	// The witness, a third subscriber, counts the distinct points the load really made.
	want, err := wit.wait(rep.Acked, 120*time.Second)
	if err != nil {
		return result{}, err
	}
	// wait until every distinct point is in InfluxDB, or nothing arrives for 20 s
	var got int64
	last, lastChange := int64(-1), time.Now()
	until := time.Since(start)
	for time.Since(lastChange) < 20*time.Second {
		if got, err = countPoints(in.URL); err != nil {
			return result{}, err
		}
		if got != last {
			last, lastChange, until = got, time.Now(), time.Since(start)
		}
		if got >= want {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	cpu := testenv.CPUSeconds(pid) - cpu0
	if diag != nil && got < want {
		fmt.Fprintln(os.Stderr, diag())
	}
	return result{load: rep, want: want, points: got, lost: max(0, want-got), until: until,
		cpuPer100k: cpu / float64(rep.Acked) * 100000, peakRSSMiB: testenv.PeakRSSMiB(pid)}, nil
}

func (b *bench) startGateway(dir, broker, influxURL string) (*testenv.Gateway, error) {
	httpPort, err := testenv.FreePort()
	if err != nil {
		return nil, err
	}
	var cfg strings.Builder
	cfg.WriteString(testenv.BaseYAML(filepath.Join(dir, "data"), httpPort))
	cfg.WriteString(testenv.ExternalBrokerYAML(broker))
	fmt.Fprintf(&cfg, "influx: {url: %q, bucket: %q, token: %q}\n", influxURL, testenv.InfluxBucket, testenv.InfluxToken)
	cfg.WriteString("devices:\n" + b.fleet.DeviceItems())
	path := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		return nil, err
	}
	gw, err := testenv.StartGateway(b.gatewayBin, path, fmt.Sprintf("http://127.0.0.1:%d", httpPort), testenv.BenchToken)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(20 * time.Second)
	for gw.Metric("gateway_broker_connected") != 1 {
		if time.Now().After(deadline) {
			gw.Stop()
			return nil, fmt.Errorf("gateway not connected to Mosquitto:\n%s", gw.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return gw, nil
}

// telegrafConf writes the design's schema with Telegraf's MQTT consumer and json_v2 parser:
// telemetry as measurement = family with tags site, device, port and one float field per
// metric; events as device_event with tags site, family, device, type and field id. Telegraf
// acknowledges a message only once written, so max_undelivered_messages (default 1000) caps it
// at that many messages per flush: it is raised to two batches.
const telegrafConf = `[agent]
  interval = "10s"
  flush_interval = "1s"
  metric_batch_size = 5000
  metric_buffer_limit = 1000000
  omit_hostname = true

[[outputs.influxdb_v2]]
  urls = ["{{influx}}"]
  token = "{{token}}"
  organization = "bench"
  bucket = "{{bucket}}"

[[inputs.mqtt_consumer]]
  servers = ["tcp://{{broker}}"]
  topics = ["community/+/+/+/telemetry"]
  qos = 1
  persistent_session = true
  client_id = "telegraf-telemetry"
  max_undelivered_messages = 10000
  username = "gateway"
  password = "{{password}}"
  data_format = "json_v2"
  [[inputs.mqtt_consumer.topic_parsing]]
    topic = "community/+/+/+/telemetry"
    measurement = "_/_/measurement/_/_"
    tags = "_/site/_/device/_"
  [[inputs.mqtt_consumer.json_v2]]
    timestamp_path = "ts"
    timestamp_format = "unix_ms"
    [[inputs.mqtt_consumer.json_v2.tag]]
      path = "port"
      optional = true
{{fields}}
[[inputs.mqtt_consumer]]
  servers = ["tcp://{{broker}}"]
  topics = ["community/+/+/+/event"]
  qos = 1
  persistent_session = true
  client_id = "telegraf-events"
  max_undelivered_messages = 10000
  username = "gateway"
  password = "{{password}}"
  data_format = "json_v2"
  [[inputs.mqtt_consumer.topic_parsing]]
    topic = "community/+/+/+/event"
    tags = "_/site/family/device/_"
  [[inputs.mqtt_consumer.json_v2]]
    measurement_name = "device_event"
    timestamp_path = "ts"
    timestamp_format = "unix_ms"
    [[inputs.mqtt_consumer.json_v2.tag]]
      path = "type"
    [[inputs.mqtt_consumer.json_v2.field]]
      path = "id"
      type = "string"
`

var metrics = []string{"battery_pct", "rssi_dbm", "temperature_c", "humidity_pct", "occupied", "total",
	"power_w", "voltage_v", "current_a", "temp_c", "energy_wh"}

func (b *bench) startTelegraf(dir, broker, influxURL string) (*exec.Cmd, error) {
	var fields strings.Builder
	for _, m := range metrics {
		fmt.Fprintf(&fields, "    [[inputs.mqtt_consumer.json_v2.field]]\n      path = \"metrics.%s\"\n      rename = %q\n      type = \"float\"\n      optional = true\n", m, m)
	}
	conf := strings.NewReplacer("{{influx}}", influxURL, "{{token}}", testenv.InfluxToken, "{{bucket}}", testenv.InfluxBucket,
		"{{broker}}", broker, "{{password}}", testenv.BenchGatewayPassword, "{{fields}}", fields.String()).Replace(telegrafConf)
	path := filepath.Join(dir, "telegraf.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	log := &testenv.Buffer{}
	cmd := exec.Command(b.telegrafBin, "--config", path)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(log.String(), "Connected [tcp://") < 2 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("telegraf did not connect to Mosquitto:\n%s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return cmd, nil
}

// countPoints counts the load's points in InfluxDB: telemetry reports (by a field every
// report of its family has) and device events (without the gateway's own online/offline).
func countPoints(influxURL string) (int64, error) {
	var n int64
	for _, q := range []string{
		`SELECT count(battery_pct) FROM callbutton`,
		`SELECT count(temperature_c) FROM locker`,
		`SELECT count(power_w) FROM charger`,
		`SELECT count(id) FROM device_event WHERE "type" != 'device_online' AND "type" != 'device_offline'`,
	} {
		c, err := influxQLCount(influxURL, q)
		if err != nil {
			return 0, err
		}
		n += c
	}
	return n, nil
}

func influxQLCount(influxURL, q string) (int64, error) {
	resp, err := http.PostForm(influxURL+"/query", url.Values{"db": {testenv.InfluxDB}, "rp": {testenv.InfluxRP}, "q": {q}})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out struct {
		Results []struct {
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
			Error string `json:"error"`
		} `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, fmt.Errorf("influx query %q: %w", q, err)
	}
	var n int64
	for _, r := range out.Results {
		if r.Error != "" {
			return 0, fmt.Errorf("influx query %q: %s", q, r.Error)
		}
		for _, s := range r.Series {
			for _, v := range s.Values {
				if len(v) > 1 {
					if f, ok := v[1].(float64); ok {
						n += int64(f)
					}
				}
			}
		}
	}
	return n, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "tsdbbench:", err)
	os.Exit(1)
}
