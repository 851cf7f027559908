package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
