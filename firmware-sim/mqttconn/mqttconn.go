// Package mqttconn is a simulated device's MQTT session on top of paho: it logs in with the
// device's own credentials (username = client id = device id), keeps its session across
// connections (clean session off), sets the retained offline status as last will, receives
// commands, and keeps the socket at hand so that a power cut — the socket closed without
// DISCONNECT — can be simulated. Reconnecting is left to the owner, which paces it.
package mqttconn

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/community-edge/edge/firmware-sim/payload"
)

// Config describes a device's session.
type Config struct {
	Broker   string // tcp://host:port
	Device   payload.Device
	Password string
	// KeepAlive is the MQTT keepalive; default 30 s.
	KeepAlive time.Duration
	// Timeout bounds connecting, subscribing and the offline publish at disconnect; default 10 s.
	Timeout time.Duration
	// OnCommand, if set, receives the payload of every message on the device's cmd topic. It
	// is called on a paho goroutine and must not block for long.
	OnCommand func(payload []byte)
}

// Conn is one device's MQTT client. Its methods may be called from any goroutine, but
// Connect, Disconnect and CloseHard are meant to be called by one owner.
type Conn struct {
	cfg    Config
	client paho.Client
	lost   chan error

	mu   sync.Mutex
	sock *cutConn
}

// errPowerCut is what the client reads from a socket CloseHard closed. paho ignores "use of
// closed network connection" (it takes it for its own doing), so the loss is reported as this.
var errPowerCut = errors.New("mqttconn: socket closed without DISCONNECT (simulated power cut)")

// cutConn is a socket that can be cut: after cut, reads and writes fail with errPowerCut.
// Reads are buffered: paho reads each packet header byte by byte, and under load a PUBACK
// per message would otherwise cost several system calls.
type cutConn struct {
	net.Conn
	r   *bufio.Reader // used by paho's single reading goroutine only
	cut atomic.Bool
}

func (c *cutConn) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && c.cut.Load() {
		err = errPowerCut
	}
	return n, err
}

func (c *cutConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil && c.cut.Load() {
		err = errPowerCut
	}
	return n, err
}

// New prepares a session; it does no I/O.
func New(cfg Config) (*Conn, error) {
	u, err := url.Parse(cfg.Broker)
	if err != nil || (u.Scheme != "tcp" && u.Scheme != "mqtt") || u.Host == "" {
		return nil, fmt.Errorf("mqttconn: broker %q: want tcp://host:port", cfg.Broker)
	}
	if cfg.Device.ID == "" {
		return nil, errors.New("mqttconn: device id is empty")
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 30 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	c := &Conn{cfg: cfg, lost: make(chan error, 1)}
	will := payload.Offline(cfg.Device)
	opts := paho.NewClientOptions().
		AddBroker(cfg.Broker).
		SetClientID(cfg.Device.ID).
		SetUsername(cfg.Device.ID).
		SetPassword(cfg.Password).
		SetCleanSession(false).
		SetProtocolVersion(4).
		SetKeepAlive(cfg.KeepAlive).
		SetPingTimeout(cfg.Timeout).
		SetConnectTimeout(cfg.Timeout).
		SetWriteTimeout(cfg.Timeout).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetOrderMatters(false).
		SetBinaryWill(will.Topic, will.Payload, will.QoS, will.Retained).
		SetCustomOpenConnectionFn(c.dial).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			select {
			case c.lost <- err:
			default:
			}
		})
	c.client = paho.NewClient(opts)
	return c, nil
}

// dial opens the TCP connection and keeps it, for CloseHard.
func (c *Conn) dial(u *url.URL, o paho.ClientOptions) (net.Conn, error) {
	nc, err := net.DialTimeout("tcp", u.Host, o.ConnectTimeout)
	if err != nil {
		return nil, err
	}
	s := &cutConn{Conn: nc, r: bufio.NewReaderSize(nc, 4096)}
	c.mu.Lock()
	c.sock = s
	c.mu.Unlock()
	return s, nil
}

// Connect logs in and subscribes to the device's cmd topic.
func (c *Conn) Connect(ctx context.Context) error {
	// A loss signalled for an earlier connection is stale now.
	select {
	case <-c.lost:
	default:
	}
	if err := c.wait(ctx, c.client.Connect(), "connect"); err != nil {
		return err
	}
	if c.cfg.OnCommand == nil {
		return nil
	}
	tok := c.client.Subscribe(payload.CmdTopic(c.cfg.Device), 1, func(_ paho.Client, m paho.Message) {
		c.cfg.OnCommand(m.Payload())
	})
	if err := c.wait(ctx, tok, "subscribe"); err != nil {
		c.client.Disconnect(0)
		return err
	}
	return nil
}

func (c *Conn) wait(ctx context.Context, tok paho.Token, what string) error {
	t := time.NewTimer(c.cfg.Timeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("mqttconn: %s %s: %w", c.cfg.Device.ID, what, err)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("mqttconn: %s %s: timed out after %s", c.cfg.Device.ID, what, c.cfg.Timeout)
	case <-ctx.Done():
		return fmt.Errorf("mqttconn: %s %s: %w", c.cfg.Device.ID, what, ctx.Err())
	}
}

// Publish sends a message; the token completes when the broker has it (QoS 1) or it is
// written (QoS 0).
func (c *Conn) Publish(m payload.Message) paho.Token {
	return c.client.Publish(m.Topic, m.QoS, m.Retained, m.Payload)
}

// PublishWait publishes and waits for completion, at most the configured timeout.
func (c *Conn) PublishWait(ctx context.Context, m payload.Message) error {
	return c.wait(ctx, c.Publish(m), "publish "+m.Topic)
}

// Lost receives the error of an unexpected connection loss (including CloseHard).
func (c *Conn) Lost() <-chan error { return c.lost }

// Connected reports whether the session is up.
func (c *Conn) Connected() bool { return c.client.IsConnectionOpen() }

// CloseHard closes the socket without DISCONNECT, as a power cut would: the broker publishes
// the will. It waits (at most the timeout) until the client has noticed.
func (c *Conn) CloseHard() {
	c.mu.Lock()
	s := c.sock
	c.mu.Unlock()
	if s == nil || !c.client.IsConnectionOpen() {
		return
	}
	s.cut.Store(true)
	_ = s.Close()
	t := time.NewTimer(c.cfg.Timeout)
	defer t.Stop()
	select {
	case <-c.lost:
	case <-t.C:
	}
}

// Disconnect leaves cleanly: it publishes the retained offline status (the broker does not
// send the will on a clean disconnect) and sends DISCONNECT.
func (c *Conn) Disconnect(ctx context.Context) error {
	if !c.client.IsConnectionOpen() {
		return nil
	}
	err := c.PublishWait(ctx, payload.Offline(c.cfg.Device))
	c.client.Disconnect(250)
	return err
}
