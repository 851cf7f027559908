package config

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// Camera is an RTSP camera the gateway relays to viewers. Its URL and credentials stay on
// the gateway: browsers see only its id, name, building and state.
type Camera struct {
	ID       string `yaml:"id"`
	Name     string `yaml:"name"`
	URL      string `yaml:"url"`      // rtsp://host:554/path (credentials here or below)
	Username string `yaml:"username"` // optional
	Password string `yaml:"password"` // optional; ${ENV} allowed
	Building string `yaml:"building"` // links the camera to alarms from this building
	AlwaysOn bool   `yaml:"always_on"`
}

// Video configures the relay of cameras to viewers.
type Video struct {
	IdleGrace    time.Duration `yaml:"idle_grace"`    // a camera without viewers is closed after this; default 30s
	OfflineAfter time.Duration `yaml:"offline_after"` // unreachable this long raises camera_offline; default 60s
	StaleAfter   time.Duration `yaml:"stale_after"`   // no frame this long marks the picture frozen (信号中断); default 3s
	ViewerQueue  int           `yaml:"viewer_queue"`  // frames queued per viewer before it drops to the next keyframe; default 256
	WebRTC       WebRTC        `yaml:"webrtc"`
}

// WebRTC configures the WebRTC side of the relay.
type WebRTC struct {
	UDPPort    int         `yaml:"udp_port"`     // every viewer's media on this one UDP port (ICE UDP mux); default 8189
	ListenIP   string      `yaml:"listen_ip"`    // address to bind; default all
	NAT1To1IPs []string    `yaml:"nat_1to1_ips"` // public addresses announced instead of the box's own
	ICEServers []ICEServer `yaml:"ice_servers"`  // STUN/TURN servers given to both sides
	MaxViewers int         `yaml:"max_viewers"`  // sessions at most; default 100
}

// ICEServer is a STUN or TURN server.
type ICEServer struct {
	URLs       []string `yaml:"urls"` // stun:host:3478, turn:host:3478?transport=udp
	Username   string   `yaml:"username"`
	Credential string   `yaml:"credential"` // ${ENV} allowed
}

func defaultVideo() Video {
	return Video{IdleGrace: 30 * time.Second, OfflineAfter: 60 * time.Second, StaleAfter: 3 * time.Second,
		ViewerQueue: 256, WebRTC: WebRTC{UDPPort: 8189, MaxViewers: 100}}
}

func (c *Config) validateVideo() Errors {
	var p Errors
	add := func(key, format string, args ...any) { p = append(p, key+": "+fmt.Sprintf(format, args...)) }
	v := c.Video
	if v.IdleGrace < 0 {
		add("video.idle_grace", "must not be negative, got %s", v.IdleGrace)
	}
	if v.OfflineAfter < time.Second {
		add("video.offline_after", "must be at least 1s, got %s", v.OfflineAfter)
	}
	if v.StaleAfter < 100*time.Millisecond {
		add("video.stale_after", "must be at least 100ms, got %s", v.StaleAfter)
	}
	if v.ViewerQueue < 16 || v.ViewerQueue > 4096 {
		add("video.viewer_queue", "must be 16-4096, got %d", v.ViewerQueue)
	}
	w := v.WebRTC
	if w.UDPPort < 1 || w.UDPPort > 65535 {
		add("video.webrtc.udp_port", "must be 1-65535, got %d", w.UDPPort)
	}
	if w.ListenIP != "" && net.ParseIP(w.ListenIP) == nil {
		add("video.webrtc.listen_ip", "must be an IP address, got %q", w.ListenIP)
	}
	for i, ip := range w.NAT1To1IPs {
		if net.ParseIP(ip) == nil {
			add(fmt.Sprintf("video.webrtc.nat_1to1_ips[%d]", i), "must be an IP address, got %q", ip)
		}
	}
	for i, s := range w.ICEServers {
		for j, u := range s.URLs {
			if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
				add(fmt.Sprintf("video.webrtc.ice_servers[%d].urls[%d]", i, j), "must start with stun:, turn: or turns:, got %q", u)
			}
		}
		if len(s.URLs) == 0 {
			add(fmt.Sprintf("video.webrtc.ice_servers[%d].urls", i), "required")
		}
	}
	if w.MaxViewers < 1 {
		add("video.webrtc.max_viewers", "must be positive, got %d", w.MaxViewers)
	}
	seen := map[string]bool{}
	for i, cam := range c.Cameras {
		key := fmt.Sprintf("cameras[%d].", i)
		for _, problem := range ValidateCamera(cam) {
			p = append(p, key+problem)
		}
		if seen[cam.ID] {
			add(key+"id", "duplicate camera id %q", cam.ID)
		}
		seen[cam.ID] = true
	}
	return p
}

// ValidateCamera checks one camera (from the configuration or added at runtime); each
// problem starts with its field's key.
func ValidateCamera(cam Camera) []string {
	var p []string
	if !deviceIDRe.MatchString(cam.ID) {
		p = append(p, fmt.Sprintf("id: must be 1-64 letters, digits, '.', '-' or '_', got %q", cam.ID))
	}
	if !strings.HasPrefix(cam.URL, "rtsp://") {
		p = append(p, "url: must be an rtsp:// URL")
	}
	if (cam.Username == "") != (cam.Password == "") {
		p = append(p, "username: username and password go together")
	}
	return p
}
