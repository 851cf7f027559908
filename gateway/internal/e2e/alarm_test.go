package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

type alarmJSON struct {
	ID       string `json:"id"`
	Device   string `json:"device"`
	Type     string `json:"type"`
	Severity string `json:"severity"`
	State    string `json:"state"`
	Count    int    `json:"count"`
	Outcome  string `json:"outcome"`
}

func (g *gateway) alarms(query string) []alarmJSON {
	g.t.Helper()
	var r struct {
		Alarms []alarmJSON `json:"alarms"`
	}
	if code := g.get("/api/v1/alarms?"+query, &r); code != 200 {
		g.t.Fatalf("GET alarms: %d", code)
	}
	return r.Alarms
}

// TestSOSAlarmSurvivesSIGKILL kills the gateway right after the broker delivered an SOS, at
// several moments around the commit. After the restart the alarm is there, once: the event,
// its alarm and the alarm's audit entry commit together, and a redelivered event is a duplicate.
func TestSOSAlarmSurvivesSIGKILL(t *testing.T) {
	modes(t, func(t *testing.T, mkEnv func(*testing.T, ...testDevice) *brokerEnv) {
		env := mkEnv(t)
		gw := newGateway(t, env, fleet(), "")
		cb := mustConnect(t, env.addr, fleet()[0], true)
		for i, delay := range []time.Duration{0, 500 * time.Microsecond, 2 * time.Millisecond, 8 * time.Millisecond} {
			id := fmt.Sprintf("sos-kill-%d", i)
			tok := cb.client.Publish(topic(cb.d, "event"), 1, false, sosPayload(id))
			time.Sleep(delay)
			gw.stop(syscall.SIGKILL)
			gw.start()
			// After a reconnect paho completes the original token without a PUBACK (resume()
			// claims the packet id for a new token), so the token proves nothing here: wait
			// for the store instead, and then check it holds the event once.
			tok.WaitTimeout(30 * time.Second)
			eventually(t, 10*time.Second, func() (bool, string) {
				n := gw.countEvent("cb-0001", id)
				return n == 1, fmt.Sprintf("%s stored %d times", id, n)
			})
			eventually(t, 10*time.Second, func() (bool, string) {
				open := gw.alarms("state=open&device=cb-0001&type=sos")
				if len(open) != 1 {
					return false, fmt.Sprintf("%d open sos alarms", len(open))
				}
				return open[0].Count == i+1, fmt.Sprintf("sos alarm count %d, want %d (one per SOS, none lost or doubled)", open[0].Count, i+1)
			})
		}
	})
}

// TestAlarmHandlingIsAudited: acknowledging and resolving an alarm through the API leaves
// entries with who did it, readable at /api/v1/audit.
func TestAlarmHandlingIsAudited(t *testing.T) {
	env := &brokerEnv{mode: "embedded"}
	gw := newGateway(t, env, fleet(), "")
	mustConnect(t, env.addr, fleet()[0], false).publish("event", sosPayload("audit-1"), false)
	a := gw.openAlarm("cb-0001", "sos")
	if code, body := gw.do("POST", "/api/v1/alarms/"+a.ID+"/ack", ""); code != 200 {
		t.Fatalf("ack: %d %s", code, body)
	}
	if code, body := gw.do("POST", "/api/v1/alarms/"+a.ID+"/resolve", `{"outcome":"visited","note":"已上门查看，老人安好"}`); code != 200 {
		t.Fatalf("resolve: %d %s", code, body)
	}
	var r struct {
		Entries []struct {
			Actor, Action, Target string
		} `json:"entries"`
	}
	if code := gw.get("/api/v1/audit?action=alarm.&target="+a.ID, &r); code != 200 {
		t.Fatalf("audit: %d", code)
	}
	var got []string
	for _, e := range r.Entries {
		got = append(got, e.Action+":"+e.Actor)
	}
	want := "alarm.resolved:e2e alarm.acknowledged:e2e alarm.raised:system"
	if fmt.Sprint(strings.Join(got, " ")) != want {
		t.Fatalf("audit entries %q, want %q", got, want)
	}
}
