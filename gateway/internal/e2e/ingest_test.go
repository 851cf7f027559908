// Package e2e tests the gateway binary end to end: a real gateway process, real MQTT brokers
// (the embedded one and a Mosquitto started by the test with the shipped configuration), and
// devices on real MQTT connections.
package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// modes runs a test against the embedded broker and against Mosquitto.
func modes(t *testing.T, f func(t *testing.T, env func(t *testing.T, extra ...testDevice) *brokerEnv)) {
	t.Run("embedded", func(t *testing.T) {
		f(t, func(t *testing.T, extra ...testDevice) *brokerEnv { return &brokerEnv{mode: "embedded"} })
	})
	t.Run("mosquitto", func(t *testing.T) {
		f(t, func(t *testing.T, extra ...testDevice) *brokerEnv { return startMosquitto(t, fleet(), extra...) })
	})
}

func sosPayload(id string) string {
	return fmt.Sprintf(`{"id":%q,"ts":%s,"type":"sos","data":{"source":"pendant"}}`, id, now())
}

func TestDevicesOnlineEventsAndOffline(t *testing.T) {
	modes(t, func(t *testing.T, mkEnv func(*testing.T, ...testDevice) *brokerEnv) {
		env := mkEnv(t)
		gw := newGateway(t, env, fleet(), "")
		f := fleet()
		cb := mustConnect(t, env.addr, f[0], false)
		lk := mustConnect(t, env.addr, f[2], true)
		ch := mustConnect(t, env.addr, f[3], true)

		eventually(t, 5*time.Second, func() (bool, string) {
			s := gw.device("cb-0001").Device.Health.State
			return s == "online", "cb-0001 is " + s
		})
		cb.publish("telemetry", `{"ts":`+now()+`,"metrics":{"battery_pct":87,"rssi_dbm":-71}}`, false)
		cb.publish("event", sosPayload("sos-1"), false)
		lk.publish("event", `{"id":"lk-ev-1","ts":`+now()+`,"type":"door_opened","data":{"compartment":"A12"}}`, false)
		ch.publish("telemetry", `{"ts":`+now()+`,"port":1,"metrics":{"power_w":6800,"voltage_v":229.5,"current_a":29.6,"temp_c":41.5,"energy_wh":1200}}`, false)
		ch.publish("event", `{"id":"ch-ev-1","ts":`+now()+`,"type":"fault","data":{"port":1,"code":"HighTemperature","vendor_code":"E21"}}`, false)

		gw.waitStored("cb-0001", "sos-1")
		gw.waitStored("lk-0001", "lk-ev-1")
		gw.waitStored("ch-0001", "ch-ev-1")
		r := gw.device("cb-0001")
		var sos *eventJSON
		for i := range r.Events {
			if r.Events[i].ID == "sos-1" {
				sos = &r.Events[i]
			}
		}
		if sos == nil || sos.Type != "sos" || !strings.Contains(string(sos.Data), `"source":"pendant"`) {
			t.Fatalf("sos event not stored decoded: %+v", r.Events)
		}
		if r.Device.Resident == nil || r.Device.Resident.Name != "张秀英" || r.Device.Resident.MedicalNotes == "" {
			t.Fatalf("resident card missing for admin: %+v", r.Device.Resident)
		}
		eventually(t, 5*time.Second, func() (bool, string) {
			h := gw.device("cb-0001").Device.Health
			return h.BatteryPct != nil && *h.BatteryPct == 87 && h.RSSI != nil && *h.RSSI == -71, fmt.Sprintf("battery/rssi %v %v", h.BatteryPct, h.RSSI)
		})
		if n := gw.countEvent("lk-0001", "lk-ev-1"); n != 1 {
			t.Fatalf("locker event stored %d times", n)
		}
		fault := gw.device("ch-0001").Events
		if len(fault) == 0 || fault[0].Type != "fault" || !strings.Contains(string(fault[0].Data), "HighTemperature") {
			t.Fatalf("charger fault not stored: %+v", fault)
		}

		// a redelivered or repeated event id is stored once and counted as a duplicate
		cb.publish("event", sosPayload("sos-1"), false)
		eventually(t, 5*time.Second, func() (bool, string) {
			d := gw.metric("gateway_events_duplicate_total", "")
			return d == 1, fmt.Sprintf("duplicates counted: %v", d)
		})
		if n := gw.countEvent("cb-0001", "sos-1"); n != 1 {
			t.Fatalf("repeated event stored %d times", n)
		}

		// a killed device goes offline by its last will
		cb.killHard()
		eventually(t, 10*time.Second, func() (bool, string) {
			s := gw.device("cb-0001").Device.Health.State
			return s == "offline", "cb-0001 is " + s
		})
		evs := gw.device("cb-0001").Events
		if evs[0].Type != "device_offline" || !strings.Contains(string(evs[0].Data), `"reason":"status"`) {
			t.Fatalf("want a device_offline event from the will first, got %+v", evs[0])
		}

		// a silent device (heartbeat 1s, connected, sending nothing) goes offline after 3 intervals
		quiet := mustConnect(t, env.addr, f[1], true)
		quiet.publish("telemetry", `{"ts":`+now()+`,"metrics":{"battery_pct":55}}`, false)
		eventually(t, 5*time.Second, func() (bool, string) {
			s := gw.device("cb-0002").Device.Health.State
			return s == "online", "cb-0002 is " + s
		})
		wentOnline := time.Now()
		eventually(t, 10*time.Second, func() (bool, string) {
			s := gw.device("cb-0002").Device.Health.State
			return s == "offline", "cb-0002 is " + s
		})
		if el := time.Since(wentOnline); el < 2*time.Second {
			t.Fatalf("silent device went offline after %s, before three 1s heartbeats were missed", el)
		}
		evs = gw.device("cb-0002").Events
		if evs[0].Type != "device_offline" || !strings.Contains(string(evs[0].Data), "heartbeat_missed") {
			t.Fatalf("want device_offline for missed heartbeats, got %+v", evs[0])
		}
		// and it comes back with its next heartbeat
		quiet.publish("telemetry", `{"ts":`+now()+`,"metrics":{"battery_pct":54}}`, false)
		eventually(t, 5*time.Second, func() (bool, string) {
			s := gw.device("cb-0002").Device.Health.State
			return s == "online", "cb-0002 is " + s
		})
		if on := gw.metric("gateway_devices_online", `family="callbutton"`); on != 1 {
			t.Fatalf("gateway_devices_online{callbutton} = %v, want 1", on)
		}
	})
}

func TestEventPublishedWhileGatewayStoppedArrivesOnce(t *testing.T) {
	modes(t, func(t *testing.T, mkEnv func(*testing.T, ...testDevice) *brokerEnv) {
		env := mkEnv(t)
		gw := newGateway(t, env, fleet(), "")
		cb := mustConnect(t, env.addr, fleet()[0], true)
		cb.publish("event", sosPayload("before-stop"), false)

		gw.stop(syscall.SIGTERM)
		done := make(chan struct{})
		go func() {
			defer close(done)
			// Mosquitto queues it for the gateway's session; with the embedded broker the device
			// keeps it and sends it when the gateway is back.
			tok := cb.client.Publish(topic(cb.d, "event"), 1, false, sosPayload("while-stopped"))
			tok.WaitTimeout(30 * time.Second)
		}()
		time.Sleep(700 * time.Millisecond)
		gw.start()
		<-done
		eventually(t, 10*time.Second, func() (bool, string) {
			n := gw.countEvent("cb-0001", "while-stopped")
			return n == 1, fmt.Sprintf("stored %d times", n)
		})
		if n := gw.countEvent("cb-0001", "before-stop"); n != 1 {
			t.Fatalf("event from before the restart stored %d times", n)
		}
	})
}

// TestSIGKILLAfterDelivery kills the gateway right after the broker handed it an event, at
// several points around the store's commit. Whatever the moment, the event is there once
// after the restart: it is acknowledged only once stored, so an unstored one is delivered
// again and a stored one is recognised as a duplicate.
func TestSIGKILLAfterDelivery(t *testing.T) {
	modes(t, func(t *testing.T, mkEnv func(*testing.T, ...testDevice) *brokerEnv) {
		env := mkEnv(t)
		gw := newGateway(t, env, fleet(), "")
		cb := mustConnect(t, env.addr, fleet()[0], true)
		for i, delay := range []time.Duration{0, 300 * time.Microsecond, time.Millisecond, 3 * time.Millisecond, 10 * time.Millisecond} {
			id := fmt.Sprintf("kill-%d", i)
			tok := cb.client.Publish(topic(cb.d, "event"), 1, false, sosPayload(id))
			time.Sleep(delay)
			gw.stop(syscall.SIGKILL)
			gw.start()
			// paho completes the token of a message it resends after reconnecting without
			// waiting for the PUBACK, so wait for the store rather than trust the token
			tok.WaitTimeout(30 * time.Second)
			eventually(t, 10*time.Second, func() (bool, string) {
				n := gw.countEvent("cb-0001", id)
				return n == 1, fmt.Sprintf("%s stored %d times", id, n)
			})
		}
	})
}
