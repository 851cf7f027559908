package drivertest

import (
	"strings"
	"testing"

	"github.com/community-edge/edge/drivers"
)

// Case is one message and what decoding it must give: a rejection with Reason and an error
// containing Contains, or (Reason "") an accepted message whose canonical JSON contains
// Contains.
type Case struct {
	Name     string
	Topic    string
	Payload  string
	Reason   drivers.Reason
	Contains string
}

// Table runs the cases through the suite's registry.
func (s *Suite) Table(t *testing.T, cases []Case) {
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			msg, err := s.Registry.Decode(c.Topic, []byte(c.Payload))
			if c.Reason == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if got := canonical(t, msg); !strings.Contains(got, c.Contains) {
					t.Fatalf("decoded %s\nwant it to contain %s", got, c.Contains)
				}
				s.Check(t, c.Topic, []byte(c.Payload))
				return
			}
			if err == nil {
				t.Fatalf("accepted: %s", canonical(t, msg))
			}
			if got := drivers.ReasonOf(err); got != c.Reason {
				t.Fatalf("reason %q, want %q: %v", got, c.Reason, err)
			}
			if !strings.Contains(err.Error(), c.Contains) {
				t.Fatalf("error %q does not contain %q", err, c.Contains)
			}
			s.Check(t, c.Topic, []byte(c.Payload))
		})
	}
}

// Reasons fails unless the rejection cases cover every reason in want.
func Reasons(t *testing.T, cases []Case, want ...drivers.Reason) {
	t.Helper()
	have := map[drivers.Reason]bool{}
	for _, c := range cases {
		have[c.Reason] = true
	}
	for _, r := range want {
		if !have[r] {
			t.Errorf("no case is rejected with %s", r)
		}
	}
}

// RegistryReasons are the reasons decoding through the registry produces. Of the others,
// wrong_family comes only from a driver given another family's model (see WrongFamily),
// unknown_device is the gateway's (it knows the devices), and unknown_metric is never a
// rejection: unknown metrics are dropped and listed in Telemetry.Unknown.
func RegistryReasons() []drivers.Reason {
	return []drivers.Reason{drivers.ReasonBadTopic, drivers.ReasonUnknownFamily,
		drivers.ReasonMalformed, drivers.ReasonWrongType, drivers.ReasonMissingField, drivers.ReasonUnknownType,
		drivers.ReasonOversize, drivers.ReasonUnknownModel, drivers.ReasonOutOfRange}
}

// WrongFamily checks that the driver rejects a post decoded with another family's model.
func (s *Suite) WrongFamily(t *testing.T) {
	for _, f := range drivers.Families() {
		if f == s.Driver.Family() {
			continue
		}
		m := &drivers.AlinkModel{ProductKey: "pk", Family: f, Events: map[string]drivers.AlinkEvent{"E": {Type: "tamper"}}}
		topic := drivers.Topic{Alink: true, ProductKey: "pk", Device: Device, Identifier: "E"}
		_, err := s.Driver.DecodeAlink(topic, m, []byte(`{"id":"1","params":{"value":{}}}`))
		if got := drivers.ReasonOf(err); got != drivers.ReasonWrongFamily {
			t.Errorf("%s model: reason %q, want %q (%v)", f, got, drivers.ReasonWrongFamily, err)
		}
	}
}
