package e2e

import (
	"database/sql"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// TestBacklogThroughMosquittoArrivesOnce: while the gateway is stopped, 40 devices publish
// 20,000 events that Mosquitto queues for the gateway's session (twenty times its in-flight
// window, more than the gateway holds un-acknowledged); the gateway starts and, while it works
// through them, the devices publish 10,000 more and then all drop off at once (their last
// wills on top). Every event the broker acknowledged to a device is stored exactly once.
func TestBacklogThroughMosquittoArrivesOnce(t *testing.T) {
	const devices, before, during = 40, 500, 250
	var lockers []testDevice
	for i := range devices {
		id := fmt.Sprintf("lk-b%03d", i)
		lockers = append(lockers, testDevice{ID: id, Family: "locker", Password: id + "-password", Heartbeat: "60s"})
	}
	env := startMosquitto(t, fleet(), lockers...)
	gw := newGateway(t, env, append(fleet(), lockers...), "")
	devs := make([]*dev, devices)
	for i, d := range lockers {
		devs[i] = mustConnect(t, env.addr, d, false)
	}
	gw.stop(syscall.SIGTERM)

	publish := func(from, n int) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, devices)
		for _, dv := range devs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				toks := make([]paho.Token, 0, n)
				for k := from; k < from+n; k++ {
					p := fmt.Sprintf(`{"id":"bl-%d","ts":%s,"type":"door_opened","data":{"compartment":"A%d"}}`, k, now(), k%40)
					toks = append(toks, dv.client.Publish(topic(dv.d, "event"), 1, false, p))
				}
				for _, tok := range toks {
					if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
						errs <- fmt.Errorf("%s: not acknowledged by the broker: %v", dv.d.ID, tok.Error())
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	publish(0, before) // queued by Mosquitto for the stopped gateway
	gw.start()
	publish(before, during) // while the gateway works through the backlog
	for _, dv := range devs {
		dv.killHard()
	}

	want := float64(devices * (before + during))
	eventually(t, 90*time.Second, func() (bool, string) {
		n := gw.metric("gateway_events_acknowledged_total", "")
		return n >= want, fmt.Sprintf("%.0f of %.0f events committed", n, want)
	})
	gw.stop(syscall.SIGTERM)
	db, err := sql.Open("sqlite", "file:"+daemonDB(gw.cfgPath)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, distinct, devicesSeen int
	if err := db.QueryRow(`SELECT count(*), count(DISTINCT device_id || '/' || event_id), count(DISTINCT device_id)
		FROM events WHERE device_id LIKE 'lk-b%' AND type = 'door_opened'`).Scan(&rows, &distinct, &devicesSeen); err != nil {
		t.Fatal(err)
	}
	if rows != int(want) || distinct != rows || devicesSeen != devices {
		t.Fatalf("stored %d events (%d distinct) from %d devices, want each of the %.0f acknowledged once from %d devices",
			rows, distinct, devicesSeen, want, devices)
	}
	t.Logf("%d events from %d devices stored once each", rows, devicesSeen)
}
