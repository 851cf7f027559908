// Package brokertest starts real MQTT brokers for tests: the embedded mochi-mqtt broker and
// a mosquitto process, each on a free loopback port, stopped when the test ends; and a
// subscriber that records what the broker delivers.
package brokertest

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Broker is a running broker.
type Broker struct {
	Name string
	URL  string // tcp://127.0.0.1:port
}

// Mochi starts an embedded mochi-mqtt broker that allows every client.
func Mochi(t testing.TB) Broker {
	t.Helper()
	s := mqtt.New(&mqtt.Options{InlineClient: false, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatalf("brokertest: mochi hook: %v", err)
	}
	addr := freeAddr(t)
	if err := s.AddListener(listeners.NewTCP(listeners.Config{ID: "t", Address: addr})); err != nil {
		t.Fatalf("brokertest: mochi listener: %v", err)
	}
	if err := s.Serve(); err != nil {
		t.Fatalf("brokertest: mochi serve: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	waitListening(t, addr)
	return Broker{Name: "mochi", URL: "tcp://" + addr}
}

// Mosquitto starts a mosquitto process. With passwords nil it allows anonymous clients;
// otherwise it requires those users (written with mosquitto_passwd -b). The test fails if
// mosquitto is not installed (.ci/install-deps installs it).
func Mosquitto(t testing.TB, passwords map[string]string) Broker {
	t.Helper()
	bin := lookPath(t, "mosquitto")
	dir := t.TempDir()
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	conf := fmt.Sprintf("listener %s 127.0.0.1\npersistence false\nmax_inflight_messages 1000\nmax_queued_messages 100000\n", port)
	if os.Geteuid() == 0 {
		// Run as root, mosquitto drops to user "mosquitto", who cannot read the test's files.
		conf += "user root\n"
	}
	if passwords == nil {
		conf += "allow_anonymous true\n"
	} else {
		pwfile := filepath.Join(dir, "passwd")
		if err := os.WriteFile(pwfile, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		pw := lookPath(t, "mosquitto_passwd")
		for user, pass := range passwords {
			if out, err := exec.Command(pw, "-b", pwfile, user, pass).CombinedOutput(); err != nil {
				t.Fatalf("brokertest: mosquitto_passwd: %v: %s", err, out)
			}
		}
		conf += "allow_anonymous false\npassword_file " + pwfile + "\n"
	}
	cf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-c", cf)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("brokertest: start mosquitto: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("brokertest: mosquitto exited: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("brokertest: mosquitto not listening on %s:\n%s", addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return Broker{Name: "mosquitto", URL: "tcp://" + addr}
}

func lookPath(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("brokertest: %s is not installed: the integration tests need the Debian package mosquitto (run .ci/install-deps)", name)
	return ""
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("brokertest: free port: %v", err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func waitListening(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("brokertest: nothing listens on %s", addr)
}

// Msg is a message a Subscriber received.
type Msg struct {
	Topic    string
	Payload  []byte
	Retained bool
	At       time.Time
}

// Subscriber records the messages on some topic filters.
type Subscriber struct {
	client paho.Client
	mu     sync.Mutex
	msgs   []Msg
	notify chan struct{}
}

// Subscribe connects a subscriber with the given credentials (user may be empty) and
// subscribes to filters at QoS 1.
func Subscribe(t testing.TB, b Broker, user, pass string, filters ...string) *Subscriber {
	t.Helper()
	s := &Subscriber{notify: make(chan struct{}, 1)}
	opts := paho.NewClientOptions().AddBroker(b.URL).SetClientID(fmt.Sprintf("sub-%d", time.Now().UnixNano())).
		SetUsername(user).SetPassword(pass).SetCleanSession(true).SetAutoReconnect(false).SetOrderMatters(true)
	s.client = paho.NewClient(opts)
	if tok := s.client.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("brokertest: subscriber connect to %s: %v", b.Name, tok.Error())
	}
	t.Cleanup(func() { s.client.Disconnect(100) })
	for _, f := range filters {
		tok := s.client.Subscribe(f, 1, func(_ paho.Client, m paho.Message) {
			s.mu.Lock()
			s.msgs = append(s.msgs, Msg{Topic: m.Topic(), Payload: m.Payload(), Retained: m.Retained(), At: time.Now()})
			s.mu.Unlock()
			select {
			case s.notify <- struct{}{}:
			default:
			}
		})
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("brokertest: subscribe %s: %v", f, tok.Error())
		}
	}
	return s
}

// Publish sends a message from the subscriber's client.
func (s *Subscriber) Publish(t testing.TB, topic string, payload []byte) {
	t.Helper()
	if tok := s.client.Publish(topic, 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("brokertest: publish %s: %v", topic, tok.Error())
	}
}

// WaitFor returns the first message (received so far or within timeout) that match accepts
// (match runs with the subscriber locked: it must not call its methods);
// the test fails with a description of what was received otherwise.
func (s *Subscriber) WaitFor(t testing.TB, what string, timeout time.Duration, match func(Msg) bool) Msg {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		for _, m := range s.msgs {
			if match(m) {
				s.mu.Unlock()
				return m
			}
		}
		n := len(s.msgs)
		var last []string
		for _, m := range s.msgs[max(0, n-5):] {
			last = append(last, m.Topic+" "+string(m.Payload))
		}
		s.mu.Unlock()
		select {
		case <-s.notify:
		case <-deadline.C:
			t.Fatalf("no %s within %s; %d messages received, the last: %q", what, timeout, n, last)
		}
	}
}

// All returns the messages received so far.
func (s *Subscriber) All() []Msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Msg(nil), s.msgs...)
}

// WaitCount waits until at least n messages have been received; the test fails otherwise.
func (s *Subscriber) WaitCount(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got := len(s.msgs)
		s.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-s.notify:
		case <-deadline.C:
			t.Fatalf("received %d messages within %s, want %d", got, timeout, n)
		}
	}
}
