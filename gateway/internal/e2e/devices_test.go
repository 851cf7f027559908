package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func (g *gateway) do(method, path, body string) (int, []byte) {
	g.t.Helper()
	req, _ := http.NewRequest(method, "http://"+g.http+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestDeviceAddedThroughAPIThenRemoved: a device made through the API gets a password shown
// once and can log in at once; removing it ends its session and refuses its login.
func TestDeviceAddedThroughAPIThenRemoved(t *testing.T) {
	env := &brokerEnv{mode: "embedded"}
	gw := newGateway(t, env, fleet(), "")
	code, body := gw.do("POST", "/api/v1/devices", `{"id":"cb-new-1","family":"callbutton","name":"新装呼叫器",
		"location":{"building":"9","unit":"1","room":"101"},"heartbeat_interval":"30s","resident":{"name":"赵大爷","age":90}}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var created struct {
		Password string `json:"mqtt_password"`
	}
	json.Unmarshal(body, &created)
	if len(created.Password) < 20 {
		t.Fatalf("no usable password returned: %s", body)
	}
	if code, body := gw.do("POST", "/api/v1/devices", `{"id":"cb-new-1","family":"callbutton"}`); code != http.StatusConflict {
		t.Fatalf("duplicate create: %d %s", code, body)
	}
	if code, body := gw.do("POST", "/api/v1/devices", `{"id":"bad id!","family":"toaster","heartbeat_interval":"often"}`); code != http.StatusBadRequest ||
		!strings.Contains(string(body), "family") || !strings.Contains(string(body), "heartbeat_interval") || !strings.Contains(string(body), "id:") {
		t.Fatalf("bad create: %d %s", code, body)
	}
	d := testDevice{ID: "cb-new-1", Family: "callbutton", Password: created.Password}
	dv := mustConnect(t, env.addr, d, false)
	dv.publish("event", sosPayload("new-sos"), false)
	gw.waitStored("cb-new-1", "new-sos")

	if code, body := gw.do("DELETE", "/api/v1/devices/cb-new-1", ""); code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", code, body)
	}
	eventually(t, 5*time.Second, func() (bool, string) {
		return !dv.client.IsConnectionOpen(), "removed device still connected"
	})
	if _, err := connectDevice(t, env.addr, d, created.Password, false); err == nil {
		t.Fatal("removed device could log in again")
	}
	if code, _ := gw.do("GET", "/api/v1/devices/cb-new-1", ""); code != http.StatusNotFound {
		t.Fatalf("removed device still listed: %d", code)
	}
}
