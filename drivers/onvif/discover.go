package onvif

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/ipv4"
)

// DefaultGroup is where WS-Discovery probes go.
const DefaultGroup = "239.255.255.250:3702"

// MaxDevices bounds how many responders one discovery keeps.
const MaxDevices = 1024

// Config configures a discovery. Zero values take the defaults noted.
type Config struct {
	// Interfaces to probe on, by name; empty: every interface that is up, multicast-capable,
	// not loopback and has an IPv4 address. A named interface is used even without the
	// MULTICAST flag (Linux loopback lacks it but delivers multicast sent through it).
	Interfaces []string
	Timeout    time.Duration // how long to collect answers (default 2s)
	Group      string        // multicast group and port (default 239.255.255.250:3702)
	Unicast    []string      // host or host:port also probed directly (port 3702 by default)
	Types      []string      // device types probed for (default NetworkVideoTransmitter)
	Logger     *slog.Logger  // nil: discard
}

// Device is one responder.
type Device struct {
	Address   string `json:"address"`             // the IP the answer came from
	Interface string `json:"interface,omitempty"` // where it came in, when known
	Match
}

// Result is what a discovery found.
type Result struct {
	Devices    []Device `json:"devices"` // by address, one per endpoint reference
	Interfaces []string `json:"interfaces"`
	MessageID  string   `json:"message_id"`
	// Ignored counts datagrams that were not a ProbeMatches (garbage, other messages) or
	// were malformed; Unrelated those answering another probe.
	Ignored    int   `json:"ignored"`
	Unrelated  int   `json:"unrelated"`
	Duplicates int   `json:"duplicates"`
	DurationMS int64 `json:"duration_ms"`
}

func (c *Config) defaults() {
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if len(c.Types) == 0 {
		c.Types = []string{TypeNVT}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Interfaces resolves the interfaces a discovery probes on.
func Interfaces(names []string) ([]net.Interface, error) {
	all, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("onvif: interfaces: %w", err)
	}
	var out []net.Interface
	if len(names) > 0 {
		for _, n := range names {
			i := slices.IndexFunc(all, func(ifi net.Interface) bool { return ifi.Name == n })
			if i < 0 {
				var have []string
				for _, ifi := range all {
					have = append(have, ifi.Name)
				}
				return nil, fmt.Errorf("onvif: no interface %q (have %s)", n, strings.Join(have, ", "))
			}
			if all[i].Flags&net.FlagUp == 0 {
				return nil, fmt.Errorf("onvif: interface %q is down", n)
			}
			out = append(out, all[i])
		}
		return out, nil
	}
	for _, ifi := range all {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagMulticast == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		if ipv4Of(ifi) != nil {
			out = append(out, ifi)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("onvif: no interface is up and multicast-capable with an IPv4 address; name one")
	}
	return out, nil
}

// Discover probes for devices and collects the answers until the timeout or ctx ends.
func Discover(ctx context.Context, cfg Config) (*Result, error) {
	cfg.defaults()
	start := time.Now()
	group, err := net.ResolveUDPAddr("udp4", cfg.Group)
	if err != nil || !group.IP.IsMulticast() {
		return nil, fmt.Errorf("onvif: group %q is not an IPv4 multicast host:port", cfg.Group)
	}
	var unicast []*net.UDPAddr
	for _, u := range cfg.Unicast {
		if _, _, err := net.SplitHostPort(u); err != nil {
			u = net.JoinHostPort(u, "3702")
		}
		a, err := net.ResolveUDPAddr("udp4", u)
		if err != nil {
			return nil, fmt.Errorf("onvif: unicast target %q: %w", u, err)
		}
		unicast = append(unicast, a)
	}
	ifis, err := Interfaces(cfg.Interfaces)
	if err != nil {
		return nil, err
	}
	// one interface: probe from its address, so answers come back to it (and the source of
	// a probe through loopback is 127.0.0.1, not whatever address the kernel would pick)
	bind := net.IPv4zero
	if len(ifis) == 1 {
		if ip := ipv4Of(ifis[0]); ip != nil {
			bind = ip
		}
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: bind})
	if err != nil {
		return nil, fmt.Errorf("onvif: %w", err)
	}
	defer conn.Close()
	pc := ipv4.NewPacketConn(conn)
	pc.SetControlMessage(ipv4.FlagInterface, true) // best effort: names the interface of each answer
	pc.SetMulticastLoopback(true)                  // a responder on this host answers too
	pc.SetMulticastTTL(1)

	res := &Result{MessageID: NewMessageID(), Devices: []Device{}}
	probe := BuildProbe(res.MessageID, cfg.Types...)
	names := map[int]string{}
	send := func() error {
		var errs []error
		sent := 0
		for _, ifi := range ifis {
			if err := pc.SetMulticastInterface(&ifi); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", ifi.Name, err))
				continue
			}
			if _, err := pc.WriteTo(probe, nil, group); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", ifi.Name, err))
				continue
			}
			sent++
		}
		for _, a := range unicast {
			if _, err := conn.WriteToUDP(probe, a); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", a, err))
				continue
			}
			sent++
		}
		if sent == 0 {
			return fmt.Errorf("onvif: probe not sent: %w", errors.Join(errs...))
		}
		for _, e := range errs {
			cfg.Logger.Warn("onvif: probe not sent", "err", e)
		}
		return nil
	}
	for _, ifi := range ifis {
		res.Interfaces = append(res.Interfaces, ifi.Name)
		names[ifi.Index] = ifi.Name
	}
	if err := send(); err != nil {
		return nil, err
	}
	deadline := start.Add(cfg.Timeout)
	// ctx ending cuts the wait short (and Discover returns its error)
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()
	// UDP may lose the probe: it goes once more a little later (WS-Discovery repeats
	// multicast messages), with the same MessageID so answers are the same.
	resend := time.AfterFunc(min(cfg.Timeout/4, 250*time.Millisecond), func() { send() })
	defer resend.Stop()

	seen := map[string]bool{}
	buf := make([]byte, 64<<10)
	conn.SetReadDeadline(deadline)
	for ctx.Err() == nil {
		n, cm, from, err := pc.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			return nil, fmt.Errorf("onvif: read: %w", err)
		}
		pm, err := ParseProbeMatches(buf[:n])
		if err != nil {
			res.Ignored++
			cfg.Logger.Debug("onvif: ignored datagram", "from", from, "bytes", n, "err", err)
			continue
		}
		if pm.RelatesTo != "" && pm.RelatesTo != res.MessageID {
			res.Unrelated++
			continue
		}
		ip := ""
		if ua, ok := from.(*net.UDPAddr); ok {
			ip = ua.IP.String()
		}
		for _, m := range pm.Matches {
			if seen[m.Endpoint] {
				res.Duplicates++
				continue
			}
			if len(res.Devices) >= MaxDevices {
				break
			}
			seen[m.Endpoint] = true
			d := Device{Address: ip, Match: m}
			if cm != nil {
				d.Interface = names[cm.IfIndex]
			}
			res.Devices = append(res.Devices, d)
		}
	}
	slices.SortFunc(res.Devices, func(a, b Device) int {
		if c := compareIP(a.Address, b.Address); c != 0 {
			return c
		}
		return strings.Compare(a.Endpoint, b.Endpoint)
	})
	res.DurationMS = time.Since(start).Milliseconds()
	return res, ctx.Err()
}

func ipv4Of(ifi net.Interface) net.IP {
	addrs, _ := ifi.Addrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			return n.IP.To4()
		}
	}
	return nil
}

func compareIP(a, b string) int {
	x, y := net.ParseIP(a).To16(), net.ParseIP(b).To16()
	if x == nil || y == nil {
		return strings.Compare(a, b)
	}
	return strings.Compare(string(x), string(y))
}

// SuggestRTSP guesses a device's main-stream RTSP URL from its vendor (the scopes' name and
// hardware): Hikvision's and Dahua's well-known paths, otherwise the device root.
func SuggestRTSP(d Device) string {
	host := d.Address
	for _, x := range d.XAddrs { // prefer the address the device names for itself
		if i := strings.Index(x, "://"); i >= 0 {
			h := x[i+3:]
			if j := strings.IndexAny(h, "/"); j >= 0 {
				h = h[:j]
			}
			if hh, _, err := net.SplitHostPort(h); err == nil {
				h = hh
			}
			if net.ParseIP(strings.Trim(h, "[]")) != nil {
				host = strings.Trim(h, "[]")
				break
			}
		}
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	vendor := strings.ToLower(d.Name + " " + d.Hardware)
	path := "/"
	switch {
	case strings.Contains(vendor, "hikvision") || strings.Contains(vendor, "ds-2cd"):
		path = "/Streaming/Channels/101"
	case strings.Contains(vendor, "dahua") || strings.Contains(vendor, "ipc-hdw") || strings.Contains(vendor, "ipc-hfw"):
		path = "/cam/realmonitor?channel=1&subtype=0"
	}
	return "rtsp://" + host + ":554" + path
}
