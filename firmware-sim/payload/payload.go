// Package payload encodes the messages of a simulated device in the gateway's two MQTT
// dialects: the native community/{site}/{family}/{device}/{channel} JSON contract and the
// Alibaba Cloud IoT thing model (Alink JSON). Status, last will and command acknowledgements
// always use the native topics; telemetry and events use the device's dialect.
package payload

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/community-edge/edge/drivers"
)

// Device identifies a simulated device.
type Device struct {
	Site   string
	Family drivers.Family
	ID     string // MQTT username and client id
}

// Message is one MQTT publication.
type Message struct {
	Topic    string
	Payload  []byte
	QoS      byte
	Retained bool
}

// Encoder turns canonical telemetry and events of one device into MQTT messages of a dialect.
// It numbers the device's messages, so it is owned by one goroutine at a time.
type Encoder interface {
	// Dialect names the dialect: "native" or "alink".
	Dialect() string
	// Telemetry encodes one telemetry report (the heartbeat).
	Telemetry(t drivers.Telemetry, qos byte) (Message, error)
	// Event encodes an event of type typ at ts; the encoder gives it a unique id, returned
	// with the message.
	Event(ts int64, typ string, data drivers.EventData) (Message, string, error)
}

// Dialects lists the dialect names NewEncoder accepts.
func Dialects() []string { return []string{"native", "alink"} }

// NewEncoder returns the encoder of a dialect. boot identifies this boot of the device: event
// ids are unique per device because they combine it with a counter. model is required for
// "alink" and ignored for "native".
func NewEncoder(dialect string, dev Device, boot uint32, model ThingModel) (Encoder, error) {
	switch dialect {
	case "native":
		return &Native{dev: dev, boot: boot}, nil
	case "alink":
		if model == nil {
			return nil, fmt.Errorf("payload: device %s: alink dialect needs a thing model", dev.ID)
		}
		return &Alink{dev: dev, boot: boot, model: model}, nil
	}
	return nil, fmt.Errorf("payload: device %s: unknown dialect %q (want native or alink)", dev.ID, dialect)
}

// Status is the retained status message announcing the device online with its firmware.
func Status(dev Device, fw string, ts int64) Message {
	return status(dev, drivers.Status{State: drivers.Online, FW: fw, TS: ts})
}

// Offline is the retained offline status: the last will, and what a device publishes before
// it disconnects cleanly.
func Offline(dev Device) Message {
	return status(dev, drivers.Status{State: drivers.Offline})
}

func status(dev Device, s drivers.Status) Message {
	return Message{Topic: drivers.NativeTopic(dev.Site, dev.Family, dev.ID, drivers.ChanStatus),
		Payload: mustJSON(s), QoS: 1, Retained: true}
}

// CmdTopic is the topic the device receives commands on.
func CmdTopic(dev Device) string {
	return drivers.NativeTopic(dev.Site, dev.Family, dev.ID, drivers.ChanCmd)
}

// Ack encodes the acknowledgement of a command.
func Ack(dev Device, ack drivers.CmdAck) Message {
	return Message{Topic: drivers.NativeTopic(dev.Site, dev.Family, dev.ID, drivers.ChanCmdAck),
		Payload: mustJSON(ack), QoS: 1}
}

// DecodeCommand decodes a command payload received on the cmd topic.
func DecodeCommand(p []byte) (drivers.Command, error) {
	var c drivers.Command
	if err := json.Unmarshal(p, &c); err != nil {
		return c, fmt.Errorf("payload: command: %w", err)
	}
	if c.ID == "" || c.Name == "" {
		return c, fmt.Errorf("payload: command: id and name are required")
	}
	return c, nil
}

// Native encodes the native dialect.
type Native struct {
	dev  Device
	boot uint32
	n    uint64
}

// Dialect implements Encoder.
func (*Native) Dialect() string { return "native" }

// nativeTelemetry is the wire form of drivers.Telemetry in the native dialect.
type nativeTelemetry struct {
	TS      int64              `json:"ts"`
	Port    *int               `json:"port,omitempty"`
	Metrics map[string]float64 `json:"metrics"`
}

// Telemetry implements Encoder.
func (e *Native) Telemetry(t drivers.Telemetry, qos byte) (Message, error) {
	w := nativeTelemetry{TS: t.TS, Port: t.Port, Metrics: make(map[string]float64, len(t.Metrics))}
	for _, m := range t.Metrics {
		w.Metrics[m.Name] = m.Value
	}
	return Message{Topic: drivers.NativeTopic(e.dev.Site, e.dev.Family, e.dev.ID, drivers.ChanTelemetry),
		Payload: mustJSON(w), QoS: qos}, nil
}

// Event implements Encoder. Ids are "<boot as 8 hex digits>-<counter>".
func (e *Native) Event(ts int64, typ string, data drivers.EventData) (Message, string, error) {
	e.n++
	id := fmt.Sprintf("%08x-%d", e.boot, e.n)
	ev := drivers.Event{ID: id, TS: ts, Type: typ, Data: data}
	return Message{Topic: drivers.NativeTopic(e.dev.Site, e.dev.Family, e.dev.ID, drivers.ChanEvent),
		Payload: mustJSON(ev), QoS: 1}, id, nil
}

// mustJSON marshals values that cannot fail to marshal (plain structs and maps of numbers).
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("payload: marshal " + strconv.Quote(fmt.Sprintf("%T", v)) + ": " + err.Error())
	}
	return b
}
