package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDebVersion runs configs/packaging/deb-version through a history in a scratch git
// repository and checks each version against the rule and, with dpkg itself, that each clean
// one sorts after the one before: upgrades along the history are upgrades for dpkg.
func TestDebVersion(t *testing.T) {
	script, err := filepath.Abs(filepath.Join("..", "..", "..", "configs", "packaging", "deb-version"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := run("sh", script); got != "0.0.0+unknown" {
		t.Errorf("outside git: %q", got)
	}
	run("git", "init", "-q")
	commit := func() string {
		n := run("git", "rev-list", "--all", "--count")
		os.WriteFile(filepath.Join(dir, "f"), []byte(n), 0o644)
		run("git", "add", "f")
		run("git", "commit", "-q", "-m", "c")
		return run("git", "rev-parse", "--short=7", "HEAD")
	}
	var clean []string
	for _, step := range []struct {
		name string
		do   func() (want string)
	}{
		{"first commit, no tag", func() string { return "0.0.0+git1.g" + commit() }},
		{"second commit", func() string { return "0.0.0+git2.g" + commit() }},
		{"release candidate tag", func() string { run("git", "tag", "v1.2.0-rc1"); return "1.2.0~rc1" }},
		{"commit after the candidate", func() string { return "1.2.0~rc1+git1.g" + commit() }},
		{"release tag", func() string { run("git", "tag", "v1.2.0"); return "1.2.0" }},
		{"commit after the release", func() string { return "1.2.0+git1.g" + commit() }},
		{"uncommitted change", func() string {
			h := run("git", "rev-parse", "--short=7", "HEAD")
			os.WriteFile(filepath.Join(dir, "f"), []byte("changed"), 0o644)
			return "1.2.0+git1.g" + h + ".dirty"
		}},
		{"next release", func() string {
			run("git", "checkout", "-q", "f")
			commit()
			run("git", "tag", "v1.10.0")
			return "1.10.0"
		}},
	} {
		want := step.do()
		got := run("sh", script)
		if got != want {
			t.Errorf("%s: %q, want %q", step.name, got, want)
		}
		if !strings.HasSuffix(got, ".dirty") {
			clean = append(clean, got)
		}
	}
	for i := 1; i < len(clean); i++ {
		if err := exec.Command("dpkg", "--compare-versions", clean[i-1], "lt", clean[i]).Run(); err != nil {
			t.Errorf("dpkg does not sort %s before %s: %v", clean[i-1], clean[i], err)
		}
	}
}
