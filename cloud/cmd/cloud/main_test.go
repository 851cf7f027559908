package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/community-edge/edge/cloud/api"
)

func TestCLI(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "cloud.yaml")
	os.WriteFile(cfgPath, []byte("listen: 127.0.0.1:0\ndatabase: {driver: sqlite, path: "+filepath.Join(dir, "c.db")+"}\n"+
		"gateways: [{id: gw-demo, key: ZGVtby1nYXRld2F5LWtleS1ub3QtZm9yLXByb2R1Y3Q}]\n"+
		"users: [{username: demo, role: admin, password: demo-pass-2025}]\n"), 0o644)
	ctx := context.Background()
	runOut := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, args, strings.NewReader(stdin), &out)
		return out.String(), err
	}
	if out, err := runOut("", "version"); err != nil || !strings.HasPrefix(out, "cloud ") {
		t.Fatalf("version: %q %v", out, err)
	}
	if out, err := runOut("", "check-config", "-config", cfgPath); err != nil || !strings.Contains(out, "valid") {
		t.Fatalf("check-config: %q %v", out, err)
	}
	if _, err := runOut("", "check-config", "-config", "../../internal/config/testdata/bad.yaml"); err == nil || !strings.Contains(err.Error(), "database.driver") {
		t.Fatalf("bad config: %v", err)
	}
	out, err := runOut("", "gateway", "add", "-config", cfgPath, "幸福小区")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`id:  (gw-[0-9a-f]{10})\nkey: (\S+)\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("gateway add printed %q", out)
	}
	if _, err := api.DecodeKey(m[2]); err != nil {
		t.Fatalf("printed key: %v", err)
	}
	if out, err := runOut("", "gateway", "list", "-config", cfgPath); err != nil || !strings.Contains(out, m[1]) || !strings.Contains(out, "never") {
		t.Fatalf("gateway list: %q %v", out, err)
	}
	if out, err := runOut("s3cret-password\n", "user", "add", "-config", cfgPath, "-role", "dispatcher", "li"); err != nil || !strings.Contains(out, "user added") {
		t.Fatalf("user add: %q %v", out, err)
	}
	if _, err := runOut("s3cret-password\n", "user", "add", "-config", cfgPath, "-role", "dispatcher", "li"); err == nil {
		t.Fatal("duplicate user added")
	}
	if _, err := runOut("s3cret-password\n", "user", "add", "-config", cfgPath, "-role", "handler", "wang"); err == nil {
		t.Fatal("handler without department added")
	}
	if _, err := runOut("", "frobnicate"); err == nil {
		t.Fatal("unknown command accepted")
	}
	// run serves until its context ends.
	rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	var logs bytes.Buffer
	if err := run(rctx, []string{"run", "-config", cfgPath}, strings.NewReader(""), &logs); err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "cloud listening") || !strings.Contains(logs.String(), "cloud stopped") {
		t.Fatalf("run logs: %s", logs.String())
	}
	if !strings.Contains(logs.String(), "gateway registered from the configuration") || !strings.Contains(logs.String(), "user created from the configuration") {
		t.Fatalf("run did not bootstrap the configured gateway and user: %s", logs.String())
	}
	if out, err := runOut("", "gateway", "list", "-config", cfgPath); err != nil || !strings.Contains(out, "gw-demo") {
		t.Fatalf("gateway list after run: %q %v", out, err)
	}
	if _, err := runOut("", "send-test-alert", "-url", "http://127.0.0.1:1", "-gateway", m[1], "-key", "bad"); err == nil {
		t.Fatal("bad key accepted")
	}
}
