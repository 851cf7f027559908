package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/community-edge/edge/gateway/internal/backup"
	"github.com/community-edge/edge/gateway/internal/store"
)

// TestBackupToStdoutRestoresThroughStdin: "-" streams the archive (the summary goes to stderr
// so that stdout holds only the archive), and restore reads it back from standard input into
// an empty box, where the archive's configuration is written since none is there.
func TestBackupToStdoutRestoresThroughStdin(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gw.yaml")
	os.WriteFile(cfg, []byte("site: {code: s1}\ndata_dir: data\n"), 0o600)
	st, err := store.Open(context.Background(), filepath.Join(dir, "data", "gateway.db"))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	os.WriteFile(filepath.Join(dir, "data", "data.key"), []byte("k"), 0o600)

	var archive, info bytes.Buffer
	if code := run([]string{"backup", "-config", cfg, "-"}, &archive, &info); code != 0 {
		t.Fatalf("backup: %d\n%s", code, info.String())
	}
	if !bytes.HasPrefix(archive.Bytes(), []byte{0x1f, 0x8b}) || !strings.Contains(info.String(), "HOLDS SECRETS") {
		t.Fatalf("stdout is not the gzip archive or stderr lacks the summary:\n%s", info.String())
	}
	box := t.TempDir()
	var out, errb bytes.Buffer
	if code := runIn([]string{"restore", "-config", filepath.Join(box, "gw.yaml"), "-"}, &archive, &out, &errb); code != 0 {
		t.Fatalf("restore: %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "configuration restored to "+filepath.Join(box, "gw.yaml")) {
		t.Errorf("restore output:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(box, "data", "gateway.db")); err != nil {
		t.Error(err)
	}
}

func TestBackupAndRestoreUsageErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gw.yaml")
	os.WriteFile(cfg, []byte("site: {code: s1}\ndata_dir: data\n"), 0o600)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"backup", "-config", cfg}, 2, "want one archive path, got 0"},
		{[]string{"backup", "-config", cfg, "a.tar.gz", "b.tar.gz"}, 2, "want one archive path, got 2"},
		{[]string{"backup", "-config", cfg, filepath.Join(dir, "out.zip")}, 2, "name the archive *.tar.gz"},
		{[]string{"backup", "-config", cfg, filepath.Join(dir, "out.tar.gz")}, 1, "backup: database:"}, // no database yet
		{[]string{"backup", "-config", filepath.Join(dir, "missing.yaml"), "x.tar.gz"}, 1, "missing.yaml"},
		{[]string{"restore", "-config", cfg, filepath.Join(dir, "missing.tar.gz")}, 1, "no such file"},
		{[]string{"restore", "-config", cfg, cfg}, 1, "not a gzip-compressed archive"},
	} {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if code != c.code || !strings.Contains(errb.String(), c.want) {
			t.Errorf("gateway %v: exit %d, %q; want exit %d and %q", c.args, code, errb.String(), c.code, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out.tar.gz")); err == nil {
		t.Error("a failed backup left an archive behind")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".gateway-backup-*")); len(left) > 0 {
		t.Errorf("a failed backup left %v", left)
	}
}

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestManifestSummaryGolden: what backup and restore print about an archive.
func TestManifestSummaryGolden(t *testing.T) {
	m := &backup.Manifest{Format: 1, GatewayVersion: "1.2.0 (0123456789ab) go1.26.0", Site: backup.Site{Code: "sunny-garden", Name: "阳光花园社区"},
		CreatedAt: time.Date(2026, 1, 31, 2, 0, 0, 0, time.UTC),
		Counts:    backup.Counts{Devices: 56, Users: 7, Alarms: 1203, OpenAlarms: 3, Events: 912345},
		Entries: []backup.Entry{
			{Name: "config/environment", Size: 412, Mode: 0o600, Secret: true},
			{Name: "config/gateway.yaml", Size: 7123, Mode: 0o640, Secret: true},
			{Name: "data/data.key", Size: 45, Mode: 0o600, Secret: true},
			{Name: "data/tls/self-signed.crt", Size: 660, Mode: 0o644},
			{Name: "data/tls/self-signed.key", Size: 241, Mode: 0o600, Secret: true},
			{Name: "config/alink/charger-cd10.yaml", Size: 2210, Mode: 0o644},
			{Name: "gateway.db", Size: 187 << 20, Mode: 0o600},
		}}
	var out bytes.Buffer
	printManifest(&out, m)
	golden := filepath.Join("testdata", "backup-summary.golden")
	if *update {
		os.WriteFile(golden, out.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -run ManifestSummary -update writes it)", err)
	}
	if out.String() != string(want) {
		t.Errorf("summary differs from %s:\n%s", golden, out.String())
	}
}
