package e2e

import (
	"context"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/community-edge/edge/gateway/internal/testenv"
)

// influxValues returns the values of one field of one device in time order.
func influxValues(t *testing.T, in *testenv.Influx, measurement, device, field string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	text, err := in.FluxCSV(ctx, fmt.Sprintf(`from(bucket: %q) |> range(start: 2000-01-01T00:00:00Z)
  |> filter(fn: (r) => r._measurement == %q and r.site == %q and r.device == %q and r._field == %q)
  |> sort(columns: ["_time"]) |> keep(columns: ["_value"])`, testenv.InfluxBucket, measurement, site, device, field))
	if err != nil {
		t.Fatal(err)
	}
	rd := csv.NewReader(strings.NewReader(text))
	rd.FieldsPerRecord = -1
	recs, _ := rd.ReadAll()
	var vals []string
	for _, r := range recs {
		if len(r) > 1 && r[0] == "" && r[len(r)-1] != "_value" {
			vals = append(vals, r[len(r)-1])
		}
	}
	return vals
}

// TestTSDBSpoolSurvivesSIGKILL: with InfluxDB away the gateway spools telemetry and
// acknowledges it; SIGKILLed and restarted, with InfluxDB back, every acknowledged point
// arrives once, in order; so do the events and the alarm they raised.
func TestTSDBSpoolSurvivesSIGKILL(t *testing.T) {
	in, err := testenv.StartInflux(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer in.Stop()
	in.Stop() // away: the gateway must spool

	devs := fleet()
	env := &brokerEnv{mode: "embedded"}
	g := newGateway(t, env, devs, fmt.Sprintf("influx:\n  url: %s\n  bucket: %s\n  token: %s\n  flush_interval: 50ms\n  timeout: 1s\n",
		in.URL, testenv.InfluxBucket, testenv.InfluxToken))
	ch := mustConnect(t, env.addr, devs[3], false)
	cb := mustConnect(t, env.addr, devs[0], false)
	const n = 300
	base := time.Now().Add(-time.Hour).UnixMilli()
	for i := 0; i < n; i++ {
		// the embedded broker acknowledges each publish only once the gateway has spooled it
		ch.publish("telemetry", fmt.Sprintf(`{"ts":%d,"port":1,"metrics":{"power_w":%d,"temp_c":30}}`, base+int64(i), i), false)
	}
	cb.publish("event", fmt.Sprintf(`{"id":"sos-kill-1","ts":%d,"type":"sos","data":{"source":"pendant"}}`, base+n), false)
	g.waitStored(devs[0].ID, "sos-kill-1")
	if up := g.metric("gateway_tsdb_influx_up", ""); up != 0 {
		t.Errorf("gateway_tsdb_influx_up = %v while InfluxDB is stopped", up)
	}
	if b := g.metric("gateway_tsdb_spool_bytes", `spool="telemetry"`); b == 0 {
		t.Error("nothing in the telemetry spool")
	}

	g.stop(syscall.SIGKILL)
	if err := in.Start(); err != nil {
		t.Fatal(err)
	}
	g.start()

	eventually(t, 30*time.Second, func() (bool, string) {
		got := influxValues(t, in, "charger", devs[3].ID, "power_w")
		return len(got) >= n, fmt.Sprintf("%d of %d points in InfluxDB", len(got), n)
	})
	got := influxValues(t, in, "charger", devs[3].ID, "power_w")
	if len(got) != n {
		t.Fatalf("%d points, want %d", len(got), n)
	}
	for i, v := range got {
		if v != strconv.Itoa(i) {
			t.Fatalf("point %d is %s: lost, duplicated or out of order", i, v)
		}
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		ev := influxValues(t, in, "device_event", devs[0].ID, "id")
		for _, id := range ev {
			if id == "sos-kill-1" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("event not in InfluxDB: %v", ev)
	})

	// the alarm the SOS raised, as an alarm state change
	eventually(t, 10*time.Second, func() (bool, string) {
		st := influxValues(t, in, "alarm", devs[0].ID, "state")
		return len(st) > 0 && st[0] == "raised", fmt.Sprintf("alarm states in InfluxDB: %v", st)
	})
	// the console's chart query
	var series struct {
		Every  string `json:"every"`
		Series []struct {
			Port   int          `json:"port"`
			Points [][2]float64 `json:"points"`
		} `json:"series"`
	}
	path := fmt.Sprintf("/api/v1/devices/%s/series?metric=power_w&from=%d&to=%d", devs[3].ID, base, base+n)
	if code := g.get(path, &series); code != 200 || len(series.Series) != 1 || series.Series[0].Port != 1 || len(series.Series[0].Points) != n {
		t.Errorf("GET %s: %d %+v", path, code, series)
	}
	if code := g.get(fmt.Sprintf("/api/v1/devices/%s/series?metric=power_w&from=%d", devs[3].ID, base-30*24*3600*1000), &series); code != 200 || series.Every == "" {
		t.Errorf("a 30-day range: %d, every %q (want downsampled)", code, series.Every)
	}
	if code := g.get("/api/v1/devices/nope/series?metric=power_w", nil); code != 404 {
		t.Errorf("unknown device: %d", code)
	}
}
