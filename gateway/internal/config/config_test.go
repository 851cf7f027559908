package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

const minimal = "site:\n  code: sunny\n"

func TestDefaultsFromMinimalConfig(t *testing.T) {
	c, err := Parse([]byte(minimal), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Broker.Mode != "embedded" || c.Ingest.MaxPayloadBytes != 64<<10 || c.Site.TimeZone != "Asia/Shanghai" || c.HTTP.Listen != ":8080" || c.MemoryLimitMiB != 44 {
		t.Fatalf("defaults not applied: %+v", c)
	}
}

func TestParseReportsEveryProblemWithItsKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		env  map[string]string
		want []string
	}{
		{"unknown key", minimal + "brokr:\n  mode: embedded\n", nil, []string{"field brokr not found"}},
		{"bad site code", "site:\n  code: Sunny Side\n", nil, []string{"site.code:"}},
		{"bad grid code", minimal + "  grid_code: \"12345\"\n", nil, []string{"site.grid_code:"}},
		{"bad time zone", minimal + "  time_zone: Mars/Olympus\n", nil, []string{"site.time_zone:"}},
		{"bad duration", minimal + "ingest:\n  status_flush: soon\n", nil, []string{"soon"}},
		{"external without url", minimal + "broker:\n  mode: external\n  external:\n    client_id: gw\n", nil, []string{"broker.external.url:"}},
		{"external without client id", minimal + "broker:\n  mode: external\n  external:\n    url: tcp://h:1883\n", nil, []string{"broker.external.client_id:"}},
		{"tiny memory limit", minimal + "memory_limit_mib: 8\n", nil, []string{"memory_limit_mib: must be 0 (no limit) or at least 16"}},
		{"unknown broker mode", minimal + "broker:\n  mode: cloud\n", nil, []string{"broker.mode:"}},
		{"unset env", minimal + "broker:\n  mode: external\n  external:\n    url: tcp://h:1883\n    client_id: gw\n    password: ${NOPE}\n", nil, []string{"NOPE"}},
		{"short token", minimal + "http:\n  api_tokens:\n    - {name: a, token: short, role: admin}\n", nil, []string{"http.api_tokens[0].token:"}},
		{"bad role", minimal + "http:\n  api_tokens:\n    - {name: a, token: 0123456789abcdefg, role: root}\n", nil, []string{"http.api_tokens[0].role:"}},
		{"device bad family", minimal + "devices:\n  - {id: d1, family: toaster}\n", nil, []string{"devices[0] (d1).family:"}},
		{"device duplicate", minimal + "devices:\n  - {id: d1, family: locker}\n  - {id: d1, family: locker}\n", nil, []string{"devices[1] (d1).id: duplicate"}},
		{"resident on a locker", minimal + "devices:\n  - id: d1\n    family: locker\n    resident: {name: 王}\n", nil, []string{"resident: only call buttons"}},
		{"three at once", "site:\n  code: \"\"\nlog:\n  level: loud\ningest:\n  max_payload_bytes: 1\n", nil,
			[]string{"site.code:", "log.level:", "ingest.max_payload_bytes:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), env(tc.env))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestEnvironmentSuppliesSecrets(t *testing.T) {
	y := minimal + "broker:\n  mode: external\n  external:\n    url: tcp://h:1883\n    client_id: gw\n    password: ${BROKER_PW}\n"
	c, err := Parse([]byte(y), env(map[string]string{"BROKER_PW": "from-env"}))
	if err != nil || c.Broker.External.Password != "from-env" {
		t.Fatalf("got %v, %q", err, c.Broker.External.Password)
	}
	c, err = Parse([]byte(y), env(map[string]string{"BROKER_PW": "x", "GATEWAY_BROKER_PASSWORD": "override"}))
	if err != nil || c.Broker.External.Password != "override" {
		t.Fatalf("GATEWAY_BROKER_PASSWORD did not override: %v, %q", err, c.Broker.External.Password)
	}
}

func TestEnvReferencesInCommentsAreLeftAlone(t *testing.T) {
	y := minimal + "# ${NOT_SET} in a comment\nlog:\n  level: info # and ${HERE}\n  format: \"text\" # \"quoted ${X}\"\n"
	if _, err := Parse([]byte(y), env(nil)); err != nil {
		t.Fatal(err)
	}
}

func TestDeviceCSV(t *testing.T) {
	good := "family,id,name,building,unit,room,heartbeat_interval,password,resident_name,resident_age,resident_lives_alone,contact_name,contact_phone\n" +
		"callbutton,cb-1,张家,3,2,401,30s,pw-cb-1-long,张秀英,82,true,张伟,139\n" +
		"locker,lk-1,北门快递柜,,,,,pw-lk-1-long,,,,,\n"
	devs, err := ParseDeviceCSV(strings.NewReader(good), "devs.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 2 || devs[0].Resident == nil || devs[0].Resident.Age != 82 || !devs[0].Resident.LivesAlone ||
		devs[0].Resident.EmergencyContacts[0].Name != "张伟" || devs[0].HeartbeatInterval.Seconds() != 30 || devs[1].Resident != nil {
		t.Fatalf("parsed wrong: %+v", devs)
	}
	bad := "family,id,heartbeat_interval,resident_name,resident_age,colour\n"
	if _, err := ParseDeviceCSV(strings.NewReader(bad), "bad.csv"); err == nil || !strings.Contains(err.Error(), `unknown column "colour"`) {
		t.Fatalf("unknown column not reported: %v", err)
	}
	bad = "family,id,heartbeat_interval,resident_name,resident_age\ntoaster,t1,,,\ncallbutton,c1,often,王,old\n"
	_, err = ParseDeviceCSV(strings.NewReader(bad), "bad.csv")
	for _, w := range []string{"bad.csv:2: family:", "bad.csv:3: heartbeat_interval:", "bad.csv:3: resident_age:"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in %v", w, err)
		}
	}
}

func TestVideoConfig(t *testing.T) {
	base := "site: {code: s1, time_zone: Asia/Shanghai}\n"
	for _, tc := range []struct {
		name, yaml string
		want       []string // substrings of the problems; none: valid
	}{
		{"no cameras", "", nil},
		{"a camera", "cameras: [{id: cam-1, url: \"rtsp://10.0.0.5/main\", username: u, password: p, building: \"3\", always_on: true}]\n", nil},
		{"env password", "cameras: [{id: cam-1, url: \"rtsp://10.0.0.5/main\", username: u, password: ${CAM_PW}}]\n", nil},
		{"bad camera", "cameras: [{id: \"a b\", url: http://x, username: u}]\n", []string{"cameras[0].id", "cameras[0].url", "cameras[0].username"}},
		{"duplicate", "cameras: [{id: c, url: \"rtsp://a/b\"}, {id: c, url: \"rtsp://a/c\"}]\n", []string{"cameras[1].id: duplicate"}},
		{"unknown key", "cameras: [{id: c, url: \"rtsp://a/b\", pasword: x}]\n", []string{"pasword"}},
		{"bad video", "video: {offline_after: 10ms, stale_after: 1ms, viewer_queue: 2, webrtc: {udp_port: 70000, listen_ip: nope, nat_1to1_ips: [x], ice_servers: [{urls: [\"http://x\"]}], max_viewers: 0}}\n",
			[]string{"video.offline_after", "video.stale_after", "video.viewer_queue", "video.webrtc.udp_port", "video.webrtc.listen_ip",
				"video.webrtc.nat_1to1_ips[0]", "video.webrtc.ice_servers[0].urls[0]", "video.webrtc.max_viewers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(base+tc.yaml), func(k string) string { return map[string]string{"CAM_PW": "secret"}[k] })
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if c.Video.WebRTC.UDPPort != 8189 || c.Video.IdleGrace != 30*time.Second {
					t.Errorf("defaults: %+v", c.Video)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("no problem about %s in:\n%v", w, err)
				}
			}
		})
	}
}
