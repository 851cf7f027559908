package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
