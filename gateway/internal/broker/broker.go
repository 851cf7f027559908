// Package broker owns the MQTT broker embedded in the gateway (mochi-mqtt): its listeners and
// limits, per-device logins checked against the device registry, ACLs that keep each device
// to its own topics, and the hand-off of device messages to the ingest pipeline, where a QoS 1
// message is acknowledged to the device only once it is durably stored.
package broker

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/gateway/internal/devices"
	"github.com/community-edge/edge/gateway/internal/ingest"
)

// Config configures the embedded broker.
type Config struct {
	Site          string
	Listen        string
	TLSListen     string
	TLSCertFile   string
	TLSKeyFile    string
	MaxClients    int64
	MaxInflight   int
	MaxQueued     int
	MaxPacketSize int
}

// Sink takes device messages; ingest.Pipeline is one.
type Sink interface {
	Submit(topic string, payload []byte, ack func()) bool
	Will(topic string, payload []byte)
}

// Broker is the embedded MQTT broker.
type Broker struct {
	cfg     Config
	devs    *devices.Registry
	sink    Sink
	metrics *ingest.Metrics
	log     *slog.Logger

	dropped   prometheus.Counter
	clients   prometheus.GaugeFunc
	srv       atomic.Pointer[mqtt.Server]
	addr      string
	listening chan struct{}
}

// New makes a broker; it opens nothing until Run.
func New(cfg Config, devs *devices.Registry, sink Sink, m *ingest.Metrics, reg prometheus.Registerer, log *slog.Logger) *Broker {
	b := &Broker{cfg: cfg, devs: devs, sink: sink, metrics: m, log: log, listening: make(chan struct{}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_broker_dropped_total",
			Help: "Messages the embedded broker dropped for a client (queue full or QoS flow expired)."}),
	}
	b.clients = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gateway_broker_clients",
		Help: "Clients connected to the embedded broker."}, func() float64 {
		if srv := b.srv.Load(); srv != nil {
			return float64(atomic.LoadInt64(&srv.Info.ClientsConnected))
		}
		return 0
	})
	reg.MustRegister(b.dropped, b.clients)
	return b
}

// Addr is the address the plain listener is bound to, once Listening is closed.
func (b *Broker) Addr() string { return b.addr }

// Listening is closed once the broker accepts connections.
func (b *Broker) Listening() <-chan struct{} { return b.listening }

// Publish sends a message from the gateway itself (commands to devices).
func (b *Broker) Publish(topic string, payload []byte, retain bool, qos byte) error {
	srv := b.srv.Load()
	if srv == nil {
		return errors.New("broker: not running")
	}
	return srv.Publish(topic, payload, retain, qos)
}

// Kick ends the session of a client, e.g. a device just removed: its login is refused from
// now on, and this makes the refusal immediate for a device already connected.
func (b *Broker) Kick(clientID string) {
	srv := b.srv.Load()
	if srv == nil {
		return
	}
	if cl, ok := srv.Clients.Get(clientID); ok {
		srv.DisconnectClient(cl, packets.ErrNotAuthorized)
		b.log.Info("device session ended: device removed", "client", clientID)
	}
}

// Run serves until ctx is done, then disconnects every client and returns.
func (b *Broker) Run(ctx context.Context) error {
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumClients = b.cfg.MaxClients
	caps.MaximumInflight = uint16(b.cfg.MaxInflight)
	caps.ReceiveMaximum = uint16(min(b.cfg.MaxInflight, 65535))
	caps.MaximumClientWritesPending = int32(b.cfg.MaxQueued)
	caps.MaximumPacketSize = uint32(b.cfg.MaxPacketSize)
	caps.MaximumQos = 1
	caps.MaximumSessionExpiryInterval = 7 * 24 * 3600
	// Device messages are a few hundred bytes: 1 KiB buffers per connection instead of mochi's
	// 2 KiB (a larger packet is still read whole), which is 2 MiB less for a thousand devices.
	srv := mqtt.New(&mqtt.Options{Capabilities: caps, InlineClient: true, Logger: b.log.With("component", "mochi"),
		SysTopicResendInterval: 30, ClientNetReadBufferSize: 1 << 10, ClientNetWriteBufferSize: 1 << 10})
	if err := srv.AddHook(&hook{b: b}, nil); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: b.cfg.Listen})
	if err := srv.AddListener(tcp); err != nil {
		return fmt.Errorf("broker: listen %s: %w", b.cfg.Listen, err)
	}
	b.addr = tcp.Address()
	if b.cfg.TLSListen != "" {
		cert, err := tls.LoadX509KeyPair(b.cfg.TLSCertFile, b.cfg.TLSKeyFile)
		if err != nil {
			srv.Close()
			return fmt.Errorf("broker: tls: %w", err)
		}
		tl := listeners.NewTCP(listeners.Config{ID: "tls", Address: b.cfg.TLSListen,
			TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
		if err := srv.AddListener(tl); err != nil {
			srv.Close()
			return fmt.Errorf("broker: listen %s: %w", b.cfg.TLSListen, err)
		}
	}
	if err := srv.Serve(); err != nil {
		srv.Close()
		return fmt.Errorf("broker: %w", err)
	}
	b.srv.Store(srv)
	close(b.listening)
	b.log.Info("embedded MQTT broker listening", "addr", b.addr, "tls", b.cfg.TLSListen)
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		return fmt.Errorf("broker: close: %w", err)
	}
	return nil
}

// hook connects mochi to the registry and the pipeline.
type hook struct {
	mqtt.HookBase
	b *Broker
}

func (h *hook) ID() string { return "community-gateway" }

func (h *hook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublish, mqtt.OnWillSent,
		mqtt.OnQosDropped, mqtt.OnPublishDropped}, []byte{b})
}

func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user := string(pk.Connect.Username)
	p, ok := h.b.devs.Authenticate(user, string(pk.Connect.Password))
	if ok && p.Device != nil && cl.ID != user {
		h.b.log.Warn("device login refused: client id must equal username", "user", user, "client_id", cl.ID)
		ok = false
	}
	if ok && p.Device != nil && pk.Connect.WillFlag && !h.b.deviceMayWrite(p.Device, pk.Connect.WillTopic) {
		h.b.log.Warn("device login refused: last will outside its own topics", "user", user, "will_topic", pk.Connect.WillTopic)
		h.b.metrics.Rejected(ingest.ReasonACLDenied)
		ok = false
	}
	if !ok {
		h.b.metrics.Rejected(ingest.ReasonAuthFailed)
		h.b.log.Warn("MQTT login refused", "user", user, "remote", cl.Net.Remote)
	}
	return ok
}

func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	user := string(cl.Properties.Username)
	p, ok := h.b.principal(user)
	allowed := false
	switch {
	case !ok:
	case p.Gateway:
		allowed = true
	case write:
		// A device's publishes are checked in OnPublish, which acknowledges and drops a refused
		// one (as Mosquitto does). Refusing here would make mochi disconnect a 3.1.1 client,
		// which then resends the same message from its session on every reconnect.
		return true
	default:
		allowed = h.b.deviceMayRead(p.Device, topic)
	}
	if !allowed {
		h.b.metrics.Rejected(ingest.ReasonACLDenied)
		h.b.log.Warn("MQTT access refused", "user", user, "topic", topic, "write", write)
	}
	return allowed
}

func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	if d, ok := h.b.devs.Lookup(string(cl.Properties.Username)); ok && !h.b.deviceMayWrite(d, pk.TopicName) {
		h.b.metrics.Rejected(ingest.ReasonACLDenied)
		h.b.log.Warn("MQTT publish refused: outside the device's own topics", "user", d.ID, "topic", pk.TopicName)
		return pk, packets.CodeSuccessIgnore
	}
	if pk.FixedHeader.Qos == 0 {
		if !h.b.sink.Submit(pk.TopicName, pk.Payload, func() {}) {
			return pk, packets.ErrRejectPacket
		}
		return pk, nil
	}
	done := make(chan struct{})
	if !h.b.sink.Submit(pk.TopicName, pk.Payload, func() { close(done) }) {
		// Shutting down: no PUBACK, so the device sends it again after it reconnects.
		return pk, packets.ErrRejectPacket
	}
	<-done
	return pk, nil
}

func (h *hook) OnWillSent(cl *mqtt.Client, pk packets.Packet) {
	h.b.sink.Will(pk.TopicName, pk.Payload)
}

func (h *hook) OnQosDropped(cl *mqtt.Client, pk packets.Packet) {
	h.b.dropped.Inc()
	h.b.log.Warn("broker dropped a message for a client", "client", cl.ID, "topic", pk.TopicName)
}

func (h *hook) OnPublishDropped(cl *mqtt.Client, pk packets.Packet) {
	h.b.dropped.Inc()
	h.b.log.Warn("broker dropped a message: client too slow", "client", cl.ID, "topic", pk.TopicName)
}

func (b *Broker) principal(user string) (devices.Principal, bool) {
	if d, ok := b.devs.Lookup(user); ok {
		return devices.Principal{Device: d}, true
	}
	if b.devs.IsGatewayUser(user) {
		return devices.Principal{Gateway: true}, true
	}
	return devices.Principal{}, false
}

// deviceMayWrite: a device publishes only on its own device channels, in either dialect.
func (b *Broker) deviceMayWrite(d *devices.Device, topic string) bool {
	t, err := drivers.ParseTopic(topic)
	if err != nil {
		return false
	}
	if t.Alink {
		return d.ProductKey != "" && t.ProductKey == d.ProductKey && t.Device == d.ID
	}
	return t.Site == b.cfg.Site && t.Family == d.Family && t.Device == d.ID
}

// deviceMayRead: a device subscribes only to its own cmd topic (no wildcards).
func (b *Broker) deviceMayRead(d *devices.Device, topic string) bool {
	if strings.ContainsAny(topic, "+#") {
		return false
	}
	return topic == drivers.NativeTopic(b.cfg.Site, d.Family, d.ID, drivers.ChanCmd) ||
		(d.ProductKey != "" && strings.HasPrefix(topic, "/sys/"+d.ProductKey+"/"+d.ID+"/thing/service/"))
}
