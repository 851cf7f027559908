// Command alarmbench measures the life-safety path end to end: a simulated call button
// publishes an SOS through a real Mosquitto; the gateway stores the event and raises the alarm
// durably; the alarm arrives on the duty console's Server-Sent Events stream. It reports
// p50/p99/max over many alarms while a background load of telemetry runs through the same
// broker, then resolves each alarm so every SOS raises a new one.
//
//	go run ./gateway/cmd/alarmbench -alarms 1000 -telemetry 2000
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/community-edge/edge/firmware-sim/credentials"
	"github.com/community-edge/edge/firmware-sim/load"
	"github.com/community-edge/edge/gateway/internal/testenv"
)

// buttons is how many call buttons take turns pressing SOS.
const buttons = 50

func main() {
	alarms := flag.Int("alarms", 1000, "SOS alarms to measure")
	telemetry := flag.Float64("telemetry", 2000, "background telemetry, messages/s")
	loadDevs := flag.Int("load-devices", 200, "devices sending the background telemetry")
	flag.Parse()
	if err := run(*alarms, *telemetry, *loadDevs); err != nil {
		fmt.Fprintln(os.Stderr, "alarmbench:", err)
		os.Exit(1)
	}
}

func run(nAlarms int, telRate float64, nLoad int) error {
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "alarmbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	fmt.Fprintln(os.Stderr, "building the gateway …")
	bin, err := testenv.BuildGateway(root, work)
	if err != nil {
		return err
	}
	// devices: call buttons for the SOS, and the load generator's fleet for telemetry
	fleet, err := testenv.NewFleet(nLoad)
	if err != nil {
		return err
	}
	var cfg strings.Builder
	pw := fleet.Passwd()
	cfg.WriteString("devices:\n" + fleet.DeviceItems())
	for i := 1; i <= buttons; i++ {
		id := fmt.Sprintf("cb-%04d", i)
		fmt.Fprintf(&cfg, "  - {id: %s, family: callbutton, heartbeat_interval: 1h, password_hash: %q, resident: {name: 住户%d, age: 80, lives_alone: true}}\n", id, fleet.Hash, i)
		pw = append(pw, id+":"+fleet.Hash)
	}
	mosq, err := testenv.StartMosquitto(root, work, pw)
	if err != nil {
		return err
	}
	defer mosq.Stop()
	port, _ := testenv.FreePort()
	api := fmt.Sprintf("http://127.0.0.1:%d", port)
	head := testenv.BaseYAML(filepath.Join(work, "data"), port) + testenv.ExternalBrokerYAML(mosq.Addr)
	cfgPath := filepath.Join(work, "gateway.yaml")
	if err := os.WriteFile(cfgPath, []byte(head+cfg.String()), 0o600); err != nil {
		return err
	}
	gw, err := testenv.StartGateway(bin, cfgPath, api, testenv.BenchToken)
	if err != nil {
		return err
	}
	defer gw.Stop()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes, err := subscribe(ctx, gw)
	if err != nil {
		return err
	}
	var clients []paho.Client
	for i := 1; i <= buttons; i++ {
		id := fmt.Sprintf("cb-%04d", i)
		c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + mosq.Addr).SetClientID(id).SetUsername(id).
			SetPassword(testenv.BenchDevicePassword).SetCleanSession(false))
		if tok := c.Connect(); tok.Wait() && tok.Error() != nil {
			return fmt.Errorf("%s: %w", id, tok.Error())
		}
		defer c.Disconnect(100)
		clients = append(clients, c)
	}
	// background telemetry for the whole run
	gen, err := load.New(load.Config{Broker: "tcp://" + mosq.Addr, Site: testenv.BenchSite, Devices: nLoad, Rate: telRate,
		Duration: time.Hour, QoS: 1, EventRatio: 0, Credentials: credentials.Shared(testenv.BenchDevicePassword)},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	loadDone := make(chan load.Report, 1)
	go func() { r, _ := gen.Run(loadCtx); loadDone <- r }()
	time.Sleep(3 * time.Second) // let the load reach its rate
	tel0 := gw.Metric(`gateway_mqtt_messages_total{kind="telemetry"}`)
	t0 := time.Now()

	lat := make([]time.Duration, 0, nAlarms)
	for i := 0; i < nAlarms; i++ {
		n := i % buttons
		dev := fmt.Sprintf("cb-%04d", n+1)
		payload := fmt.Sprintf(`{"id":"bench-%d","ts":%d,"type":"sos","data":{"source":"pendant"}}`, i, time.Now().UnixMilli())
		start := time.Now()
		clients[n].Publish(fmt.Sprintf("community/%s/callbutton/%s/event", testenv.BenchSite, dev), 1, false, payload)
		var got change
		for {
			select {
			case got = <-changes:
			case <-time.After(10 * time.Second):
				return fmt.Errorf("alarm %d of %s not seen on the stream within 10 s", i, dev)
			}
			if got.Kind == "raised" && got.Alarm.Device == dev && got.Alarm.Type == "sos" {
				break
			}
		}
		lat = append(lat, time.Since(start))
		resp, err := gw.Do("POST", "/api/v1/alarms/"+got.Alarm.ID+"/resolve", `{"outcome":"false_alarm","note":"bench"}`)
		if err != nil || resp.StatusCode != 200 {
			return fmt.Errorf("resolve %s: %v %v", got.Alarm.ID, err, resp.Status)
		}
		resp.Body.Close()
	}
	el := time.Since(t0)
	telRateSeen := (gw.Metric(`gateway_mqtt_messages_total{kind="telemetry"}`) - tel0) / el.Seconds()
	stopLoad()
	rep := <-loadDone
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Printf("machine: %s\n", testenv.Machine())
	fmt.Printf("SOS → alarm on the SSE stream, through Mosquitto, stored durably (fsync) before it is announced\n")
	fmt.Printf("alarms %d, background telemetry %.0f msg/s received by the gateway (load generator: %s)\n", len(lat), telRateSeen, rep)
	fmt.Printf("latency p50 %.1f ms   p90 %.1f ms   p99 %.1f ms   max %.1f ms\n", ms(pct(0.5)), ms(pct(0.9)), ms(pct(0.99)), ms(lat[len(lat)-1]))
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type change struct {
	Kind  string `json:"kind"`
	Alarm struct {
		ID     string `json:"id"`
		Device string `json:"device"`
		Type   string `json:"type"`
	} `json:"alarm"`
}

// subscribe opens the alarm stream and delivers its alarm events.
func subscribe(ctx context.Context, gw *testenv.Gateway) (<-chan change, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", gw.API+"/api/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+gw.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("stream: %s", resp.Status)
	}
	out := make(chan change, 1024)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "alarm":
				var c change
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &c) == nil {
					out <- c
				}
			case line == "":
				event = ""
			}
		}
	}()
	return out, nil
}
