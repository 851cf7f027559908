package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// DeviceEndpoint is where devices reach the broker, as a new device's connection settings
// show it. An empty Host means "the host the installer's browser reached the console by".
type DeviceEndpoint struct {
	Host    string
	Port    int
	TLSPort int // 0: no TLS listener
}

// DeviceEndpoint returns where devices reach the broker: for the embedded broker its
// advertise setting or its listen ports; for an external one the host and port of its URL
// (ssl:// or tls:// counts as the TLS port).
func (b Broker) DeviceEndpoint() DeviceEndpoint {
	if b.Mode == "external" {
		u, err := url.Parse(b.External.URL)
		if err != nil {
			return DeviceEndpoint{}
		}
		port, _ := strconv.Atoi(u.Port())
		switch u.Scheme {
		case "ssl", "tls", "mqtts":
			if port == 0 {
				port = 8883
			}
			return DeviceEndpoint{Host: u.Hostname(), TLSPort: port}
		}
		if port == 0 {
			port = 1883
		}
		return DeviceEndpoint{Host: u.Hostname(), Port: port}
	}
	e := b.Embedded
	ep := DeviceEndpoint{Port: portOf(e.Listen), TLSPort: portOf(e.TLSListen)}
	if e.Advertise != "" {
		host, port, err := net.SplitHostPort(e.Advertise)
		if err != nil { // no port: the host alone
			host = strings.Trim(e.Advertise, "[]")
		} else if p, err := strconv.Atoi(port); err == nil {
			ep.Port = p
		}
		ep.Host = host
	}
	return ep
}

func portOf(addr string) int {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	p, _ := strconv.Atoi(port)
	return p
}

func (e EmbeddedBroker) validateAdvertise() Errors {
	a := e.Advertise
	if a == "" {
		return nil
	}
	bad := Errors{fmt.Sprintf("broker.embedded.advertise: must be a host name or IP address with an optional :port (e.g. 192.168.1.10 or gw.example.org:1883), got %q", a)}
	if strings.Contains(a, "://") || strings.ContainsAny(a, "/ ?#@") {
		return bad
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil { // the host alone
		host = strings.Trim(a, "[]")
		if host == "" || strings.Count(host, ":") == 1 {
			return bad
		}
		return nil
	}
	if host == "" {
		return bad
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return Errors{fmt.Sprintf("broker.embedded.advertise: port must be 1-65535, got %q", port)}
	}
	return nil
}
