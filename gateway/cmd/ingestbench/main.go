// Command ingestbench measures the gateway's ingest path end to end: simulated devices on real
// MQTT connections → a real broker (the embedded one, or Mosquitto with the shipped config) →
// the gateway process → durable SQLite store. It reports the sustained rate (the devices'
// acknowledged messages per second, and events committed per second from the first message
// sent until the gateway has committed the last and acknowledged it to the broker), loss
// (messages the broker acknowledged to the devices that the gateway never committed within a
// minute of the end), the gateway's CPU seconds per 100k messages and its
// resident memory (its median over the second half of the run, with every device connected,
// and its peak), for each broker.
//
//	go run ./gateway/cmd/ingestbench -devices 1000 -rate 12000 -duration 20s
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/community-edge/edge/firmware-sim/credentials"
	"github.com/community-edge/edge/firmware-sim/load"
	"github.com/community-edge/edge/gateway/internal/testenv"
)

func main() {
	devices := flag.Int("devices", 1000, "device connections")
	rate := flag.Float64("rate", 12000, "target messages/s in total (0: as fast as acknowledged)")
	dur := flag.Duration("duration", 20*time.Second, "how long to send")
	events := flag.Float64("events", 1.0, "fraction of messages that are events (the rest telemetry)")
	brokers := flag.String("brokers", "embedded,mosquitto", "which brokers to measure")
	flag.Parse()
	root, err := testenv.RepoRoot()
	if err != nil {
		fail(err)
	}
	work, err := os.MkdirTemp("", "ingestbench-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(work)
	fmt.Fprintln(os.Stderr, "building the gateway …")
	bin, err := testenv.BuildGateway(root, work)
	if err != nil {
		fail(err)
	}
	fleet, err := testenv.NewFleet(*devices)
	if err != nil {
		fail(err)
	}
	fmt.Printf("machine: %s\n", testenv.Machine())
	fmt.Printf("load: %d devices, target %.0f msg/s, %s, QoS 1, %.0f%% events\n\n", *devices, *rate, *dur, *events*100)
	fmt.Printf("%-10s %10s %10s %10s %8s %14s %10s %12s %12s %12s\n", "broker", "sent", "acked", "committed", "lost", "rate msg/s", "events/s", "cpu s/100k", "RSS MiB", "peak RSS MiB")
	for _, b := range strings.Split(*brokers, ",") {
		r, err := runOne(root, work, bin, b, fleet, *rate, *dur, *events)
		if err != nil {
			fail(fmt.Errorf("%s: %w", b, err))
		}
		fmt.Printf("%-10s %10d %10d %10.0f %8.0f %14.0f %10.0f %12.2f %12.1f %12.1f\n", b, r.load.Sent, r.load.Acked, r.stored, r.lost, r.load.Rate(), r.storedRate, r.cpuPer100k, r.rssMiB, r.peakRSSMiB)
	}
}

type result struct {
	load       load.Report
	stored     float64
	lost       float64
	cpuPer100k float64
	storedRate float64 // events committed per second, from the first message sent to the last taken
	rssMiB     float64 // median over the second half of the sending
	peakRSSMiB float64
}

// sampleRSS reads a process's resident memory every second until stop is closed, and returns
// the median of the samples of the second half.
func sampleRSS(pid int, stop <-chan struct{}) <-chan float64 {
	out := make(chan float64, 1)
	go func() {
		var xs []float64
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for done := false; !done; {
			select {
			case <-t.C:
				xs = append(xs, testenv.RSSMiB(pid))
			case <-stop:
				done = true
			}
		}
		xs = xs[len(xs)/2:]
		slices.Sort(xs)
		if len(xs) == 0 {
			out <- testenv.RSSMiB(pid)
			return
		}
		out <- xs[len(xs)/2]
	}()
	return out
}

func runOne(root, work, bin, mode string, fleet testenv.Fleet, rate float64, dur time.Duration, events float64) (result, error) {
	dir, _ := os.MkdirTemp(work, mode+"-")
	httpPort, _ := testenv.FreePort()
	cfg := testenv.BaseYAML(filepath.Join(dir, "data"), httpPort)
	var brokerAddr string
	switch mode {
	case "embedded":
		p, _ := testenv.FreePort()
		brokerAddr = fmt.Sprintf("127.0.0.1:%d", p)
		cfg += fmt.Sprintf("broker:\n  mode: embedded\n  embedded: {listen: %q}\n", brokerAddr)
	case "mosquitto":
		mosq, err := testenv.StartMosquitto(root, dir, fleet.Passwd())
		if err != nil {
			return result{}, err
		}
		defer mosq.Stop()
		brokerAddr = mosq.Addr
		cfg += testenv.ExternalBrokerYAML(brokerAddr)
	default:
		return result{}, fmt.Errorf("unknown broker %q", mode)
	}
	// declared devices have the same hash as Mosquitto's file, so the embedded broker checks it
	cfg += "devices:\n" + fleet.DeviceItems()
	os.WriteFile(filepath.Join(dir, "gateway.yaml"), []byte(cfg), 0o600)

	gw, err := testenv.StartGateway(bin, filepath.Join(dir, "gateway.yaml"), fmt.Sprintf("http://127.0.0.1:%d", httpPort), testenv.BenchToken)
	if err != nil {
		return result{}, err
	}
	defer gw.Stop()
	if mode == "embedded" {
		testenv.WaitTCP(brokerAddr, 10*time.Second)
	}
	cpu0 := testenv.CPUSeconds(gw.Pid())
	start := time.Now()
	gen, err := load.New(load.Config{Broker: "tcp://" + brokerAddr, Site: testenv.BenchSite, Devices: len(fleet.Members), Rate: rate, Duration: dur,
		QoS: 1, EventRatio: events, Credentials: credentials.Shared(testenv.BenchDevicePassword)}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return result{}, err
	}
	stopRSS := make(chan struct{})
	rssc := sampleRSS(gw.Pid(), stopRSS)
	rep, err := gen.Run(context.Background())
	close(stopRSS)
	rssMiB := <-rssc
	if err != nil {
		return result{}, err
	}
	// wait for the store to catch up (external broker: the devices' acks are the broker's)
	want := float64(rep.Acked)
	var stored float64
	deadline := time.Now().Add(60 * time.Second)
	var caughtUp time.Duration // from the first message sent to the last event committed
	for time.Now().Before(deadline) {
		// events committed (each acknowledged to the broker after its transaction) plus
		// telemetry taken (acknowledged once written or spooled)
		stored = gw.Metric("gateway_events_acknowledged_total") + gw.Metric(`gateway_mqtt_messages_total{kind="telemetry"}`)
		caughtUp = time.Since(start)
		if stored >= want {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	cpu := testenv.CPUSeconds(gw.Pid()) - cpu0
	rss := testenv.PeakRSSMiB(gw.Pid())
	return result{load: rep, stored: stored, lost: max(0, want-stored), cpuPer100k: cpu / float64(rep.Acked) * 100000, rssMiB: rssMiB, peakRSSMiB: rss,
		storedRate: gw.Metric("gateway_events_acknowledged_total") / caughtUp.Seconds()}, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ingestbench:", err)
	os.Exit(1)
}
