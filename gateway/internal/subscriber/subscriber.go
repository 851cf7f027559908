// Package subscriber owns the gateway's MQTT client session on an external broker (Mosquitto,
// EMQX): a fixed client id and a persistent session, QoS 1 subscriptions made again on every
// connect, manual acknowledgement (a message is acknowledged only when the ingest pipeline says
// it is stored), and the broker's own count of dropped messages.
package subscriber

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/community-edge/edge/drivers"
)

// Config is the external broker connection.
type Config struct {
	Site               string
	URL                string
	ClientID           string
	Username           string
	Password           string
	CAFile             string
	CertFile           string
	KeyFile            string
	InsecureSkipVerify bool
	KeepAlive          time.Duration
}

// Sink takes device messages; ingest.Pipeline is one.
type Sink interface {
	Submit(topic string, payload []byte, ack func()) bool
}

// droppedTopics are where Mosquitto reports what it dropped.
var droppedTopics = []string{"$SYS/broker/publish/messages/dropped", "$SYS/broker/messages/dropped"}

// Subscriber is the gateway's session on an external broker.
type Subscriber struct {
	cfg  Config
	sink Sink
	log  *slog.Logger

	connected     prometheus.Gauge
	brokerDropped prometheus.Gauge
	client        paho.Client
	conn          atomic.Pointer[bufferedConn] // the connection open now
}

// New makes a subscriber; it connects nothing until Run.
func New(cfg Config, sink Sink, reg prometheus.Registerer, log *slog.Logger) *Subscriber {
	s := &Subscriber{cfg: cfg, sink: sink, log: log,
		connected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gateway_broker_connected",
			Help: "1 while the gateway's session on the external broker is up."}),
		brokerDropped: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gateway_broker_reported_dropped",
			Help: "Messages the external broker reports it dropped ($SYS), since it started."}),
	}
	reg.MustRegister(s.connected, s.brokerDropped)
	return s
}

// Topics are the subscriptions of the gateway for a site.
func Topics(site string) map[string]byte {
	t := map[string]byte{"/sys/+/+/thing/event/+/post": 1}
	for _, ch := range []drivers.Channel{drivers.ChanEvent, drivers.ChanTelemetry, drivers.ChanStatus, drivers.ChanCmdAck} {
		t[drivers.NativePrefix+"/"+site+"/+/+/"+string(ch)] = 1
	}
	return t
}

// TLS returns the TLS settings for an ssl:// or tls:// URL (nil for tcp://): the CA to verify
// the broker with and the client certificate, as the subscriber and `gateway doctor` use them.
func (c Config) TLS() (*tls.Config, error) {
	if !strings.HasPrefix(c.URL, "ssl://") && !strings.HasPrefix(c.URL, "tls://") {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.InsecureSkipVerify}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("subscriber: ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("subscriber: ca_file %s holds no certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("subscriber: client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func (s *Subscriber) tlsConfig() (*tls.Config, error) { return s.cfg.TLS() }

// Run connects (retrying until it can), consumes until ctx is done, then disconnects. Messages
// not yet acknowledged then stay with the broker, which delivers them again to this session.
func (s *Subscriber) Run(ctx context.Context) error {
	tc, err := s.tlsConfig()
	if err != nil {
		return err
	}
	opts := paho.NewClientOptions().
		AddBroker(s.cfg.URL).
		SetClientID(s.cfg.ClientID).
		SetUsername(s.cfg.Username).
		SetPassword(s.cfg.Password).
		SetCleanSession(false).
		SetStore(newOutboundStore()).
		SetAutoAckDisabled(true).
		SetOrderMatters(true). // handlers run in arrival order; Submit never blocks for long
		SetKeepAlive(s.cfg.KeepAlive).
		SetConnectRetry(true).
		SetConnectRetryInterval(2 * time.Second).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(15 * time.Second).
		SetConnectTimeout(10 * time.Second).
		SetDefaultPublishHandler(s.handle) // registered before connecting: catches redeliveries of the stored session
	if tc != nil {
		opts.SetTLSConfig(tc)
	}
	// paho reads each packet's header a few bytes at a time and writes each acknowledgement on
	// its own; through buffers both are one system call per many messages under load.
	opts.SetCustomOpenConnectionFn(func(uri *url.URL, _ paho.ClientOptions) (net.Conn, error) {
		d := &net.Dialer{Timeout: 10 * time.Second}
		var c net.Conn
		var err error
		switch uri.Scheme {
		case "ssl", "tls", "tcps", "mqtts":
			c, err = tls.DialWithDialer(d, "tcp", uri.Host, tc)
		default:
			c, err = d.Dial("tcp", uri.Host)
		}
		if err != nil {
			return nil, err
		}
		bc := newBufferedConn(c)
		s.conn.Store(bc)
		return bc, nil
	})
	opts.SetOnConnectHandler(func(c paho.Client) {
		s.connected.Set(1)
		s.log.Info("connected to MQTT broker", "url", s.cfg.URL, "client_id", s.cfg.ClientID)
		// No per-subscription callbacks: every message goes to the default handler (s.handle,
		// which also takes the broker's $SYS counters), so paho matches no routes, which split
		// the topic and every filter for each message.
		if tok := c.SubscribeMultiple(Topics(s.cfg.Site), nil); tok.WaitTimeout(10*time.Second) && tok.Error() != nil {
			s.log.Error("subscribing failed", "err", tok.Error())
		}
		for _, t := range droppedTopics {
			c.Subscribe(t, 0, nil)
		}
	})
	opts.SetConnectionLostHandler(func(_ paho.Client, err error) {
		s.connected.Set(0)
		s.log.Warn("lost MQTT broker connection; reconnecting", "err", err)
	})
	s.client = paho.NewClient(opts)
	tok := s.client.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("subscriber: connect %s: %w", s.cfg.URL, err)
		}
	case <-ctx.Done():
	}
	<-ctx.Done()
	s.client.Disconnect(500)
	s.connected.Set(0)
	return nil
}

func (s *Subscriber) handle(_ paho.Client, m paho.Message) {
	if strings.HasPrefix(m.Topic(), "$SYS/") {
		s.handleDropped(nil, m)
		return
	}
	// A message the pipeline does not take (shutting down) is not acknowledged: the broker
	// keeps it for this session. paho runs the handler for a connection's messages before it
	// opens the next, so the connection open now is the one that delivered m.
	ack := m.Ack
	if c := s.conn.Load(); c != nil && m.Qos() == 1 {
		id := m.MessageID()
		ack = func() { c.Acknowledge(id, m.Ack) }
	}
	s.sink.Submit(m.Topic(), m.Payload(), ack)
}

func (s *Subscriber) handleDropped(_ paho.Client, m paho.Message) {
	m.Ack()
	v, err := strconv.ParseFloat(strings.TrimSpace(string(m.Payload())), 64)
	if err != nil || math.IsNaN(v) {
		return
	}
	s.brokerDropped.Set(v)
	if v > 0 {
		s.log.Warn("the MQTT broker reports dropped messages: raise max_inflight_messages / max_queued_messages", "dropped", v, "topic", m.Topic())
	}
}

// Publish sends a message from the gateway (commands to devices).
func (s *Subscriber) Publish(topic string, payload []byte, retain bool, qos byte) error {
	if s.client == nil {
		return fmt.Errorf("subscriber: not connected")
	}
	tok := s.client.Publish(topic, qos, retain, payload)
	if !tok.WaitTimeout(5 * time.Second) {
		return fmt.Errorf("subscriber: publish %s: timed out", topic)
	}
	return tok.Error()
}
