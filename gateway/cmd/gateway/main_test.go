package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/community-edge/edge/gateway/internal/credential"
)

func TestCheckConfigPrintsEveryMistakeWithItsKey(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"check-config", "-config", "testdata/three-mistakes.yaml"}, &out, &errb)
	if code == 0 {
		t.Fatalf("check-config accepted a broken file: %s", out.String())
	}
	msg := errb.String()
	for _, want := range []string{"site.grid_code:", "field embeded not found", "devices[0] (cb-0001).family:"} {
		if !strings.Contains(msg, want) {
			t.Errorf("output does not name %q:\n%s", want, msg)
		}
	}
	if n := strings.Count(msg, "\n  "); n != 3 {
		t.Errorf("want exactly 3 problems listed, got %d:\n%s", n, msg)
	}
}

func TestCheckConfigAcceptsShippedConfigs(t *testing.T) {
	for _, f := range []string{"gateway.example.yaml", "demo.yaml"} {
		path := filepath.Join("..", "..", "..", "configs", f)
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var out, errb bytes.Buffer
		t.Setenv("GATEWAY_API_TOKEN", "example-token-0123456789")
		t.Setenv("GATEWAY_BROKER_PASSWORD", "broker-password")
		t.Setenv("CH_0001_PASSWORD", "charger-password-1")
		t.Setenv("GATEWAY_INFLUX_TOKEN", "user:password")
		t.Setenv("CAM_GATE_EAST_PASSWORD", "camera-password")
		if code := run([]string{"check-config", "-config", path}, &out, &errb); code != 0 {
			t.Errorf("%s rejected:\n%s", f, errb.String())
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"frobnicate"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "unknown command") {
		t.Fatalf("code %d, %s", code, errb.String())
	}
}

// TestMosquittoPasswdFileWorksWithMosquitto writes the password file for a config and checks
// each line verifies the device's own password (the format Mosquitto reads).
func TestMosquittoPasswdFileWorksWithMosquitto(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gw.yaml")
	os.WriteFile(cfg, []byte("site: {code: s}\ndata_dir: "+dir+"/data\nbroker:\n  mode: external\n  external: {url: \"tcp://127.0.0.1:1883\", client_id: gw, username: gateway, password: gw-password-1}\n"+
		"devices:\n  - {id: cb-1, family: callbutton, password: button-pass-1}\n  - {id: lk-1, family: locker, password: locker-pass-1}\n  - {id: ch-1, family: charger}\n"), 0o600)
	var out, errb bytes.Buffer
	if code := run([]string{"mosquitto-passwd", "-config", cfg}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	want := map[string]string{"cb-1": "button-pass-1", "lk-1": "locker-pass-1", "gateway": "gw-password-1"}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("want %d lines (a device without a password has no login), got:\n%s", len(want), out.String())
	}
	for _, l := range lines {
		user, hash, _ := strings.Cut(l, ":")
		if err := credential.Verify(hash, want[user]); err != nil {
			t.Errorf("%s: %v", user, err)
		}
	}
}
