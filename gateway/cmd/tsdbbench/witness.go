package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/community-edge/edge/gateway/internal/testenv"
	paho "github.com/eclipse/paho.mqtt.golang"
)

// witnessProc runs the witness in a child process (tsdbbench -witness), so that it gets its own
// share of the machine and keeps up however busy the load generator is; a lagging witness
// would have its queue cut by Mosquitto's max_queued_messages.
type witnessProc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	msgs int64
	pts  int64
	done chan struct{}
}

func startWitnessProc(broker string) (*witnessProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	w := &witnessProc{cmd: exec.Command(self, "-witness", broker), done: make(chan struct{})}
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	w.cmd.Stderr = os.Stderr
	if err := w.cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan struct{})
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(out)
		first := true
		for sc.Scan() {
			var m, p int64
			if _, err := fmt.Sscan(sc.Text(), &m, &p); err != nil {
				continue
			}
			w.mu.Lock()
			w.msgs, w.pts = m, p
			w.mu.Unlock()
			if first {
				close(ready)
				first = false
			}
		}
	}()
	select {
	case <-ready:
		return w, nil
	case <-w.done:
		w.cmd.Wait()
		return nil, fmt.Errorf("witness did not start")
	case <-time.After(20 * time.Second):
		w.stop()
		return nil, fmt.Errorf("witness did not subscribe within 20s")
	}
}

// wait waits until the witness has seen n messages and returns the distinct points.
func (w *witnessProc) wait(n int64, d time.Duration) (int64, error) {
	deadline := time.Now().Add(d)
	for {
		w.mu.Lock()
		m, p := w.msgs, w.pts
		w.mu.Unlock()
		if m >= n {
			return p, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("witness saw %d of %d messages", m, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (w *witnessProc) stop() {
	w.cmd.Process.Signal(syscall.SIGTERM)
	<-w.done
	w.cmd.Wait()
}

// runWitness is the child: it prints "messages distinct" every 100 ms until SIGTERM.
func runWitness(broker string) {
	w, err := startWitness(broker)
	if err != nil {
		fail(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		w.mu.Lock()
		fmt.Println(w.msgs, len(w.seen))
		w.mu.Unlock()
		select {
		case <-sig:
			w.stop()
			return
		case <-t.C:
		}
	}
}

// witness subscribes to the load beside the system under test and records the distinct
// points it makes: (topic, port, ts) for telemetry, (topic, type, ts) for events.
type witness struct {
	client paho.Client
	mu     sync.Mutex
	seen   map[pointKey]struct{}
	msgs   int64
}

type pointKey struct {
	topic string
	port  int
	typ   string
	ts    int64
}

func startWitness(broker string) (*witness, error) {
	w := &witness{seen: map[pointKey]struct{}{}}
	opts := paho.NewClientOptions().AddBroker("tcp://" + broker).SetClientID("tsdbbench-witness").
		SetUsername("gateway").SetPassword(testenv.BenchGatewayPassword).SetCleanSession(true).SetOrderMatters(true)
	w.client = paho.NewClient(opts)
	if tok := w.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("witness: connect: %v", tok.Error())
	}
	handler := func(_ paho.Client, m paho.Message) {
		payload := m.Payload()
		k := pointKey{topic: m.Topic(), ts: jsonInt(payload, `"ts":`)}
		if strings.HasSuffix(k.topic, "/event") {
			k.typ = jsonString(payload, `"type":"`)
		} else {
			k.port = int(jsonInt(payload, `"port":`))
		}
		w.mu.Lock()
		w.seen[k] = struct{}{}
		w.msgs++
		w.mu.Unlock()
	}
	tok := w.client.SubscribeMultiple(map[string]byte{"community/+/+/+/telemetry": 1, "community/+/+/+/event": 1}, handler)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		w.client.Disconnect(0)
		return nil, fmt.Errorf("witness: subscribe: %v", tok.Error())
	}
	return w, nil
}

func (w *witness) stop() { w.client.Disconnect(100) }

// jsonInt reads the integer after key in a load payload (flat, no spaces: the load's own
// encoder); 0 when absent. Cheaper than decoding, so the witness keeps up.
func jsonInt(b []byte, key string) int64 {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0
	}
	var n int64
	for _, c := range b[i+len(key):] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// jsonString reads the string after key (which ends with the opening quote).
func jsonString(b []byte, key string) string {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return ""
	}
	rest := b[i+len(key):]
	if j := bytes.IndexByte(rest, '"'); j >= 0 {
		return string(rest[:j])
	}
	return ""
}
