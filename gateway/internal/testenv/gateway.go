package testenv

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RepoRoot finds the repository from the working directory.
func RepoRoot() (string, error) {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "configs", "mosquitto", "mosquitto.conf")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("testenv: run from inside the repository")
		}
		dir = parent
	}
}

// BuildGateway builds the gateway binary into dir as the Makefile builds what ships: static
// (CGO_ENABLED=0), without symbol tables, so benchmarks measure the binary a box runs.
func BuildGateway(root, dir string) (string, error) {
	bin := filepath.Join(dir, "gateway")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./gateway/cmd/gateway")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("testenv: build gateway: %v\n%s", err, out)
	}
	return bin, nil
}

// Gateway is a running gateway process.
type Gateway struct {
	API   string // http://127.0.0.1:port
	Token string // a bearer token the config gives
	cmd   *exec.Cmd
	log   *Buffer
}

// StartGateway runs bin with the configuration file and waits until it is healthy.
func StartGateway(bin, cfgPath, api, token string) (*Gateway, error) {
	g := &Gateway{API: api, Token: token, log: &Buffer{}}
	g.cmd = exec.Command(bin, "run", "-config", cfgPath)
	g.cmd.Stdout, g.cmd.Stderr = g.log, g.log
	if err := g.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(api + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return g, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	g.Stop()
	return nil, fmt.Errorf("testenv: gateway not healthy after 30s:\n%s", g.log.String())
}

// Stop ends the gateway with SIGTERM and waits.
func (g *Gateway) Stop() {
	g.cmd.Process.Signal(syscall.SIGTERM)
	g.cmd.Wait()
}

// Pid is the gateway's process id.
func (g *Gateway) Pid() int { return g.cmd.Process.Pid }

// Log is what the gateway printed.
func (g *Gateway) Log() string { return g.log.String() }

// Do sends an authenticated request.
func (g *Gateway) Do(method, path string, body string) (*http.Response, error) {
	req, err := http.NewRequest(method, g.API+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+g.Token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return http.DefaultClient.Do(req)
}

// Metric reads one sample (its name and labels exactly as exposed) from /metrics.
func (g *Gateway) Metric(sample string) float64 {
	resp, err := g.Do("GET", "/metrics", "")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok && k == sample {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// CPUSeconds is the user and system CPU time a process has used.
func CPUSeconds(pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// PeakRSSMiB is a process's peak resident memory.
func PeakRSSMiB(pid int) float64 { return statusMiB(pid, "VmHWM:") }

// RSSMiB is a process's resident memory now.
func RSSMiB(pid int) float64 { return statusMiB(pid, "VmRSS:") }

// statusMiB reads a kB figure of /proc/PID/status in MiB.
func statusMiB(pid int, key string) float64 {
	raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, key); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// Machine describes this machine for benchmark reports.
func Machine() string {
	model := "unknown cpu"
	raw, _ := os.ReadFile("/proc/cpuinfo")
	n := 0
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
			n++
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	return fmt.Sprintf("%d × %s, load average %s", n, model, strings.Join(strings.Fields(string(load))[:3], " "))
}
