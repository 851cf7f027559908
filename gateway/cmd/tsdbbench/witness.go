package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

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
	opts := paho.NewClientOptions().AddBroker("tcp://"+broker).SetClientID("tsdbbench-witness").
		SetUsername("gateway").SetPassword(gwPass).SetCleanSession(true).SetOrderMatters(false)
	w.client = paho.NewClient(opts)
	if tok := w.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("witness: connect: %v", tok.Error())
	}
	handler := func(_ paho.Client, m paho.Message) {
		var p struct {
			TS   int64  `json:"ts"`
			Port int    `json:"port"`
			Type string `json:"type"`
		}
		json.Unmarshal(m.Payload(), &p)
		k := pointKey{topic: m.Topic(), ts: p.TS}
		if strings.HasSuffix(k.topic, "/event") {
			k.typ = p.Type
		} else {
			k.port = p.Port
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

// wait waits until the witness has seen n messages.
func (w *witness) wait(n int64, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		w.mu.Lock()
		got := w.msgs
		w.mu.Unlock()
		if got >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("witness saw %d of %d messages", got, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (w *witness) distinct() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return int64(len(w.seen))
}

func (w *witness) stop() { w.client.Disconnect(100) }
