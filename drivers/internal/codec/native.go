package codec

import (
	"fmt"
	"slices"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/drivers/internal/jsonscan"
)

// Decode decodes a native-dialect payload received on channel ch.
func (d *Driver) Decode(ch drivers.Channel, payload []byte) (drivers.Message, error) {
	if len(payload) > drivers.MaxPayload {
		return drivers.Message{}, d.reject(drivers.ReasonOversize, where{kind: string(ch)}, "payload of %d bytes is larger than %d", len(payload), drivers.MaxPayload)
	}
	var (
		s   jsonscan.Scanner
		msg drivers.Message
		err error
	)
	s.Reset(payload)
	switch ch {
	case drivers.ChanEvent:
		msg.Kind = drivers.KindEvent
		msg.Event, err = d.event(&s)
	case drivers.ChanTelemetry:
		msg.Kind = drivers.KindTelemetry
		msg.Telemetry, err = d.telemetry(&s)
	case drivers.ChanStatus:
		msg.Kind = drivers.KindStatus
		msg.Status, err = d.status(&s)
	case drivers.ChanCmdAck:
		msg.Kind = drivers.KindCmdAck
		msg.Ack, err = d.cmdAck(&s)
	default:
		return drivers.Message{}, d.reject(drivers.ReasonBadTopic, where{kind: string(ch)}, "not a channel a device sends on")
	}
	if err != nil {
		return drivers.Message{}, d.syntaxFirst(payload, where{kind: string(ch)}, err)
	}
	return msg, nil
}

// reject makes a rejection prefixed with the family and what was being decoded.
func (d *Driver) reject(r drivers.Reason, what where, format string, args ...any) error {
	return drivers.Reject(r, "%s: %s: %s", d.spec.Family, what, fmt.Sprintf(format, args...))
}

// malformed reports the scanner's syntax error.
func (d *Driver) malformed(s *jsonscan.Scanner, what where) error {
	if err := s.Err(); err != nil {
		return drivers.Reject(drivers.ReasonMalformed, "%s: %s: %w", d.spec.Family, what, err)
	}
	return d.reject(drivers.ReasonMalformed, what, "not json")
}

// syntaxFirst makes a malformed document always count as malformed_json, even when the
// decoder stopped at a semantic problem before it reached the syntax error.
func (d *Driver) syntaxFirst(payload []byte, what where, err error) error {
	if drivers.ReasonOf(err) == drivers.ReasonMalformed {
		return err
	}
	var s jsonscan.Scanner
	s.Reset(payload)
	if s.Skip() && s.Finish() == nil {
		return err
	}
	return d.malformed(&s, what)
}

// open reads the opening brace of the payload's object.
func (d *Driver) open(s *jsonscan.Scanner, what where) (jsonscan.Obj, error) {
	switch k := s.Peek(); k {
	case jsonscan.Object:
		o, _ := s.Object()
		return o, nil
	case jsonscan.Invalid:
		s.Skip()
		return jsonscan.Obj{}, d.malformed(s, what)
	default:
		return jsonscan.Obj{}, d.reject(drivers.ReasonWrongType, what, "payload is a %s, want an object", k)
	}
}

// end checks that the document was read to its end.
func (d *Driver) end(s *jsonscan.Scanner, what where) error {
	if s.Finish() != nil {
		return d.malformed(s, what)
	}
	return nil
}

func (d *Driver) wrongType(s *jsonscan.Scanner, what where, key, want string) error {
	k := s.Peek()
	if k == jsonscan.Invalid {
		s.Skip()
		return d.malformed(s, what)
	}
	return d.reject(drivers.ReasonWrongType, what, "%s: want %s, got %s", key, want, k)
}

// str reads a string member.
func (d *Driver) str(s *jsonscan.Scanner, what where, key string) ([]byte, error) {
	if s.Peek() != jsonscan.String {
		return nil, d.wrongType(s, what, key, "a string")
	}
	b, ok := s.Str()
	if !ok {
		return nil, d.malformed(s, what)
	}
	return b, nil
}

// integer reads an integer member.
func (d *Driver) integer(s *jsonscan.Scanner, what where, key string) (int64, error) {
	if s.Peek() != jsonscan.Number {
		return 0, d.wrongType(s, what, key, "an integer")
	}
	b, ok := s.Num()
	if !ok {
		return 0, d.malformed(s, what)
	}
	return d.parseInt(b, what, key)
}

func (d *Driver) parseInt(b []byte, what where, key string) (int64, error) {
	v, err := jsonscan.ParseInt(b)
	switch err {
	case nil:
		return v, nil
	case jsonscan.ErrRange:
		return 0, d.reject(drivers.ReasonOutOfRange, what, "%s: %s is out of range", key, b)
	}
	return 0, d.reject(drivers.ReasonWrongType, what, "%s: want an integer, got %s", key, b)
}

// number reads a number member.
func (d *Driver) number(s *jsonscan.Scanner, what where, key string) (float64, error) {
	if s.Peek() != jsonscan.Number {
		return 0, d.wrongType(s, what, key, "a number")
	}
	b, ok := s.Num()
	if !ok {
		return 0, d.malformed(s, what)
	}
	v, err := jsonscan.ParseFloat(b)
	if err != nil {
		return 0, d.reject(drivers.ReasonOutOfRange, what, "%s: %s is out of range", key, b)
	}
	return v, nil
}

// ts reads a timestamp: Unix milliseconds, positive.
func (d *Driver) ts(s *jsonscan.Scanner, what where, key string) (int64, error) {
	if s.Peek() != jsonscan.Number {
		return 0, d.wrongType(s, what, key, "an integer")
	}
	b, _ := s.Num()
	v, reason, complaint := parseTS(b)
	if reason != "" {
		return 0, d.reject(reason, what, "%s: %s", key, complaint)
	}
	return v, nil
}

// parseTS parses a timestamp: Unix milliseconds, positive.
func parseTS(b []byte) (int64, drivers.Reason, string) {
	v, err := jsonscan.ParseInt(b)
	switch {
	case err == jsonscan.ErrRange:
		return 0, drivers.ReasonOutOfRange, string(b) + " is out of range"
	case err != nil:
		return 0, drivers.ReasonWrongType, "want an integer, got " + string(b)
	case v <= 0:
		return 0, drivers.ReasonOutOfRange, string(b) + " is not a positive unix time in milliseconds"
	}
	return v, "", ""
}

// port reads a port number.
func (d *Driver) portNum(b []byte, what where, key string) (int, error) {
	v, err := d.parseInt(b, what, key)
	if err == nil && (v < 0 || v > MaxPort) {
		err = d.reject(drivers.ReasonOutOfRange, what, "%s: %d is outside [0, %d]", key, v, MaxPort)
	}
	return int(v), err
}

// id reads an event or acknowledgement id: a non-empty string of at most MaxIDLen bytes.
func (d *Driver) id(s *jsonscan.Scanner, what where, key string) (string, error) {
	b, err := d.str(s, what, key)
	switch {
	case err != nil:
		return "", err
	case len(b) == 0:
		return "", d.reject(drivers.ReasonMissingField, what, "%s is empty", key)
	case len(b) > drivers.MaxIDLen:
		return "", d.reject(drivers.ReasonOversize, what, "%s is %d bytes, longer than %d", key, len(b), drivers.MaxIDLen)
	}
	return string(b), nil
}

// text reads an optional string member of at most max bytes; null is "".
func (d *Driver) text(s *jsonscan.Scanner, what where, key string, max int) (string, error) {
	if s.Peek() == jsonscan.Null {
		s.Null()
		return "", nil
	}
	b, err := d.str(s, what, key)
	if err == nil && len(b) > max {
		err = d.reject(drivers.ReasonOversize, what, "%s is %d bytes, longer than %d", key, len(b), max)
	}
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func (d *Driver) missing(what where, key string) error {
	return d.reject(drivers.ReasonMissingField, what, "%s is missing", key)
}

// event decodes {"id","ts","type","data"}.
func (d *Driver) event(s *jsonscan.Scanner) (*drivers.Event, error) {
	what := where{kind: "event"}
	o, err := d.open(s, what)
	if err != nil {
		return nil, err
	}
	box := &eventBox{}
	ev := &box.Event
	var et *EventType
	dataAt := -1
	for {
		key, ok := o.Next()
		if !ok {
			break
		}
		switch string(key) {
		case "id":
			ev.ID, err = d.id(s, what, "id")
		case "ts":
			ev.TS, err = d.ts(s, what, "ts")
		case "type":
			var b []byte
			if b, err = d.str(s, what, "type"); err == nil {
				if et = d.events[string(b)]; et == nil && len(b) > 0 {
					err = d.reject(drivers.ReasonUnknownType, what, "%q is not a %s event type", b, d.spec.Family)
				}
			}
		case "data":
			switch s.Peek() {
			case jsonscan.Object:
				dataAt = s.Pos()
				s.Skip()
			case jsonscan.Null:
				dataAt = -1
				s.Null()
			default:
				err = d.wrongType(s, what, "data", "an object")
			}
		default:
			s.Skip()
		}
		if err != nil {
			return nil, err
		}
	}
	if err := d.end(s, what); err != nil {
		return nil, err
	}
	switch {
	case ev.ID == "":
		return nil, d.missing(what, "id")
	case ev.TS == 0:
		return nil, d.missing(what, "ts")
	case et == nil:
		return nil, d.missing(what, "type")
	}
	ev.Type = et.Name
	w := where{kind: "event", typ: et.Name}
	var seen uint64
	if dataAt >= 0 {
		s.Seek(dataAt)
		seen, err = d.data(s, et, nil, w, box)
		if err != nil {
			return nil, err
		}
	}
	if err := d.finishData(et, nil, nil, w, seen, box); err != nil {
		return nil, err
	}
	return ev, nil
}

// telemetry decodes {"ts","port","metrics":{…}}.
func (d *Driver) telemetry(s *jsonscan.Scanner) (*drivers.Telemetry, error) {
	what := where{kind: "telemetry"}
	o, err := d.open(s, what)
	if err != nil {
		return nil, err
	}
	t := &drivers.Telemetry{}
	haveMetrics := false
	for {
		key, ok := o.Next()
		if !ok {
			break
		}
		switch string(key) {
		case "ts":
			t.TS, err = d.ts(s, what, "ts")
		case "port":
			if !d.spec.PerPort {
				s.Skip()
				break
			}
			t.Port, err = d.optPort(s, what, "port")
		case "metrics":
			switch s.Peek() {
			case jsonscan.Object:
				haveMetrics = true
				t.Metrics, t.Unknown = t.Metrics[:0], nil // the last "metrics" counts, as in encoding/json
				err = d.metricsObj(s, what, t)
			case jsonscan.Null:
				haveMetrics = false
				s.Null()
			default:
				err = d.wrongType(s, what, "metrics", "an object")
			}
		default:
			s.Skip()
		}
		if err != nil {
			return nil, err
		}
	}
	if err := d.end(s, what); err != nil {
		return nil, err
	}
	switch {
	case t.TS == 0:
		return nil, d.missing(what, "ts")
	case !haveMetrics:
		return nil, d.missing(what, "metrics")
	}
	return t, d.checkPort(t, what)
}

func (d *Driver) checkPort(t *drivers.Telemetry, what where) error {
	if d.spec.PerPort && t.Port == nil && len(t.Metrics) > 0 {
		return d.reject(drivers.ReasonMissingField, what, "port is missing: %s metrics are per port", d.spec.Family)
	}
	return nil
}

// optPort reads a port member, null being absent.
func (d *Driver) optPort(s *jsonscan.Scanner, what where, key string) (*int, error) {
	if s.Peek() == jsonscan.Null {
		s.Null()
		return nil, nil
	}
	if s.Peek() != jsonscan.Number {
		return nil, d.wrongType(s, what, key, "an integer")
	}
	b, _ := s.Num()
	p, err := d.portNum(b, what, key)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

func (d *Driver) metricsObj(s *jsonscan.Scanner, what where, t *drivers.Telemetry) error {
	o, _ := s.Object()
	for {
		key, ok := o.Next()
		if !ok {
			break
		}
		name, known := d.metrics[string(key)]
		if !known {
			t.Unknown = appendUnique(t.Unknown, string(key))
			s.Skip()
			continue
		}
		if s.Peek() == jsonscan.Null { // absent; a repeated metric replaces an earlier one
			s.Null()
			removeMetric(t, name)
			continue
		}
		if s.Peek() != jsonscan.Number {
			return d.wrongType(s, what, "metrics."+name, "a number")
		}
		b, _ := s.Num()
		v, err := jsonscan.ParseFloat(b)
		if err != nil {
			return d.reject(drivers.ReasonOutOfRange, what, "metrics.%s: %s is out of range", name, b)
		}
		d.addMetric(t, name, v)
	}
	if s.Err() != nil {
		return d.malformed(s, what)
	}
	return nil
}

// addMetric sets a metric; a repeated name replaces the earlier value.
func (d *Driver) addMetric(t *drivers.Telemetry, name string, v float64) {
	for i := range t.Metrics {
		if t.Metrics[i].Name == name {
			t.Metrics[i].Value = v
			return
		}
	}
	if t.Metrics == nil {
		t.Metrics = make([]drivers.Metric, 0, len(d.spec.Metrics))
	}
	t.Metrics = append(t.Metrics, drivers.Metric{Name: name, Value: v})
}

func removeMetric(t *drivers.Telemetry, name string) {
	t.Metrics = slices.DeleteFunc(t.Metrics, func(m drivers.Metric) bool { return m.Name == name })
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// status decodes {"state","fw","ts"}. An offline status (the last will) may omit ts.
func (d *Driver) status(s *jsonscan.Scanner) (*drivers.Status, error) {
	what := where{kind: "status"}
	o, err := d.open(s, what)
	if err != nil {
		return nil, err
	}
	st := &drivers.Status{}
	for {
		key, ok := o.Next()
		if !ok {
			break
		}
		switch string(key) {
		case "state":
			var b []byte
			if b, err = d.str(s, what, "state"); err == nil {
				switch string(b) {
				case string(drivers.Online):
					st.State = drivers.Online
				case string(drivers.Offline):
					st.State = drivers.Offline
				default:
					err = d.reject(drivers.ReasonOutOfRange, what, "state %q is not online or offline", b)
				}
			}
		case "fw":
			st.FW, err = d.text(s, what, "fw", drivers.MaxTextLen)
		case "ts":
			st.TS, err = d.ts(s, what, "ts")
		default:
			s.Skip()
		}
		if err != nil {
			return nil, err
		}
	}
	if err := d.end(s, what); err != nil {
		return nil, err
	}
	switch {
	case st.State == "":
		return nil, d.missing(what, "state")
	case st.State == drivers.Online && st.TS == 0:
		return nil, d.missing(what, "ts")
	}
	return st, nil
}

// cmdAck decodes {"id","ok","error"}.
func (d *Driver) cmdAck(s *jsonscan.Scanner) (*drivers.CmdAck, error) {
	what := where{kind: "cmd_ack"}
	o, err := d.open(s, what)
	if err != nil {
		return nil, err
	}
	a := &drivers.CmdAck{}
	haveOK := false
	for {
		key, ok := o.Next()
		if !ok {
			break
		}
		switch string(key) {
		case "id":
			a.ID, err = d.id(s, what, "id")
		case "ok":
			if s.Peek() != jsonscan.Bool {
				err = d.wrongType(s, what, "ok", "a boolean")
				break
			}
			a.OK, _ = s.Bool()
			haveOK = true
		case "error":
			a.Error, err = d.text(s, what, "error", drivers.MaxErrorLen)
		default:
			s.Skip()
		}
		if err != nil {
			return nil, err
		}
	}
	if err := d.end(s, what); err != nil {
		return nil, err
	}
	switch {
	case a.ID == "":
		return nil, d.missing(what, "id")
	case !haveOK:
		return nil, d.missing(what, "ok")
	}
	return a, nil
}
