package packaging

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/community-edge/edge/gateway/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden file lists under testdata/")

// debArch is each build target: Debian architecture, ELF machine of its binaries.
var debArchs = []struct {
	deb     string
	machine elf.Machine
}{{"amd64", elf.EM_X86_64}, {"arm64", elf.EM_AARCH64}, {"armhf", elf.EM_ARM}}

var packages = []struct{ name, binary string }{{"community-gateway", "gateway"}, {"community-cloud", "cloud"}}

// TestPackages builds every package with `make package`, checks each .deb with dpkg-deb, then
// installs the amd64 pair into a throw-away root with dpkg itself (--root and
// --force-script-chrootless: the maintainer scripts run for real on that root's passwd, group
// and /var/lib), verifies the units there with systemd-analyze, upgrades to a second build
// keeping an edited configuration and the database, and removes and purges.
func TestPackages(t *testing.T) {
	repo, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"dpkg", "dpkg-deb", "systemd-analyze", "useradd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (.ci/install-deps installs what the tests need): %v", tool, err)
		}
	}
	out := t.TempDir()
	const v1, v2 = "1.0.0+test1", "1.0.1+test2"
	makePackage(t, repo, filepath.Join(out, "v1"), v1, "amd64: arm64: arm:7")
	deb := func(dir, pkg, version, arch string) string {
		return filepath.Join(out, dir, fmt.Sprintf("%s_%s_%s.deb", pkg, version, arch))
	}

	for _, p := range packages {
		for _, a := range debArchs {
			t.Run(p.name+"_"+a.deb, func(t *testing.T) {
				checkDeb(t, repo, deb("v1", p.name, v1, a.deb), p.name, p.binary, v1, a.deb, a.machine)
			})
		}
	}
	if t.Failed() {
		return
	}

	// dpkg sets owners and the scripts add accounts in the root: that takes the superuser
	// (CI and these machines run the tests as root)
	if os.Geteuid() != 0 {
		t.Fatal("installing into a throw-away root with dpkg needs root; the .deb contents were checked")
	}
	root := newRoot(t)
	gw, cl := deb("v1", "community-gateway", v1, "amd64"), deb("v1", "community-cloud", v1, "amd64")
	dpkg(t, root, "-i", gw, cl)
	t.Run("installed", func(t *testing.T) {
		for _, p := range packages {
			checkInstalled(t, root, p.name, p.binary, v1)
		}
	})
	t.Run("systemd-analyze", func(t *testing.T) { checkUnits(t, root) })

	// The installer's state before the upgrade: an edited configuration, a database the v1
	// gateway made and holds a user in, and a file of their own in the data directory.
	gwConf := filepath.Join(root, "etc/community-gateway/gateway.yaml")
	edited := editFile(t, gwConf, Edit{Key: "site.name", Value: "升级测试小区"})
	runConf := runConfig(t, root)
	bin := filepath.Join(root, "usr/bin/gateway")
	startStop(t, bin, runConf)
	mustRun(t, strings.NewReader("correct-horse-battery\n"), bin, "user", "add", "anna", "-role", "admin", "-password-stdin", "-config", runConf)
	data := filepath.Join(root, "var/lib/community-gateway")
	os.WriteFile(filepath.Join(data, "installer-notes.txt"), []byte("keep me"), 0o640)

	makePackage(t, repo, filepath.Join(out, "v2"), v2, "amd64:")
	dpkg(t, root, "-i", deb("v2", "community-gateway", v2, "amd64"), deb("v2", "community-cloud", v2, "amd64"))
	t.Run("upgraded", func(t *testing.T) {
		for _, p := range packages {
			checkInstalled(t, root, p.name, p.binary, v2)
		}
		if got, _ := os.ReadFile(gwConf); !bytes.Equal(got, edited) {
			t.Errorf("the upgrade replaced the edited configuration:\n%s", got)
		}
		if got, _ := os.ReadFile(filepath.Join(data, "installer-notes.txt")); string(got) != "keep me" {
			t.Errorf("the upgrade lost a data file: %q", got)
		}
		uid, _ := ids(t, root, "community-gateway")
		db := filepath.Join(data, "gateway.db")
		if st, err := os.Stat(db); err != nil || st.Sys().(*syscall.Stat_t).Uid != uint32(uid) {
			t.Errorf("database %s after the upgrade: %v (want it owned by uid %d)", db, err, uid)
		}
		// the new binary opens the old database, migrates it forward and finds the user
		startStop(t, bin, runConf)
		if got := mustRun(t, nil, bin, "user", "list", "-config", runConf); !strings.Contains(got, "anna") {
			t.Errorf("user made before the upgrade is gone:\n%s", got)
		}
	})

	dpkg(t, root, "-r", "community-gateway", "community-cloud")
	t.Run("removed", func(t *testing.T) {
		for _, p := range packages {
			if _, err := os.Stat(filepath.Join(root, "usr/bin", p.binary)); !os.IsNotExist(err) {
				t.Errorf("/usr/bin/%s after remove: %v", p.binary, err)
			}
			for _, keep := range []string{"etc/" + p.name, "var/lib/" + p.name} {
				if _, err := os.Stat(filepath.Join(root, keep)); err != nil {
					t.Errorf("remove must keep /%s: %v", keep, err)
				}
			}
		}
	})
	dpkg(t, root, "-P", "community-gateway", "community-cloud")
	t.Run("purged", func(t *testing.T) {
		for _, p := range packages {
			for _, gone := range []string{"etc/" + p.name, "var/lib/" + p.name} {
				if _, err := os.Stat(filepath.Join(root, gone)); !os.IsNotExist(err) {
					t.Errorf("purge left /%s: %v", gone, err)
				}
			}
			for _, f := range []string{"passwd", "group"} {
				if b, _ := os.ReadFile(filepath.Join(root, "etc", f)); strings.Contains(string(b), p.name+":") {
					t.Errorf("purge left %s in /etc/%s", p.name, f)
				}
			}
		}
	})
}

// makePackage runs `make package` for the targets into dir.
func makePackage(t *testing.T, repo, dir, version, targets string) {
	t.Helper()
	cmd := exec.Command("make", "--no-print-directory", "package", "PKG="+dir, "DEB_VERSION="+version, "TARGETS="+targets)
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make package: %v\n%s", err, out)
	}
}

// checkDeb inspects one .deb with dpkg-deb: control fields, file list and modes against
// testdata/PKG.contents, conffiles, maintainer scripts and the binary's architecture.
func checkDeb(t *testing.T, repo, path, pkg, binary, version, arch string, machine elf.Machine) {
	fields := mustRun(t, nil, "dpkg-deb", "-f", path, "Package", "Version", "Architecture", "Depends")
	if want := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nDepends: passwd\n", pkg, version, arch); fields != want {
		t.Errorf("control fields:\n%s\nwant:\n%s", fields, want)
	}

	// file list: mode, owner and path (sizes and dates vary)
	var list, etc []string
	for _, l := range strings.Split(strings.TrimSpace(mustRun(t, nil, "dpkg-deb", "-c", path)), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c line %q", l)
		}
		list = append(list, f[0]+" "+f[1]+" "+f[5])
		if strings.HasPrefix(f[5], "./etc/") && !strings.HasPrefix(f[0], "d") {
			etc = append(etc, strings.TrimPrefix(f[5], "."))
		}
	}
	golden(t, filepath.Join("testdata", pkg+".contents"), strings.Join(list, "\n")+"\n")

	ctrl := t.TempDir()
	mustRun(t, nil, "dpkg-deb", "-e", path, ctrl)
	conffiles, _ := os.ReadFile(filepath.Join(ctrl, "conffiles"))
	got := strings.Fields(string(conffiles))
	sort.Strings(got)
	sort.Strings(etc)
	if strings.Join(got, " ") != strings.Join(etc, " ") || !strings.Contains(string(conffiles), "/etc/"+pkg+"/environment") {
		t.Errorf("conffiles %v, want every file under /etc: %v", got, etc)
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		b, err := os.ReadFile(filepath.Join(ctrl, s))
		if err != nil {
			t.Errorf("no %s: %v", s, err)
			continue
		}
		if src, _ := os.ReadFile(filepath.Join(repo, "configs", "packaging", s)); !bytes.Equal(b, src) {
			t.Errorf("%s differs from configs/packaging/%s", s, s)
		}
		if st, _ := os.Stat(filepath.Join(ctrl, s)); st.Mode().Perm() != 0o755 {
			t.Errorf("%s mode %v", s, st.Mode())
		}
		if out, err := exec.Command("sh", "-n", filepath.Join(ctrl, s)).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", s, err, out)
		}
		for _, want := range []string{"set -e", "DPKG_ROOT", "DPKG_MAINTSCRIPT_PACKAGE"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s lacks %q", s, want)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(ctrl, "preinst")); !os.IsNotExist(err) {
		t.Errorf("unexpected preinst: %v", err)
	}

	// the binary: the package's architecture, statically linked (no interpreter, no libraries)
	exe := extract(t, path, "./usr/bin/"+binary)
	f, err := elf.NewFile(bytes.NewReader(exe))
	if err != nil {
		t.Fatalf("/usr/bin/%s: %v", binary, err)
	}
	if f.Machine != machine {
		t.Errorf("/usr/bin/%s is %v, want %v", binary, f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("/usr/bin/%s is dynamically linked (%v)", binary, p.Type)
		}
	}
}

// extract reads one file out of a .deb's data archive.
func extract(t *testing.T, deb, name string) []byte {
	cmd := exec.Command("dpkg-deb", "--fsys-tarfile", deb)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer io.Copy(io.Discard, stdout)
	tr := tar.NewReader(stdout)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s not in %s: %v", name, deb, err)
		}
		if h.Name == name {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update after checking):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// newRoot makes an empty system for dpkg --root: its database and the account files the
// maintainer scripts edit.
func newRoot(t *testing.T) string {
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "etc"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	for name, text := range map[string]string{
		"var/lib/dpkg/status": "", "var/lib/dpkg/available": "",
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n", "etc/group": "root:x:0:\n",
		"etc/shadow": "root:*:19000:0:99999:7:::\n", "etc/gshadow": "root:*::\n",
	} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(text), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// dpkg runs dpkg on the throw-away root. The root has no passwd package, hence --force-depends.
func dpkg(t *testing.T, root string, args ...string) {
	t.Helper()
	mustRun(t, nil, "dpkg", append([]string{"--root=" + root, "--force-script-chrootless", "--force-depends", "--force-confold"}, args...)...)
}

// ids are the numeric user and group of name in the root's account files.
func ids(t *testing.T, root, name string) (uid, gid int) {
	t.Helper()
	entry := func(file string, n int) []string {
		b, _ := os.ReadFile(filepath.Join(root, "etc", file))
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Split(l, ":"); f[0] == name && len(f) == n {
				return f
			}
		}
		t.Fatalf("%s not in /etc/%s:\n%s", name, file, b)
		return nil
	}
	pw, gr := entry("passwd", 7), entry("group", 4)
	uid, _ = strconv.Atoi(pw[2])
	gid, _ = strconv.Atoi(gr[2])
	if pw[3] != gr[2] || pw[5] != "/var/lib/"+name || pw[6] != "/usr/sbin/nologin" {
		t.Errorf("passwd entry %q", strings.Join(pw, ":"))
	}
	if uid == 0 || uid >= 1000 || gid == 0 || gid >= 1000 {
		t.Errorf("%s is uid %d gid %d, want a system account", name, uid, gid)
	}
	return uid, gid
}

// checkInstalled checks what the package and its postinst left in the root.
func checkInstalled(t *testing.T, root, pkg, binary, version string) {
	status := mustRun(t, nil, "dpkg", "--root="+root, "-s", pkg)
	if !strings.Contains(status, "Status: install ok installed") || !strings.Contains(status, "Version: "+version+"\n") {
		t.Errorf("dpkg -s %s:\n%s", pkg, status)
	}
	uid, gid := ids(t, root, pkg)
	for _, c := range []struct {
		path     string
		mode     os.FileMode
		uid, gid int
	}{
		{"var/lib/" + pkg, os.ModeDir | 0o750, uid, gid},
		{"etc/" + pkg + "/" + binary + ".yaml", 0o640, 0, gid},
		{"etc/" + pkg + "/environment", 0o600, 0, 0},
		{"usr/bin/" + binary, 0o755, 0, 0},
		{"usr/lib/systemd/system/" + pkg + ".service", 0o644, 0, 0},
	} {
		st, err := os.Stat(filepath.Join(root, c.path))
		if err != nil {
			t.Errorf("/%s: %v", c.path, err)
			continue
		}
		s := st.Sys().(*syscall.Stat_t)
		if st.Mode() != c.mode || int(s.Uid) != c.uid || int(s.Gid) != c.gid {
			t.Errorf("/%s is %v %d:%d, want %v %d:%d", c.path, st.Mode(), s.Uid, s.Gid, c.mode, c.uid, c.gid)
		}
	}
	// the installed binary accepts the installed configuration, with no environment at all
	cmd := exec.Command(filepath.Join(root, "usr/bin", binary), "check-config", "-config", filepath.Join(root, "etc", pkg, binary+".yaml"))
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%s check-config of the installed configuration: %v\n%s", binary, err, out)
	}
	if got := mustRun(t, nil, filepath.Join(root, "usr/bin", binary), "version"); !strings.Contains(got, version) {
		t.Errorf("%s version: %q, want %s", binary, got, version)
	}
}

var exposure = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)

// checkUnits runs systemd-analyze verify on both installed units in the root (with the host's
// own targets and chown copied in, since the root has neither systemd nor coreutils) and requires no complaint at all, and
// systemd-analyze security to rate both well hardened.
func checkUnits(t *testing.T, root string) {
	units := filepath.Join(root, "usr/lib/systemd/system")
	host, _ := filepath.Glob("/usr/lib/systemd/system/*.target")
	if len(host) == 0 {
		t.Fatal("no systemd targets on this machine (Debian package systemd)")
	}
	for _, f := range host {
		if b, err := os.ReadFile(f); err == nil {
			os.WriteFile(filepath.Join(units, filepath.Base(f)), b, 0o644)
		}
	}
	// the units' ExecStartPre chown, from the host's coreutils
	if b, err := os.ReadFile("/bin/chown"); err != nil {
		t.Fatal(err)
	} else {
		os.MkdirAll(filepath.Join(root, "bin"), 0o755)
		os.WriteFile(filepath.Join(root, "bin/chown"), b, 0o755)
	}
	for _, p := range packages {
		unit := "/usr/lib/systemd/system/" + p.name + ".service"
		text, err := os.ReadFile(filepath.Join(root, unit))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"User=" + p.name, "Group=" + p.name, "ProtectSystem=strict", "ReadWritePaths=/var/lib/" + p.name,
			"Restart=always", "StandardOutput=journal", "NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectHome=yes",
			"CapabilityBoundingSet=\n", "AmbientCapabilities=\n",
			"ExecStartPre=/usr/bin/" + p.binary + " check-config -config /etc/" + p.name + "/" + p.binary + ".yaml",
			"ExecStart=/usr/bin/" + p.binary + " run -config /etc/" + p.name + "/" + p.binary + ".yaml",
		} {
			if !strings.Contains(string(text), "\n"+want) {
				t.Errorf("%s lacks the line %q", unit, strings.TrimSpace(want))
			}
		}
		out, err := exec.Command("systemd-analyze", "verify", "--root="+root, unit).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", p.name, err, out)
		}
		sec, err := exec.Command("systemd-analyze", "security", "--offline=yes", "--root="+root, unit).CombinedOutput()
		m := exposure.FindSubmatch(sec)
		if err != nil || m == nil {
			t.Errorf("systemd-analyze security %s: %v\n%s", p.name, err, sec)
			continue
		}
		if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.0 {
			t.Errorf("%s exposure level %.1f, want at most 2.0 (OK):\n%s", p.name, level, sec)
		} else {
			t.Logf("%s: systemd-analyze security exposure %.1f", p.name, level)
		}
	}
}

// editFile applies an edit to a file as an installer would, returning the new content.
func editFile(t *testing.T, path string, e Edit) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Derivation{Edits: []Edit{e}}.Derive(b)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if err := os.WriteFile(path, out, st.Mode()); err != nil {
		t.Fatal(err)
	}
	return out
}

// runConfig is the installed gateway configuration pointed at the root's data directory and
// models, on free loopback ports and plain HTTP, so the installed binary can run here.
func runConfig(t *testing.T, root string) string {
	b, err := os.ReadFile(filepath.Join(root, "etc/community-gateway/gateway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	port := func() string {
		p, err := testenv.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		return strconv.Itoa(p)
	}
	out, err := Derivation{Edits: []Edit{
		{Key: "data_dir", Value: filepath.Join(root, "var/lib/community-gateway")},
		{Key: "alink.models_dir", Value: filepath.Join(root, "etc/community-gateway/alink")},
		{Key: "broker.embedded.listen", Value: "127.0.0.1:" + port()},
		{Key: "http.listen", Value: "127.0.0.1:" + port()},
		{Key: "http.tls", Value: `""`},
		{Key: "video.webrtc.udp_port", Value: port()},
		{Key: "influx.url", Value: `""`},
	}}.Derive(b)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "run.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startStop runs the gateway on the configuration until it is healthy, then stops it.
func startStop(t *testing.T, bin, conf string) {
	t.Helper()
	b, _ := os.ReadFile(conf)
	m := regexp.MustCompile(`(?m)^  listen: (127\.0\.0\.1:\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no http.listen in %s", conf)
	}
	g, err := testenv.StartGateway(bin, conf, "http://"+string(m[1]), "")
	if err != nil {
		t.Fatal(err)
	}
	g.Stop()
}

func mustRun(t *testing.T, stdin io.Reader, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}
