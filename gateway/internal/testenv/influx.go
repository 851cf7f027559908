package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Influx is a running InfluxDB 1.8 (influxd) serving the v2 write and Flux query API. Its
// bucket is InfluxBucket and any token of the form user:password is accepted (auth is off).
type Influx struct {
	URL  string // http://127.0.0.1:port
	dir  string
	bin  string
	conf string
	cmd  *exec.Cmd
	done chan struct{}
	log  *Buffer
}

// The database, retention policy, bucket and token tests use.
const (
	InfluxDB     = "db"
	InfluxRP     = "rp"
	InfluxBucket = InfluxDB + "/" + InfluxRP
	InfluxToken  = "user:password"
)

// InfluxBinary finds influxd: on PATH or in $(go env GOPATH)/bin.
func InfluxBinary() (string, error) {
	if p, err := exec.LookPath("influxd"); err == nil {
		return p, nil
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "influxd")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("testenv: influxd not installed: run `go install github.com/influxdata/influxdb/cmd/influxd@v1.8.10` (.ci/install-deps does)")
}

// StartInflux runs influxd with its data under dir on free loopback ports, with Flux enabled,
// and creates database db with retention policy rp (bucket db/rp).
func StartInflux(dir string) (*Influx, error) {
	bin, err := InfluxBinary()
	if err != nil {
		return nil, err
	}
	httpPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	rpcPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = %q
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
  index-version = "inmem"
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:%d"
  auth-enabled = false
  log-enabled = false
  flux-enabled = true
[logging]
  level = "warn"
`, rpcPort, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), httpPort)
	in := &Influx{URL: fmt.Sprintf("http://127.0.0.1:%d", httpPort), dir: dir, bin: bin,
		conf: filepath.Join(dir, "influxdb.conf"), log: &Buffer{}}
	if err := os.WriteFile(in.conf, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	if err := in.Start(); err != nil {
		return nil, err
	}
	if err := in.Exec(fmt.Sprintf("CREATE DATABASE %s WITH NAME %s", InfluxDB, InfluxRP)); err != nil {
		in.Stop()
		return nil, err
	}
	return in, nil
}

// Start starts influxd again after Stop, on the same ports and data.
func (in *Influx) Start() error {
	in.cmd = exec.Command(in.bin, "-config", in.conf)
	in.cmd.Stdout, in.cmd.Stderr = in.log, in.log
	if err := in.cmd.Start(); err != nil {
		return fmt.Errorf("testenv: influxd: %w", err)
	}
	in.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { c.Wait(); close(done) }(in.cmd, in.done)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-in.done:
			return fmt.Errorf("testenv: influxd exited at start:\n%s", in.log.String())
		default:
		}
		if resp, err := http.Get(in.URL + "/ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	in.Stop()
	return fmt.Errorf("testenv: influxd not answering /ping after 30s:\n%s", in.log.String())
}

// Stop ends influxd (SIGTERM, then SIGKILL after 10 s) and waits for it.
func (in *Influx) Stop() {
	if in.cmd == nil || in.cmd.Process == nil {
		return
	}
	in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
	case <-time.After(10 * time.Second):
		in.cmd.Process.Kill()
		<-in.done
	}
}

// Pid is influxd's process id.
func (in *Influx) Pid() int { return in.cmd.Process.Pid }

// Log is what influxd printed.
func (in *Influx) Log() string { return in.log.String() }

// Exec runs an InfluxQL statement through the v1 /query endpoint.
func (in *Influx) Exec(q string) error {
	resp, err := http.PostForm(in.URL+"/query", url.Values{"q": {q}})
	if err != nil {
		return fmt.Errorf("testenv: influx query: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), `"error"`) {
		return fmt.Errorf("testenv: influx query %q: %s: %s", q, resp.Status, body)
	}
	return nil
}

// FluxCSV runs a Flux query through the v2 query API and returns the annotated CSV answer.
func (in *Influx) FluxCSV(ctx context.Context, flux string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", in.URL+"/api/v2/query", strings.NewReader(flux))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/vnd.flux")
	req.Header.Set("Accept", "application/csv")
	req.Header.Set("Authorization", "Token "+InfluxToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("testenv: flux query: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("testenv: flux query: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("testenv: flux query: %s: %s", resp.Status, body)
	}
	return string(body), nil
}
