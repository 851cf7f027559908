// Package onvif is a simulated ONVIF camera's WS-Discovery side: it joins the multicast group
// 239.255.255.250:3702 on an interface and answers each Probe for a type it has (a camera is
// a NetworkVideoTransmitter) with a ProbeMatch naming its device service and its scopes
// (name, hardware, location), ignoring every other message.
package onvif

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"

	"golang.org/x/net/ipv4"

	"github.com/community-edge/edge/drivers/onvif"
)

// Config configures a responder.
type Config struct {
	Interfaces []string // where to join the group, by name; empty: every multicast-capable interface
	Group      string   // default 239.255.255.250:3702
	Endpoint   string   // endpoint reference; default a fresh urn:uuid
	XAddr      string   // the device service URL announced, e.g. http://192.0.2.10/onvif/device_service (required)
	Name       string   // scope onvif://www.onvif.org/name/…
	Hardware   string   // scope …/hardware/…
	Location   string   // scope …/location/…
	Types      []string // default NetworkVideoTransmitter
	Logger     *slog.Logger
}

// Responder answers WS-Discovery probes.
type Responder struct {
	cfg      Config
	match    onvif.Match
	answered atomic.Uint64
	ignored  atomic.Uint64
}

// New checks cfg and builds the responder; it listens on nothing until Run.
func New(cfg Config) (*Responder, error) {
	if cfg.Group == "" {
		cfg.Group = onvif.DefaultGroup
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = onvif.NewMessageID()
	}
	if len(cfg.Types) == 0 {
		cfg.Types = []string{onvif.TypeNVT}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if u, err := url.Parse(cfg.XAddr); err != nil || u.Host == "" {
		return nil, fmt.Errorf("onvif responder: xaddr %q must be an http URL", cfg.XAddr)
	}
	scopes := []string{"onvif://www.onvif.org/type/video_encoder", "onvif://www.onvif.org/Profile/Streaming"}
	for kind, v := range map[string]string{"name": cfg.Name, "hardware": cfg.Hardware, "location": cfg.Location} {
		if v != "" {
			scopes = append(scopes, "onvif://www.onvif.org/"+kind+"/"+url.PathEscape(v))
		}
	}
	return &Responder{cfg: cfg, match: onvif.Match{Endpoint: cfg.Endpoint, Types: cfg.Types, XAddrs: []string{cfg.XAddr},
		Scopes: scopes, MetadataVersion: "1"}}, nil
}

// Endpoint is the responder's endpoint reference.
func (r *Responder) Endpoint() string { return r.cfg.Endpoint }

// Answered is how many probes it answered.
func (r *Responder) Answered() uint64 { return r.answered.Load() }

// Ignored is how many datagrams it did not answer (other types, other messages, garbage).
func (r *Responder) Ignored() uint64 { return r.ignored.Load() }

// Listen joins the group; Serve answers on what it returns.
func (r *Responder) Listen() (*net.UDPConn, error) {
	group, err := net.ResolveUDPAddr("udp4", r.cfg.Group)
	if err != nil || !group.IP.IsMulticast() {
		return nil, fmt.Errorf("onvif responder: group %q is not an IPv4 multicast host:port", r.cfg.Group)
	}
	ifis, err := onvif.Interfaces(r.cfg.Interfaces)
	if err != nil {
		return nil, fmt.Errorf("onvif responder: %w", err)
	}
	// bound to the group's port with SO_REUSEADDR, so several responders share one host
	conn, err := net.ListenMulticastUDP("udp4", &ifis[0], group)
	if err != nil {
		return nil, fmt.Errorf("onvif responder: join %s on %s: %w", group, ifis[0].Name, err)
	}
	pc := ipv4.NewPacketConn(conn)
	for _, ifi := range ifis[1:] {
		if err := pc.JoinGroup(&ifi, group); err != nil {
			conn.Close()
			return nil, fmt.Errorf("onvif responder: join %s on %s: %w", group, ifi.Name, err)
		}
	}
	return conn, nil
}

// Serve answers probes on conn until ctx is done; it closes conn.
func (r *Responder) Serve(ctx context.Context, conn *net.UDPConn) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	buf := make([]byte, 64<<10)
	for {
		n, from, err := conn.ReadFromUDP(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("onvif responder: %w", err)
		}
		p, err := onvif.ParseProbe(buf[:n])
		if err != nil || !p.Wants(r.cfg.Types) {
			r.ignored.Add(1)
			continue
		}
		reply := onvif.BuildProbeMatch(onvif.NewMessageID(), p.MessageID, r.match)
		if _, err := conn.WriteToUDP(reply, from); err != nil {
			r.cfg.Logger.Warn("onvif responder: reply", "to", from, "err", err)
			continue
		}
		r.answered.Add(1)
	}
}

// Instance is a responder running in the background, for tests and camsim.
type Instance struct {
	*Responder
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// Start joins the group and answers until Stop.
func Start(cfg Config) (*Instance, error) {
	r, err := New(cfg)
	if err != nil {
		return nil, err
	}
	conn, err := r.Listen()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	i := &Instance{Responder: r, cancel: cancel, done: make(chan error, 1)}
	go func() { i.done <- r.Serve(ctx, conn) }()
	return i, nil
}

// Stop leaves the group and returns when the responder has stopped. Safe to call twice.
func (i *Instance) Stop() error {
	i.once.Do(func() {
		i.cancel()
		i.err = <-i.done
	})
	return i.err
}
