package config

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/community-edge/edge/cloud/api"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestBadConfigGolden: every problem of testdata/bad.yaml is reported at once, naming its key.
func TestBadConfigGolden(t *testing.T) {
	_, err := Load("testdata/bad.yaml")
	if err == nil {
		t.Fatal("bad config accepted")
	}
	got := []byte(err.Error() + "\n")
	if *update {
		os.WriteFile("testdata/bad.golden", got, 0o644)
	}
	want, _ := os.ReadFile("testdata/bad.golden")
	if string(got) != string(want) {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestShippedConfigs: the example and demo configurations in configs/ are valid.
func TestShippedConfigs(t *testing.T) {
	files, _ := filepath.Glob("../../../configs/cloud*.yaml")
	if len(files) < 2 {
		t.Fatalf("configs/cloud*.yaml: found %v", files)
	}
	t.Setenv("CLOUD_DATABASE_DSN", "host=127.0.0.1")
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestParse(t *testing.T) {
	c, err := Parse([]byte(`
database: {driver: postgres, dsn_env: TEST_DSN}
deadlines:
  urgent: {register: 5m, dispatch: 5m, handle: 1h, verify: 30m}
categories:
  sos:
    category: {kind: event, class: "04", class_name: 突发事件, subclass: "30", subclass_name: 紧急求助}
    priority: urgent
    medical: true
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Deadlines.Urgent.Register != 5*time.Minute || c.Deadlines.Normal.Register != 30*time.Minute {
		t.Fatalf("deadlines %+v", c.Deadlines)
	}
	cl := c.Classifier()
	if r := cl.Rule("callbutton", "sos", ""); r.Category.Subclass != "30" || !r.Medical {
		t.Fatalf("override: %+v", r)
	}
	if r := cl.Rule("charger", "smoke", ""); r.Category.SubclassName != "消防隐患" || r.Priority != api.Urgent {
		t.Fatalf("default kept: %+v", r)
	}
	if _, err := c.Database.ResolveDSN(); err == nil {
		t.Fatal("empty env accepted")
	}
	t.Setenv("TEST_DSN", "host=db")
	if dsn, err := c.Database.ResolveDSN(); err != nil || dsn != "host=db" {
		t.Fatalf("dsn %q %v", dsn, err)
	}
	if _, err := Parse(nil); err != nil {
		t.Fatalf("empty file: %v", err)
	}
}
