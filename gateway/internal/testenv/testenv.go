// Package testenv starts the real servers the gateway's tests and benchmarks run against: a
// Mosquitto with the shipped configuration and ACL (rewritten only for port, paths and the
// password file), and the gateway binary itself. Everything binds to 127.0.0.1 on free ports.
package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// FreePort returns a TCP port free on 127.0.0.1 now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitTCP waits until something accepts connections on addr.
func WaitTCP(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("testenv: nothing listening on %s after %s", addr, d)
}

// Mosquitto is a running Mosquitto.
type Mosquitto struct {
	Addr string
	cmd  *exec.Cmd
	log  *Buffer
}

// StartMosquitto runs Mosquitto in dir with the repository's configs/mosquitto files and a
// password file of the given "user:hash" lines.
func StartMosquitto(repoRoot, dir string, passwd []string) (*Mosquitto, error) {
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if _, e2 := os.Stat("/usr/sbin/mosquitto"); e2 != nil {
			return nil, fmt.Errorf("testenv: mosquitto not installed (Debian package mosquitto; .ci/install-deps installs it): %w", err)
		}
		bin = "/usr/sbin/mosquitto"
	}
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte(strings.Join(passwd, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	acl, err := os.ReadFile(filepath.Join(repoRoot, "configs", "mosquitto", "acl"))
	if err != nil {
		return nil, err
	}
	os.WriteFile(filepath.Join(dir, "acl"), acl, 0o600)
	conf, err := os.ReadFile(filepath.Join(repoRoot, "configs", "mosquitto", "mosquitto.conf"))
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	c := string(conf)
	c = regexp.MustCompile(`(?m)^listener 1883$`).ReplaceAllString(c, fmt.Sprintf("listener %d 127.0.0.1", port))
	c = strings.ReplaceAll(c, "/etc/mosquitto/community/passwd", filepath.Join(dir, "passwd"))
	c = strings.ReplaceAll(c, "/etc/mosquitto/community/acl", filepath.Join(dir, "acl"))
	c = strings.ReplaceAll(c, "/var/lib/mosquitto/", dir+"/")
	if strings.Count(c, dir) != 3 || !strings.Contains(c, fmt.Sprintf("listener %d", port)) {
		return nil, errors.New("testenv: the shipped mosquitto.conf no longer has the lines this rewrites")
	}
	// Run as the current user, so Mosquitto (which drops root to "mosquitto") can read dir.
	if u, err := user.Current(); err == nil {
		c += "\nuser " + u.Username + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "mosquitto.conf"), []byte(c), 0o600); err != nil {
		return nil, err
	}
	m := &Mosquitto{Addr: fmt.Sprintf("127.0.0.1:%d", port), log: &Buffer{}}
	m.cmd = exec.Command(bin, "-c", filepath.Join(dir, "mosquitto.conf"))
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	if err := m.cmd.Start(); err != nil {
		return nil, err
	}
	if err := WaitTCP(m.Addr, 10*time.Second); err != nil {
		m.Stop()
		return nil, fmt.Errorf("%w\n%s", err, m.log.String())
	}
	return m, nil
}

// Stop ends Mosquitto.
func (m *Mosquitto) Stop() {
	m.cmd.Process.Signal(syscall.SIGTERM)
	m.cmd.Wait()
}

// Log is what Mosquitto printed.
func (m *Mosquitto) Log() string { return m.log.String() }

// Pid is Mosquitto's process id.
func (m *Mosquitto) Pid() int { return m.cmd.Process.Pid }

// Buffer is a bytes.Buffer safe for concurrent writers.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
