// Package rtsp is the camera client: an RTSP 1.0 client (RFC 2326) that plays H.264
// video and G.711 audio from IP cameras over RTP, interleaved in the RTSP TCP connection
// (the default) or over UDP, with Basic and Digest authentication, session keepalive,
// reconnection with backoff, and a one-shot Probe for the installer.
//
// It is written on pion's rtp and sdp packages because no Go RTSP library is available
// to this project. Everything a camera sends is bounded (header count and length, body
// length, frame size, access unit size) and fuzzed.
package rtsp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync/atomic"
	"time"
)

// Transport is how RTP travels.
type Transport string

// Transports.
const (
	TransportTCP Transport = "tcp" // interleaved in the RTSP connection (default)
	TransportUDP Transport = "udp"
)

// Config configures a Client. Zero values take the defaults noted.
type Config struct {
	// URL is rtsp://[user:password@]host[:port]/path. Credentials in the URL are used
	// unless Username is set. Neither is ever logged.
	URL      string
	Username string
	Password string

	Transport Transport // default TransportTCP

	// ConnectTimeout bounds dialing and each request/response before media flows
	// (default 5s).
	ConnectTimeout time.Duration
	// ReadTimeout is how long the stream may go without an RTP packet before the
	// session is declared dead (default 10s).
	ReadTimeout time.Duration
	// KeepaliveInterval overrides the keepalive period; by default half the session
	// timeout the camera announces (60s when it announces none), at most 30s.
	KeepaliveInterval time.Duration
	// RTCPInterval is the period of RTCP receiver reports (default 5s).
	RTCPInterval time.Duration

	// MinBackoff and MaxBackoff bound the wait between reconnection attempts, which
	// doubles after each failure (defaults 500ms and 30s). After a 401 the client
	// waits MaxBackoff so it does not lock the camera's account.
	MinBackoff time.Duration
	MaxBackoff time.Duration

	// Buffer is the number of delivery buffers between the network reader and the
	// Sink (default 32, a little over a second of 25 fps video with audio).
	Buffer int
	// MaxAccessUnit bounds one reassembled frame (default DefaultMaxAccessUnit).
	MaxAccessUnit int

	Logger    *slog.Logger // default slog.Default()
	UserAgent string       // default "community-edge"
}

// Client plays one camera stream. Create it with New; Run does all the I/O.
type Client struct {
	cfg     Config
	sink    Sink
	log     *slog.Logger
	wireURL string // URL without credentials
	host    string // host:port
	user    string
	pass    string
	hasCred bool
	running atomic.Bool
	cnt     counters
}

// New validates cfg and returns a Client that will deliver to sink. It does no I/O.
func New(cfg Config, sink Sink) (*Client, error) {
	if sink == nil {
		return nil, errors.New("rtsp: config: sink is nil")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("rtsp: config: url: %w", errors.Unwrap(err))
	}
	if u.Scheme != "rtsp" {
		return nil, fmt.Errorf("rtsp: config: url scheme %q is not rtsp", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, errors.New("rtsp: config: url has no host")
	}
	c := &Client{cfg: cfg, sink: sink}
	c.host = u.Host
	if u.Port() == "" {
		c.host = net.JoinHostPort(u.Hostname(), "554")
	}
	if u.User != nil {
		c.user = u.User.Username()
		c.pass, _ = u.User.Password()
		c.hasCred = true
		u.User = nil
	}
	if cfg.Username != "" {
		c.user, c.pass, c.hasCred = cfg.Username, cfg.Password, true
	}
	c.wireURL = u.String()
	switch c.cfg.Transport {
	case "":
		c.cfg.Transport = TransportTCP
	case TransportTCP, TransportUDP:
	default:
		return nil, fmt.Errorf("rtsp: config: transport %q is not tcp or udp", cfg.Transport)
	}
	defDur := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defDur(&c.cfg.ConnectTimeout, 5*time.Second)
	defDur(&c.cfg.ReadTimeout, 10*time.Second)
	defDur(&c.cfg.RTCPInterval, 5*time.Second)
	defDur(&c.cfg.MinBackoff, 500*time.Millisecond)
	defDur(&c.cfg.MaxBackoff, 30*time.Second)
	if c.cfg.MaxBackoff < c.cfg.MinBackoff {
		c.cfg.MaxBackoff = c.cfg.MinBackoff
	}
	if c.cfg.Buffer <= 0 {
		c.cfg.Buffer = 32
	}
	if c.cfg.MaxAccessUnit <= 0 {
		c.cfg.MaxAccessUnit = DefaultMaxAccessUnit
	}
	if c.cfg.UserAgent == "" {
		c.cfg.UserAgent = "community-edge"
	}
	c.log = cfg.Logger
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("camera", c.wireURL)
	return c, nil
}

// Stats returns the client's counters. It is safe to call at any time.
func (c *Client) Stats() Stats {
	return Stats{
		Packets:     c.cnt.packets.Load(),
		AccessUnits: c.cnt.accessUnits.Load(),
		Keyframes:   c.cnt.keyframes.Load(),
		Audio:       c.cnt.audio.Load(),
		Dropped:     c.cnt.dropped.Load(),
		Broken:      c.cnt.broken.Load(),
		Sessions:    c.cnt.sessions.Load(),
	}
}

// Run connects, plays and reconnects with backoff until ctx is cancelled, then tears
// the session down and returns nil after the Sink's last call (StateStopped) has
// returned. It returns an error only if called while already running.
func (c *Client) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("rtsp: run: client is already running")
	}
	defer c.running.Store(false)
	d := newDispatcher(c.sink, c.cfg.Buffer, &c.cnt)
	d.start()
	defer d.stop()

	backoff := c.cfg.MinBackoff
	for {
		d.setState(StateEvent{State: StateConnecting})
		played, err := c.runSession(ctx, d, nil)
		if ctx.Err() != nil {
			d.setState(StateEvent{State: StateStopped})
			return nil
		}
		if played {
			backoff = c.cfg.MinBackoff
		}
		wait := backoff
		if errors.Is(err, ErrUnauthorized) {
			wait = c.cfg.MaxBackoff
		}
		c.log.Warn("rtsp session ended", "err", err, "retry_in", wait)
		d.setState(StateEvent{State: StateRetrying, Err: err, RetryIn: wait})
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			d.setState(StateEvent{State: StateStopped})
			return nil
		case <-t.C:
		}
		backoff = min(backoff*2, c.cfg.MaxBackoff)
	}
}

// runSession runs one RTSP session until it fails or ctx is cancelled. played reports
// whether media flowed. onPlay, if set, is told the stream before media flows (Probe).
func (c *Client) runSession(ctx context.Context, d *dispatcher, onPlay func(*StreamInfo)) (played bool, err error) {
	dialer := net.Dialer{Timeout: c.cfg.ConnectTimeout}
	nc, err := dialer.DialContext(ctx, "tcp", c.host)
	if err != nil {
		return false, classifyNetErr("dial "+c.host, err)
	}
	s := newSession(c, nc, d)
	defer s.close()
	return s.run(ctx, onPlay)
}
