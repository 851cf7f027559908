package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/community-edge/edge/gateway/internal/store"
	"github.com/community-edge/edge/gateway/internal/users"
)

// userConfig writes a minimal configuration with its data directory in a temp dir.
func userConfig(t *testing.T) (cfgPath, dataDir string) {
	t.Helper()
	dir := t.TempDir()
	dataDir = filepath.Join(dir, "data")
	cfgPath = filepath.Join(dir, "gateway.yaml")
	yaml := fmt.Sprintf("site:\n  code: t\ndata_dir: %s\n", dataDir)
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath, dataDir
}

func TestUserCommands(t *testing.T) {
	cfg, dataDir := userConfig(t)
	type step struct {
		args      []string
		stdin     string
		code      int
		out, errs string // substrings expected on stdout and stderr
	}
	for i, s := range []step{
		{args: []string{"list"}, code: 0, out: "no users"},
		{args: []string{"add", "wangfang", "-role", "duty", "-display", "王芳", "-password-stdin"}, stdin: "duty-password-1\n", code: 0, out: "user wangfang added with role duty"},
		{args: []string{"add", "-role", "admin", "-password-stdin", "root"}, stdin: "admin-password-1", code: 0, out: "user root added with role admin"},
		{args: []string{"add", "weak", "-role", "duty", "-password-stdin"}, stdin: "123456789\n", code: 1, errs: "weak password: it must have at least 10 characters"},
		{args: []string{"add", "wangfang", "-role", "duty", "-password-stdin"}, stdin: "duty-password-1\n", code: 1, errs: "user exists"},
		{args: []string{"add", "x", "-role", "boss", "-password-stdin"}, stdin: "duty-password-1\n", code: 1, errs: `invalid role "boss"`},
		{args: []string{"add", "nobody", "-password-stdin"}, stdin: "duty-password-1\n", code: 2, errs: "-role is required"},
		{args: []string{"add", "y", "-role", "duty"}, stdin: "", code: 1, errs: "not a terminal: pass the password with -password-stdin"},
		{args: []string{"passwd", "wangfang", "-password-stdin"}, stdin: "short\n", code: 1, errs: "weak password"},
		{args: []string{"passwd", "wangfang", "-password-stdin"}, stdin: "duty-password-2\n", code: 0, out: "password of wangfang changed"},
		{args: []string{"passwd", "ghost", "-password-stdin"}, stdin: "duty-password-2\n", code: 1, errs: "no such user"},
		{args: []string{"list"}, code: 0, out: "王芳"},
		{args: []string{"remove", "root"}, code: 1, errs: "no enabled admin"},
		{args: []string{"remove", "wangfang"}, code: 0, out: "user wangfang removed"},
		{args: []string{"remove"}, code: 2, errs: "needs a user name"},
		{args: []string{"frob"}, code: 2, errs: "unknown command"},
	} {
		t.Run(fmt.Sprintf("%d %s", i, strings.Join(s.args, " ")), func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"user"}, append(s.args, "-config", cfg)...)
			code := runIn(args, strings.NewReader(s.stdin), &out, &errb)
			if code != s.code || !strings.Contains(out.String(), s.out) || !strings.Contains(errb.String(), s.errs) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant stdout ⊇ %q, stderr ⊇ %q", code, s.code, out.String(), errb.String(), s.out, s.errs)
			}
		})
	}

	// The changes are in the gateway's database, audited as the command line.
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dataDir, "gateway.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dir := users.New(st.DB(), users.Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	us, err := dir.List(ctx)
	if err != nil || len(us) != 1 || us[0].Name != "root" || us[0].Role != "admin" {
		t.Fatalf("users after the commands: %+v %v", us, err)
	}
	var n int
	st.DB().QueryRow(`SELECT COUNT(*) FROM audit WHERE actor = 'cli' AND action IN ('user.add', 'user.passwd', 'user.remove')`).Scan(&n)
	if n != 4 {
		t.Fatalf("want 4 audited changes by cli, got %d", n)
	}
}
