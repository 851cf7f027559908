package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestBadInputIsRejectedAndCounted sends every kind of bad message a device can send through a
// real broker. Each is rejected and counted by reason in /metrics, and between each one a good
// SOS still goes through at once: bad input never blocks ingestion or crashes the gateway.
func TestBadInputIsRejectedAndCounted(t *testing.T) {
	// ghost is in Mosquitto's password file but not registered in the gateway.
	ghost := testDevice{ID: "cb-ghost", Family: "callbutton", Password: "ghost-password-1"}
	modes(t, func(t *testing.T, mkEnv func(*testing.T, ...testDevice) *brokerEnv) {
		env := mkEnv(t, ghost)
		gw := newGateway(t, env, fleet(), "")
		f := fleet()
		cb := mustConnect(t, env.addr, f[0], true)
		lk := mustConnect(t, env.addr, f[2], true)
		// The embedded broker's ACL also checks the family, so there the broker refuses it;
		// Mosquitto's %u pattern lets it through and the gateway refuses it.
		wrongFamily := "wrong_family"
		if env.mode == "embedded" {
			wrongFamily = "acl_denied"
		}
		good := 0
		sendGood := func() {
			t.Helper()
			good++
			id := fmt.Sprintf("good-%d", good)
			cb.publish("event", sosPayload(id), false)
			gw.waitStored("cb-0001", id)
		}
		sendGood()

		cases := []struct {
			name, reason string
			send         func()
		}{
			{"malformed json", "malformed_json", func() { cb.publish("event", `{"id":"x1","ts":`, false) }},
			{"not json at all", "malformed_json", func() { cb.publish("telemetry", "\x00\xff garbage", false) }},
			{"wrong type of ts", "wrong_type", func() {
				cb.publish("event", `{"id":"x2","ts":"yesterday","type":"sos","data":{"source":"wall"}}`, false)
			}},
			{"wrong type of metric", "wrong_type", func() { cb.publish("telemetry", `{"ts":`+now()+`,"metrics":{"battery_pct":"full"}}`, false) }},
			{"unknown event type", "unknown_event_type", func() { cb.publish("event", `{"id":"x3","ts":`+now()+`,"type":"explode","data":{}}`, false) }},
			{"oversize payload", "oversize", func() {
				cb.publish("event", `{"id":"x4","ts":`+now()+`,"type":"sos","data":{"source":"wall","pad":"`+strings.Repeat("x", 70<<10)+`"}}`, false)
			}},
			{"locker on a call button's family topic", wrongFamily, func() {
				lk.publishTopic(fmt.Sprintf("community/%s/callbutton/lk-0001/event", site), sosPayload("x5"), false)
			}},
		}
		if env.mode == "mosquitto" {
			cases = append(cases, struct {
				name, reason string
				send         func()
			}{"unknown device", "unknown_device", func() {
				g, err := connectDevice(t, env.addr, ghost, ghost.Password, false)
				if err != nil {
					t.Fatalf("ghost login to mosquitto: %v", err)
				}
				g.publish("event", sosPayload("ghost-1"), false)
			}})
		}
		for _, c := range cases {
			before := gw.metric("gateway_mqtt_rejected_total", `reason="`+c.reason+`"`)
			c.send()
			eventually(t, 5*time.Second, func() (bool, string) {
				v := gw.metric("gateway_mqtt_rejected_total", `reason="`+c.reason+`"`)
				return v == before+1, fmt.Sprintf("%s: rejected{%s} = %v, want %v", c.name, c.reason, v, before+1)
			})
			sendGood()
		}

		// A device publishing on another device's topic is refused by the broker's ACL.
		lk.client.Publish(topic(f[0], "event"), 1, false, sosPayload("spoofed")).WaitTimeout(3 * time.Second)
		if env.mode == "embedded" {
			eventually(t, 5*time.Second, func() (bool, string) {
				v := gw.metric("gateway_mqtt_rejected_total", `reason="acl_denied"`)
				return v >= 1, fmt.Sprintf("acl_denied = %v", v)
			})
		}
		sendGood()
		if n := gw.countEvent("cb-0001", "spoofed"); n != 0 {
			t.Fatalf("spoofed event on another device's topic was stored")
		}

		// Wrong password and unknown user: the login is refused.
		if _, err := connectDevice(t, env.addr, f[3], "not-the-password", false); err == nil {
			t.Fatal("login with a wrong password accepted")
		}
		if env.mode == "embedded" {
			if _, err := connectDevice(t, env.addr, ghost, ghost.Password, false); err == nil {
				t.Fatal("login of an unregistered device accepted by the embedded broker")
			}
			eventually(t, 5*time.Second, func() (bool, string) {
				v := gw.metric("gateway_mqtt_rejected_total", `reason="auth_failed"`)
				return v >= 2, fmt.Sprintf("auth_failed = %v", v)
			})
		}
		sendGood()
		if n := gw.device("cb-0001").Events; len(n) < good {
			t.Fatalf("good events lost: %d stored, %d sent", len(n), good)
		}
	})
}
