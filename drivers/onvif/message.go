// Package onvif is the camera discovery of ONVIF devices: WS-Discovery (SOAP over UDP) Probe
// and ProbeMatches messages, written and parsed with encoding/xml within fixed size limits,
// and a client that probes the multicast group 239.255.255.250:3702 on chosen interfaces and
// lists every responder once, with its address, service addresses and decoded scopes.
package onvif

import (
	"bytes"
	"crypto/rand"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Namespaces and names of WS-Discovery as ONVIF devices speak it (the 2005/04 draft).
const (
	nsSOAP      = "http://www.w3.org/2003/05/soap-envelope"
	nsAddr      = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
	nsDiscovery = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
	nsDevice    = "http://www.onvif.org/ver10/network/wsdl"
	toDiscovery = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
	anonymous   = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"

	ActionProbe        = "http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe"
	ActionProbeMatches = "http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches"

	// TypeNVT is the device type of a camera (dn:NetworkVideoTransmitter).
	TypeNVT = "NetworkVideoTransmitter"
)

// Limits on what a datagram may carry; anything beyond is an error, never a crash.
const (
	MaxMessageBytes = 32 << 10 // a ProbeMatches larger than this is refused
	MaxMatches      = 16       // ProbeMatch elements in one message
	MaxXAddrs       = 8        // service addresses of one match
	MaxScopes       = 64       // scopes of one match
	MaxFieldBytes   = 2048     // one address, scope or type
)

// ErrMalformed wraps every parse error.
var ErrMalformed = errors.New("onvif: malformed message")

// NewMessageID returns a fresh urn:uuid (version 4).
func NewMessageID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// envelope is a SOAP envelope as parsed: elements are matched by local name, so a message
// in either WS-Discovery version or with other prefixes parses the same.
type envelope struct {
	XMLName xml.Name `xml:"Envelope"`
	Header  struct {
		MessageID string `xml:"MessageID"`
		RelatesTo string `xml:"RelatesTo"`
		Action    string `xml:"Action"`
	} `xml:"Header"`
	Body struct {
		Probe *struct {
			Types  string `xml:"Types"`
			Scopes string `xml:"Scopes"`
		} `xml:"Probe"`
		ProbeMatches *struct {
			Matches []probeMatch `xml:"ProbeMatch"`
		} `xml:"ProbeMatches"`
	} `xml:"Body"`
}

type probeMatch struct {
	Address         string `xml:"EndpointReference>Address"`
	Types           string `xml:"Types"`
	Scopes          string `xml:"Scopes"`
	XAddrs          string `xml:"XAddrs"`
	MetadataVersion string `xml:"MetadataVersion"`
}

// Probe is a received Probe (what a responder needs of it).
type Probe struct {
	MessageID string
	Types     []string // local names, e.g. NetworkVideoTransmitter; empty matches every device
}

// Match is one ProbeMatch: a device that answered.
type Match struct {
	Endpoint        string   `json:"endpoint"` // the endpoint reference, e.g. urn:uuid:…; stable per device
	Types           []string `json:"types"`    // local names
	XAddrs          []string `json:"xaddrs"`   // device service URLs
	Scopes          []string `json:"scopes"`   // as sent
	MetadataVersion string   `json:"metadata_version,omitempty"`
	// decoded from the onvif://www.onvif.org/… scopes (URL-decoded)
	Name     string   `json:"name,omitempty"`
	Hardware string   `json:"hardware,omitempty"`
	Location []string `json:"location,omitempty"`
	Profiles []string `json:"profiles,omitempty"`
}

// ProbeMatches is a parsed ProbeMatches message.
type ProbeMatches struct {
	MessageID string  `json:"message_id"`
	RelatesTo string  `json:"relates_to"` // the MessageID of the Probe it answers
	Matches   []Match `json:"matches"`
}

// BuildProbe writes a Probe for the given types (local names in the ONVIF device namespace).
func BuildProbe(messageID string, types ...string) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` +
		`<s:Envelope xmlns:s="` + nsSOAP + `" xmlns:a="` + nsAddr + `" xmlns:d="` + nsDiscovery + `" xmlns:dn="` + nsDevice + `">` +
		`<s:Header><a:Action s:mustUnderstand="1">` + ActionProbe + `</a:Action><a:MessageID>`)
	xml.EscapeText(&b, []byte(messageID))
	b.WriteString(`</a:MessageID><a:ReplyTo><a:Address>` + anonymous + `</a:Address></a:ReplyTo>` +
		`<a:To s:mustUnderstand="1">` + toDiscovery + `</a:To></s:Header><s:Body><d:Probe><d:Types>`)
	for i, t := range types {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("dn:")
		xml.EscapeText(&b, []byte(t))
	}
	b.WriteString(`</d:Types></d:Probe></s:Body></s:Envelope>`)
	return b.Bytes()
}

// BuildProbeMatch writes the ProbeMatches answer of one device to the Probe relatesTo.
func BuildProbeMatch(messageID, relatesTo string, m Match) []byte {
	var b bytes.Buffer
	esc := func(s string) { xml.EscapeText(&b, []byte(s)) }
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` +
		`<SOAP-ENV:Envelope xmlns:SOAP-ENV="` + nsSOAP + `" xmlns:wsa="` + nsAddr + `" xmlns:d="` + nsDiscovery + `" xmlns:dn="` + nsDevice + `">` +
		`<SOAP-ENV:Header><wsa:MessageID>`)
	esc(messageID)
	b.WriteString(`</wsa:MessageID><wsa:RelatesTo>`)
	esc(relatesTo)
	b.WriteString(`</wsa:RelatesTo><wsa:To SOAP-ENV:mustUnderstand="true">` + anonymous + `</wsa:To>` +
		`<wsa:Action SOAP-ENV:mustUnderstand="true">` + ActionProbeMatches + `</wsa:Action></SOAP-ENV:Header>` +
		`<SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch><wsa:EndpointReference><wsa:Address>`)
	esc(m.Endpoint)
	b.WriteString(`</wsa:Address></wsa:EndpointReference><d:Types>`)
	for i, t := range m.Types {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("dn:")
		esc(t)
	}
	b.WriteString(`</d:Types><d:Scopes>`)
	esc(strings.Join(m.Scopes, " "))
	b.WriteString(`</d:Scopes><d:XAddrs>`)
	esc(strings.Join(m.XAddrs, " "))
	b.WriteString(`</d:XAddrs><d:MetadataVersion>`)
	esc(m.MetadataVersion)
	b.WriteString(`</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>`)
	return b.Bytes()
}

// decode parses a SOAP envelope within MaxMessageBytes.
func decode(data []byte) (*envelope, error) {
	if len(data) > MaxMessageBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(data), MaxMessageBytes)
	}
	var env envelope
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.CharsetReader = func(charset string, r io.Reader) (io.Reader, error) {
		if strings.EqualFold(charset, "utf-8") || strings.EqualFold(charset, "us-ascii") {
			return r, nil
		}
		return nil, fmt.Errorf("charset %q not supported", charset)
	}
	if err := d.Decode(&env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return &env, nil
}

// ParseProbe parses a Probe; a message of another kind is an error.
func ParseProbe(data []byte) (*Probe, error) {
	env, err := decode(data)
	if err != nil {
		return nil, err
	}
	if env.Body.Probe == nil {
		return nil, fmt.Errorf("%w: not a Probe", ErrMalformed)
	}
	if env.Header.MessageID == "" || len(env.Header.MessageID) > MaxFieldBytes {
		return nil, fmt.Errorf("%w: Probe without a usable MessageID", ErrMalformed)
	}
	types, err := qnames(env.Body.Probe.Types, "Types")
	if err != nil {
		return nil, err
	}
	return &Probe{MessageID: env.Header.MessageID, Types: types}, nil
}

// Wants reports whether a probe asks for a device of any of the types given.
func (p *Probe) Wants(types []string) bool {
	if len(p.Types) == 0 {
		return true
	}
	for _, want := range p.Types {
		for _, t := range types {
			if want == t {
				return true
			}
		}
	}
	return false
}

// ParseProbeMatches parses a ProbeMatches message: every match with an endpoint reference,
// its fields within the limits and its scopes decoded.
func ParseProbeMatches(data []byte) (*ProbeMatches, error) {
	env, err := decode(data)
	if err != nil {
		return nil, err
	}
	if env.Body.ProbeMatches == nil {
		return nil, fmt.Errorf("%w: not a ProbeMatches", ErrMalformed)
	}
	pm := &ProbeMatches{MessageID: strings.TrimSpace(env.Header.MessageID), RelatesTo: strings.TrimSpace(env.Header.RelatesTo)}
	if len(env.Body.ProbeMatches.Matches) > MaxMatches {
		return nil, fmt.Errorf("%w: %d matches, at most %d", ErrMalformed, len(env.Body.ProbeMatches.Matches), MaxMatches)
	}
	for i, raw := range env.Body.ProbeMatches.Matches {
		m, err := raw.match()
		if err != nil {
			return nil, fmt.Errorf("%w: match %d: %v", ErrMalformed, i, err)
		}
		pm.Matches = append(pm.Matches, m)
	}
	if len(pm.Matches) == 0 {
		return nil, fmt.Errorf("%w: ProbeMatches without a match", ErrMalformed)
	}
	return pm, nil
}

func (raw probeMatch) match() (Match, error) {
	m := Match{Endpoint: strings.TrimSpace(raw.Address), MetadataVersion: strings.TrimSpace(raw.MetadataVersion)}
	if m.Endpoint == "" || len(m.Endpoint) > MaxFieldBytes {
		return m, errors.New("no usable endpoint reference")
	}
	var err error
	if m.Types, err = qnames(raw.Types, "Types"); err != nil {
		return m, err
	}
	if m.XAddrs, err = list(raw.XAddrs, "XAddrs", MaxXAddrs); err != nil {
		return m, err
	}
	for _, x := range m.XAddrs {
		if u, err := url.Parse(x); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return m, fmt.Errorf("XAddrs: %q is not an http(s) URL", x)
		}
	}
	if m.Scopes, err = list(raw.Scopes, "Scopes", MaxScopes); err != nil {
		return m, err
	}
	m.decodeScopes()
	return m, nil
}

// list splits a whitespace-separated list within the limits.
func list(s, what string, maxItems int) ([]string, error) {
	f := strings.Fields(s)
	if len(f) > maxItems {
		return nil, fmt.Errorf("%s: %d items, at most %d", what, len(f), maxItems)
	}
	for _, x := range f {
		if len(x) > MaxFieldBytes {
			return nil, fmt.Errorf("%s: an item of %d bytes, at most %d", what, len(x), MaxFieldBytes)
		}
	}
	return f, nil
}

// qnames splits a list of qualified names (dn:NetworkVideoTransmitter) into local names.
func qnames(s, what string) ([]string, error) {
	f, err := list(s, what, MaxScopes)
	if err != nil {
		return nil, err
	}
	for i, q := range f {
		if _, local, ok := strings.Cut(q, ":"); ok {
			f[i] = local
		}
	}
	return f, nil
}

const scopePrefix = "onvif://www.onvif.org/"

// decodeScopes fills Name, Hardware, Location and Profiles from the ONVIF scopes.
func (m *Match) decodeScopes() {
	for _, s := range m.Scopes {
		rest, ok := strings.CutPrefix(s, scopePrefix)
		if !ok {
			continue
		}
		kind, val, _ := strings.Cut(rest, "/")
		if v, err := url.PathUnescape(val); err == nil {
			val = v
		}
		switch strings.ToLower(kind) {
		case "name":
			m.Name = val
		case "hardware":
			m.Hardware = val
		case "location":
			m.Location = append(m.Location, val)
		case "profile":
			m.Profiles = append(m.Profiles, val)
		}
	}
}
