package rtsp

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// Codec names a media codec as it appears in an SDP rtpmap, normalised.
type Codec string

// Codecs this package recognises.
const (
	CodecH264 Codec = "H264"
	CodecH265 Codec = "H265"
	CodecPCMA Codec = "PCMA"
	CodecPCMU Codec = "PCMU"
	CodecAAC  Codec = "AAC"
)

// Track is one media section of a camera's SDP.
type Track struct {
	Media       string // "video" or "audio"
	Codec       Codec
	PayloadType uint8
	ClockRate   int
	Channels    int
	Control     string // absolute URL for SETUP, without credentials
	// Playable reports whether this client depacketizes the track and WebRTC can
	// carry it: H.264 video and G.711 (PCMA/PCMU) audio. H.265 and AAC are reported
	// but not played.
	Playable bool

	// H.264 only, from the fmtp line.
	SPS, PPS          []byte
	ProfileLevelID    string // six hex digits, e.g. "42e01f"
	PacketizationMode int
}

// maxTracks bounds the media sections considered.
const maxTracks = 16

// parseSDP returns the tracks of an SDP. base is the URL relative controls resolve
// against (Content-Base, else the DESCRIBE URL).
func parseSDP(body []byte, base string) (tracks []Track, err error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fmt.Errorf("%w: empty sdp", ErrProtocol)
	}
	var sd sdp.SessionDescription
	if err := unmarshalSDP(&sd, body); err != nil {
		return nil, fmt.Errorf("%w: sdp: %w", ErrProtocol, err)
	}
	sessionControl, _ := sd.Attribute("control")
	if sessionControl != "" && sessionControl != "*" {
		base = resolveControl(base, sessionControl)
	}
	for i, md := range sd.MediaDescriptions {
		if i >= maxTracks {
			break
		}
		if len(md.MediaName.Formats) == 0 {
			continue
		}
		t := Track{Media: md.MediaName.Media}
		pt, err := strconv.ParseUint(md.MediaName.Formats[0], 10, 7)
		if err != nil {
			continue
		}
		t.PayloadType = uint8(pt)
		rtpmap, fmtp := "", ""
		prefix := md.MediaName.Formats[0] + " "
		for _, a := range md.Attributes {
			switch a.Key {
			case "rtpmap":
				if strings.HasPrefix(a.Value, prefix) && rtpmap == "" {
					rtpmap = strings.TrimSpace(a.Value[len(prefix):])
				}
			case "fmtp":
				if strings.HasPrefix(a.Value, prefix) && fmtp == "" {
					fmtp = strings.TrimSpace(a.Value[len(prefix):])
				}
			case "control":
				t.Control = resolveControl(base, a.Value)
			}
		}
		if t.Control == "" {
			t.Control = base
		}
		t.Codec, t.ClockRate, t.Channels = parseRTPMap(t.PayloadType, rtpmap)
		switch t.Codec {
		case CodecH264:
			t.Playable = true
			parseH264FMTP(&t, fmtp)
		case CodecPCMA, CodecPCMU:
			t.Playable = t.ClockRate == 8000 && t.Channels == 1
		}
		tracks = append(tracks, t)
	}
	return tracks, nil
}

// unmarshalSDP runs pion's parser and turns a panic on hostile input into an error, so
// a camera can never crash the gateway through its SDP.
func unmarshalSDP(sd *sdp.SessionDescription, body []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sdp parser panic: %v", r)
		}
	}()
	return sd.Unmarshal(body)
}

func parseRTPMap(pt uint8, rtpmap string) (Codec, int, int) {
	if rtpmap == "" {
		switch pt { // static payload types, RFC 3551
		case 0:
			return CodecPCMU, 8000, 1
		case 8:
			return CodecPCMA, 8000, 1
		}
		return Codec(fmt.Sprintf("PT%d", pt)), 0, 0
	}
	parts := strings.Split(rtpmap, "/")
	name := strings.ToUpper(parts[0])
	rate, channels := 0, 1
	if len(parts) > 1 {
		rate, _ = strconv.Atoi(parts[1])
	}
	if len(parts) > 2 {
		channels, _ = strconv.Atoi(parts[2])
	}
	switch name {
	case "H264":
		return CodecH264, rate, 0
	case "H265", "HEVC":
		return CodecH265, rate, 0
	case "MPEG4-GENERIC", "MP4A-LATM":
		return CodecAAC, rate, channels
	}
	if len(name) > 32 {
		name = name[:32]
	}
	return Codec(name), rate, channels
}

func parseH264FMTP(t *Track, fmtp string) {
	for _, kv := range strings.Split(fmtp, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		switch strings.ToLower(k) {
		case "packetization-mode":
			t.PacketizationMode, _ = strconv.Atoi(v)
		case "profile-level-id":
			if b, err := hex.DecodeString(v); err == nil && len(b) == 3 {
				t.ProfileLevelID = strings.ToLower(v)
			}
		case "sprop-parameter-sets":
			for _, ps := range strings.Split(v, ",") {
				nal := decodeBase64(ps)
				if len(nal) == 0 {
					continue
				}
				switch nal[0] & 0x1f {
				case nalSPS:
					t.SPS = nal
				case nalPPS:
					t.PPS = nal
				}
			}
		}
	}
}

func decodeBase64(s string) []byte {
	s = strings.TrimSpace(s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b
	}
	if b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "=")); err == nil {
		return b
	}
	return nil
}

// resolveControl resolves a control attribute against base (RFC 2326 C.1.1; cameras use
// both absolute URLs and paths relative to the DESCRIBE URL).
func resolveControl(base, control string) string {
	control = strings.TrimSpace(control)
	if control == "" || control == "*" {
		return base
	}
	if strings.HasPrefix(strings.ToLower(control), "rtsp://") || strings.HasPrefix(strings.ToLower(control), "rtsps://") {
		return stripUserinfo(control)
	}
	if strings.HasPrefix(control, "/") {
		if u, err := url.Parse(base); err == nil {
			u.Path, u.RawPath, u.RawQuery = control, "", ""
			return u.String()
		}
	}
	if strings.HasSuffix(base, "/") {
		return base + control
	}
	return base + "/" + control
}

// stripUserinfo removes credentials from a URL so it can go on the wire or into logs.
func stripUserinfo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}
