// Package drivertest holds the tests every device family driver runs: golden files, the fuzz
// target with its encoding/json oracle, and the throughput benchmark. Family packages call it
// from their own _test files with their driver and their table of cases.
package drivertest

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/drivers/internal/jsonscan"
)

// Clock is the fixed receive time of the test registries (2026-01-01T00:00:00Z); Alink posts
// without a time are stamped with it.
var Clock = time.UnixMilli(1767225600000)

// Site and device names in native test topics.
const (
	Site   = "site-1"
	Device = "dev-001"
)

// ModelsDir is configs/alink seen from a family package directory.
const ModelsDir = "../../configs/alink"

// Suite is one family's test setup: its driver, the registry around it with the shipped
// models of its family, and the topics fuzzing chooses from.
type Suite struct {
	Driver   drivers.Driver
	Registry *drivers.Registry
	Models   []*drivers.AlinkModel
	// Normalised names the data fields the driver may rewrite (sos source, fault code); the
	// oracle does not compare them with the input.
	Normalised []string
	Topics     []string
}

// NewSuite builds the suite of driver d with the shipped models of its family.
func NewSuite(tb testing.TB, d drivers.Driver, normalised ...string) *Suite {
	tb.Helper()
	all, err := drivers.LoadAlinkModels(ModelsDir)
	if err != nil {
		tb.Fatal(err)
	}
	s := &Suite{Driver: d, Normalised: normalised,
		Registry: drivers.NewRegistry(drivers.WithClock(func() time.Time { return Clock }))}
	if err := s.Registry.Register(d); err != nil {
		tb.Fatal(err)
	}
	for _, ch := range []drivers.Channel{drivers.ChanEvent, drivers.ChanTelemetry, drivers.ChanStatus, drivers.ChanCmdAck} {
		s.Topics = append(s.Topics, NativeTopic(d.Family(), ch))
	}
	for _, m := range all {
		if m.Family != d.Family() {
			continue
		}
		if err := s.Registry.AddModel(m); err != nil {
			tb.Fatal(err)
		}
		s.Models = append(s.Models, m)
		s.Topics = append(s.Topics, drivers.AlinkPropertyTopic(m.ProductKey, Device))
		for _, id := range sortedKeys(m.Events) {
			s.Topics = append(s.Topics, drivers.AlinkEventTopic(m.ProductKey, Device, id))
		}
	}
	if len(s.Models) == 0 {
		tb.Fatalf("no %s model in %s", d.Family(), ModelsDir)
	}
	return s
}

// NativeTopic is the test topic of a family's channel.
func NativeTopic(f drivers.Family, ch drivers.Channel) string {
	return drivers.NativeTopic(Site, f, Device, ch)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Outcome is the canonical result of decoding one message: the message, or the rejection.
type Outcome struct {
	Message *drivers.Message `json:"message,omitempty"`
	Reject  drivers.Reason   `json:"reject,omitempty"`
	Error   string           `json:"error,omitempty"`
}

// Decode decodes through the suite's registry.
func (s *Suite) Decode(topic string, payload []byte) Outcome {
	msg, err := s.Registry.Decode(topic, payload)
	if err != nil {
		return Outcome{Reject: drivers.ReasonOf(err), Error: err.Error()}
	}
	return Outcome{Message: &msg}
}

// Golden decodes every input under testdata/golden and compares the outcome with the .golden
// file beside it; with update it rewrites the .golden files. An input file is named
// native.{channel}.{case}.json or alink.{productKey}.{identifier}.{case}.json, the
// identifier being "property" for property posts.
func (s *Suite) Golden(t *testing.T, update bool) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 {
		t.Fatal("no golden inputs in testdata/golden")
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			topic, err := s.GoldenTopic(name)
			if err != nil {
				t.Fatal(err)
			}
			payload, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			payload = bytes.TrimRight(payload, "\n")
			got, err := json.MarshalIndent(s.Decode(topic, payload), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(in, ".json") + ".golden"
			if update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("decoding %s on %s\ngot:\n%s\nwant:\n%s", in, topic, got, want)
			}
			s.Check(t, topic, payload)
		})
	}
}

// GoldenTopic returns the topic a golden input file name stands for.
func (s *Suite) GoldenTopic(name string) (string, error) {
	parts := strings.Split(name, ".")
	switch {
	case len(parts) == 3 && parts[0] == "native":
		return NativeTopic(s.Driver.Family(), drivers.Channel(parts[1])), nil
	case len(parts) == 4 && parts[0] == "alink" && parts[2] == "property":
		return drivers.AlinkPropertyTopic(parts[1], Device), nil
	case len(parts) == 4 && parts[0] == "alink":
		return drivers.AlinkEventTopic(parts[1], Device, parts[2]), nil
	}
	return "", errors.New("drivertest: golden input " + name + " is not native.{channel}.{case} or alink.{productKey}.{identifier}.{case}")
}

// Seeds adds every golden input to the fuzz corpus, with the index of its topic.
func (s *Suite) Seeds(f *testing.F) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	if err != nil || len(inputs) == 0 {
		f.Fatalf("no golden inputs to seed from: %v", err)
	}
	for _, in := range inputs {
		topic, err := s.GoldenTopic(strings.TrimSuffix(filepath.Base(in), ".json"))
		if err != nil {
			f.Fatal(err)
		}
		i := slices.Index(s.Topics, topic)
		if i < 0 {
			continue // a topic outside the suite, e.g. an unknown event identifier
		}
		payload, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), payload)
	}
}

// Fuzz is the body of a family's fuzz target: it decodes payload on one of the suite's
// topics and checks the outcome (see Check).
func (s *Suite) Fuzz(t *testing.T, topic uint8, payload []byte) {
	s.Check(t, s.Topics[int(topic)%len(s.Topics)], payload)
}

// Check decodes payload on topic and checks what any outcome must satisfy: a rejection
// carries a known reason and is malformed_json exactly when the payload is not JSON this
// decoder accepts; an accepted message agrees with encoding/json on every value both read,
// encodes to JSON, and re-encoded as a native payload decodes to the same message.
func (s *Suite) Check(t *testing.T, topic string, payload []byte) {
	t.Helper()
	msg, err := s.Registry.Decode(topic, payload)
	if err != nil {
		s.checkReject(t, topic, payload, err)
		return
	}
	if !json.Valid(payload) {
		t.Fatalf("accepted invalid json %q", payload)
	}
	if _, err := json.Marshal(msg); err != nil {
		t.Fatalf("accepted message does not encode: %v", err)
	}
	s.oracle(t, topic, payload, &msg)
	s.roundTrip(t, &msg)
}

func (s *Suite) checkReject(t *testing.T, topic string, payload []byte, err error) {
	t.Helper()
	r := drivers.ReasonOf(err)
	if !slices.Contains(drivers.Reasons(), r) {
		t.Fatalf("rejection without a known reason: %v", err)
	}
	if r == drivers.ReasonBadTopic || r == drivers.ReasonOversize && len(payload) > drivers.MaxPayload {
		return
	}
	ours := jsonscan.Valid(payload)
	if r == drivers.ReasonMalformed {
		if ours {
			t.Fatalf("valid json %q rejected as malformed: %v", payload, err)
		}
		if json.Valid(payload) && utf8.Valid(payload) && depth(payload) <= jsonscan.MaxDepth {
			t.Fatalf("json that encoding/json accepts rejected as malformed: %q: %v", payload, err)
		}
		return
	}
	if !ours {
		t.Fatalf("invalid json %q rejected as %s, not malformed_json: %v", payload, r, err)
	}
}

// depth is how deeply arrays and objects nest in valid JSON.
func depth(b []byte) int {
	d, max, inStr, esc := 0, 0, false, false
	for _, c := range b {
		switch {
		case inStr && esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case inStr && c == '"':
			inStr = false
		case inStr:
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			d++
			max = maxInt(max, d)
		case c == '}' || c == ']':
			d--
		}
	}
	return max
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// roundTrip re-encodes an accepted message as a native payload, decodes it again and wants
// the same message (less the names of unknown metrics, which the native form does not carry
// as metrics).
func (s *Suite) roundTrip(t *testing.T, msg *drivers.Message) {
	t.Helper()
	var (
		ch drivers.Channel
		v  any
	)
	switch msg.Kind {
	case drivers.KindEvent:
		ch, v = drivers.ChanEvent, msg.Event
	case drivers.KindTelemetry:
		ch, v = drivers.ChanTelemetry, msg.Telemetry
	case drivers.KindStatus:
		ch, v = drivers.ChanStatus, msg.Status
	case drivers.KindCmdAck:
		ch, v = drivers.ChanCmdAck, msg.Ack
	default:
		t.Fatalf("accepted message of kind %v", msg.Kind)
	}
	native, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("re-encoding: %v", err)
	}
	again, err := s.Registry.Decode(NativeTopic(msg.Family, ch), native)
	if err != nil {
		t.Fatalf("re-encoded message %s rejected: %v", native, err)
	}
	want := *msg
	want.Site, again.Site = "", ""
	if want.Telemetry != nil {
		w := *want.Telemetry
		w.Unknown = nil
		want.Telemetry = &w
		a := *again.Telemetry
		a.Unknown = nil
		again.Telemetry = &a
	}
	if canonical(t, want) != canonical(t, again) {
		t.Fatalf("round trip changed the message\nfirst: %s\nagain: %s\nvia: %s", canonical(t, want), canonical(t, again), native)
	}
}

func canonical(t *testing.T, m drivers.Message) string {
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
