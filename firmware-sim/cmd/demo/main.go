// Command demo runs the whole community system on one machine from the demo configuration:
// the gateway with its embedded broker, the simulated device fleet playing the demo scenario,
// the simulated camera and, when present, the grid case system. It builds each program,
// starts them in order, prints what to open, and stops them all on Ctrl-C.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type program struct {
	name string
	pkg  string // built by the demo, or
	path string // an installed program
	args []string
	// ready waits until the program serves; nil means "started is enough".
	ready func(ctx context.Context) error
	cmd   *exec.Cmd
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	bin, err := os.MkdirTemp("", "community-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)
	cfg := func(p string) string { return filepath.Join(root, "configs", p) }

	progs := []*program{}
	if influxd, err := findInfluxd(ctx); err != nil {
		fmt.Printf("  InfluxDB not available (%v):\n  the gateway runs anyway and keeps telemetry in its spool until InfluxDB is there.\n", err)
	} else {
		progs = append(progs, &program{name: "influxd", path: influxd, args: []string{"-config", cfg("influxdb/influxdb.conf")},
			ready: influxReady("http://127.0.0.1:8086")})
	}
	progs = append(progs, []*program{
		{name: "cloud", pkg: "./cloud/cmd/cloud", args: []string{"run", "-config", cfg("cloud.demo.yaml")},
			ready: httpReady("http://127.0.0.1:8480/healthz")},
		{name: "gateway", pkg: "./gateway/cmd/gateway", args: []string{"run", "-config", cfg("demo.yaml")},
			ready: httpReady("http://127.0.0.1:8080/healthz")},
		{name: "camsim", pkg: "./firmware-sim/cmd/camsim", args: []string{"-listen", "127.0.0.1:8554", "-user", "admin", "-pass", "demo-camera-pass",
			"-onvif", "-onvif-interface", "lo", "-onvif-name", "演示摄像机", "-onvif-location", "1号楼"}},
		{name: "fwsim", pkg: "./firmware-sim/cmd/fwsim", args: []string{"run", "-broker", "tcp://127.0.0.1:1883", "-site", "demo",
			"-scenario", cfg("scenarios/demo.yaml"), "-credentials", cfg("demo-credentials.txt"), "-alink-models", cfg("alink")}},
	}...)
	fmt.Println("社区边缘网关演示 / community gateway demo — building programs …")
	for _, p := range progs {
		if p.pkg == "" {
			continue // an installed program
		}
		fmt.Printf("  building %s\n", p.name)
		b := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(bin, p.name), p.pkg)
		b.Dir, b.Stdout, b.Stderr = root, os.Stdout, os.Stderr
		if err := b.Run(); err != nil {
			return fmt.Errorf("building %s: %w", p.name, err)
		}
	}
	if err := demoUsers(ctx, filepath.Join(bin, "gateway"), cfg("demo.yaml")); err != nil {
		return err
	}
	defer func() {
		for i := len(progs) - 1; i >= 0; i-- {
			stopProgram(progs[i])
		}
		fmt.Println("demo stopped.")
	}()
	for _, p := range progs {
		path := p.path
		if path == "" {
			path = filepath.Join(bin, p.name)
		}
		p.cmd = exec.Command(path, p.args...)
		p.cmd.Dir, p.cmd.Stdout, p.cmd.Stderr = root, prefixed(p.name, os.Stdout), prefixed(p.name, os.Stderr)
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches us; we stop them in order
		if err := p.cmd.Start(); err != nil {
			return fmt.Errorf("starting %s: %w", p.name, err)
		}
		if p.ready != nil {
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := p.ready(rctx)
			cancel()
			if err != nil {
				return fmt.Errorf("%s did not become ready: %w", p.name, err)
			}
		}
	}
	fmt.Print(`
────────────────────────────────────────────────────────────────────────
 演示已启动 / demo running
   duty console  http://127.0.0.1:8080/   log in as duty, security or admin, password demo-pass-2025
   installer     the same address as installer: add devices (QR code, CSV), cameras (ONVIF search), checks
   grid centre   http://127.0.0.1:8480/   log in as dispatcher, wuye, inspector or demo, password demo-pass-2025
   gateway API   http://127.0.0.1:8080/api/v1/devices
                 (header  Authorization: Bearer demo-admin-token-please-change)
   metrics       http://127.0.0.1:8080/metrics  (same header)
   MQTT broker   tcp://127.0.0.1:1883 (per-device logins: configs/demo-credentials.txt)
   time series   InfluxDB at http://127.0.0.1:8086 (database db/rp), charts on each device page
   camera        rtsp://admin:demo-camera-pass@127.0.0.1:8554/main  (try: ffplay -rtsp_transport tcp …)
                 it answers ONVIF discovery on lo: gateway camera discover -interface lo
   scenario      configs/scenarios/demo.yaml: an SOS at 10 s, a fall, a charger overheating,
                 a locker door left open, a call button dropping off — looping every 3 min
   try:  curl -s -H 'Authorization: Bearer demo-admin-token-please-change' http://127.0.0.1:8080/api/v1/devices/cb-0001
 Ctrl-C stops everything.
────────────────────────────────────────────────────────────────────────
`)
	exited := make(chan string, len(progs))
	for _, p := range progs {
		go func(p *program) { p.cmd.Wait(); exited <- p.name }(p)
	}
	select {
	case <-ctx.Done():
		fmt.Println("\nstopping …")
		return nil
	case name := <-exited:
		return fmt.Errorf("%s exited; stopping the demo", name)
	}
}

// demoPassword is every demo login's password.
const demoPassword = "demo-pass-2025"

// demoUsers makes the console's demo logins, once: a user that exists is left as it is.
func demoUsers(ctx context.Context, gateway, config string) error {
	for _, u := range [][2]string{{"admin", "admin"}, {"duty", "duty"}, {"security", "security"}, {"installer", "installer"}} {
		cmd := exec.CommandContext(ctx, gateway, "user", "add", u[0], "-role", u[1], "-password-stdin", "-config", config)
		cmd.Stdin = strings.NewReader(demoPassword + "\n")
		out, err := cmd.CombinedOutput()
		if err != nil && !strings.Contains(string(out), "exists") {
			return fmt.Errorf("demo user %s: %v: %s", u[0], err, out)
		}
	}
	return nil
}

func stopProgram(p *program) {
	if p.cmd == nil || p.cmd.Process == nil || p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Process.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
	}
}

func httpReady(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		for {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					return nil
				}
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
}

// findInfluxd finds influxd 1.8 (on PATH or in GOPATH/bin), installing it with go install the
// first time: it is pure Go and takes a few minutes to build.
func findInfluxd(ctx context.Context) (string, error) {
	if p, err := exec.LookPath("influxd"); err == nil {
		return p, nil
	}
	gopath, err := exec.CommandContext(ctx, "go", "env", "GOPATH").Output()
	if err != nil {
		return "", err
	}
	p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "influxd")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	fmt.Println("  installing InfluxDB 1.8.10 (go install, first time only: a few minutes) …")
	cmd := exec.CommandContext(ctx, "go", "install", "github.com/influxdata/influxdb/cmd/influxd@v1.8.10")
	cmd.Dir, cmd.Stdout, cmd.Stderr = os.TempDir(), os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go install influxd: %w", err)
	}
	return p, nil
}

// influxReady waits for InfluxDB and makes the demo's database (db, retention policy rp).
func influxReady(base string) func(context.Context) error {
	ping := httpReady(base + "/ping")
	return func(ctx context.Context) error {
		if err := ping(ctx); err != nil {
			return err
		}
		q := url.Values{"q": {"CREATE DATABASE db WITH NAME rp"}}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/query", strings.NewReader(q.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("create database: %s", resp.Status)
		}
		return nil
	}
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "configs", "demo.yaml")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the demo from inside the repository (make demo)")
		}
		dir = parent
	}
}

// prefixed writes each line of a program's output with its name in front.
func prefixed(name string, w *os.File) *prefixWriter {
	return &prefixWriter{name: name, w: w, bol: true}
}

type prefixWriter struct {
	name string
	w    *os.File
	bol  bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	out := make([]byte, 0, len(b)+16)
	for _, c := range b {
		if p.bol {
			out = append(out, fmt.Sprintf("%-8s| ", p.name)...)
			p.bol = false
		}
		out = append(out, c)
		if c == '\n' {
			p.bol = true
		}
	}
	_, err := p.w.Write(out)
	return len(b), err
}
