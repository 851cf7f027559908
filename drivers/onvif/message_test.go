package onvif

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestParseProbeMatchesGolden parses every message under testdata (answers shaped like those
// of Hikvision and Dahua cameras, a WS-Discovery 1.1 answer with two matches, and broken or
// hostile ones) and compares the result, or the error, with its golden file.
func TestParseProbeMatchesGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.xml")
	if len(files) < 5 {
		t.Fatalf("testdata: %d messages", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			if pm, err := ParseProbeMatches(data); err != nil {
				got = []byte("error: " + err.Error() + "\n")
			} else {
				got, _ = json.MarshalIndent(pm, "", "  ")
				got = append(got, '\n')
			}
			golden := strings.TrimSuffix(f, ".xml") + ".golden"
			if *update {
				os.WriteFile(golden, got, 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestProbeRoundTrip(t *testing.T) {
	id := NewMessageID()
	if len(id) != len("urn:uuid:")+36 || id == NewMessageID() {
		t.Fatalf("message id %q", id)
	}
	for _, c := range []struct {
		types  []string
		wants  []string
		answer bool
	}{
		{[]string{TypeNVT}, []string{TypeNVT}, true},
		{[]string{"NetworkVideoDisplay"}, []string{TypeNVT}, false},
		{nil, []string{TypeNVT}, true},
		{[]string{"Device", TypeNVT}, []string{TypeNVT}, true},
	} {
		p, err := ParseProbe(BuildProbe(id, c.types...))
		if err != nil {
			t.Fatal(err)
		}
		if p.MessageID != id || p.Wants(c.wants) != c.answer {
			t.Errorf("probe for %v: %+v, answers %v", c.types, p, p.Wants(c.wants))
		}
	}
	if _, err := ParseProbe([]byte(`<Envelope><Body><Probe/></Body></Envelope>`)); err == nil {
		t.Error("a probe without a MessageID was accepted")
	}
	m := Match{Endpoint: "urn:uuid:1", Types: []string{TypeNVT}, XAddrs: []string{"http://10.0.0.2/onvif/device_service"},
		Scopes: []string{"onvif://www.onvif.org/name/%E5%A4%A7%E9%97%A8%20%3C%26%3E"}, MetadataVersion: "1"}
	pm, err := ParseProbeMatches(BuildProbeMatch("urn:uuid:2", id, m))
	if err != nil {
		t.Fatal(err)
	}
	m.Name = "大门 <&>"
	if pm.RelatesTo != id || pm.MessageID != "urn:uuid:2" || !reflect.DeepEqual(pm.Matches, []Match{m}) {
		t.Errorf("round trip: %+v", pm)
	}
}

func TestLimits(t *testing.T) {
	big := bytes.Repeat([]byte(" "), MaxMessageBytes)
	if _, err := ParseProbeMatches(append([]byte("<Envelope>"), big...)); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("an oversized message: %v", err)
	}
	many := strings.Repeat("<ProbeMatch><EndpointReference><Address>u</Address></EndpointReference></ProbeMatch>", MaxMatches+1)
	if _, err := ParseProbeMatches([]byte("<Envelope><Body><ProbeMatches>" + many + "</ProbeMatches></Body></Envelope>")); err == nil {
		t.Error("too many matches accepted")
	}
	scopes := strings.Repeat("onvif://www.onvif.org/x ", MaxScopes+1)
	if _, err := ParseProbeMatches([]byte("<Envelope><Body><ProbeMatches><ProbeMatch><EndpointReference><Address>u</Address></EndpointReference><Scopes>" +
		scopes + "</Scopes></ProbeMatch></ProbeMatches></Body></Envelope>")); err == nil {
		t.Error("too many scopes accepted")
	}
}

func TestSuggestRTSP(t *testing.T) {
	for _, c := range []struct {
		d    Device
		want string
	}{
		{Device{Address: "192.168.1.64", Match: Match{Name: "HIKVISION DS-2CD2T45", XAddrs: []string{"http://192.168.1.64/onvif/device_service"}}}, "rtsp://192.168.1.64:554/Streaming/Channels/101"},
		{Device{Address: "10.0.0.9", Match: Match{Hardware: "IPC-HFW1230S", XAddrs: []string{"http://192.168.1.108:80/onvif/device_service"}}}, "rtsp://192.168.1.108:554/cam/realmonitor?channel=1&subtype=0"},
		{Device{Address: "10.0.0.9", Match: Match{Name: "camsim", XAddrs: []string{"http://cam.local/onvif"}}}, "rtsp://10.0.0.9:554/"},
		{Device{Address: "fe80::1", Match: Match{}}, "rtsp://[fe80::1]:554/"},
	} {
		if got := SuggestRTSP(c.d); got != c.want {
			t.Errorf("%+v: %q, want %q", c.d, got, c.want)
		}
	}
}

// FuzzParseProbeMatches: whatever arrives on the discovery socket, the parser returns an
// error or matches within the limits, never panics, and what it accepts survives a round
// trip through BuildProbeMatch unchanged.
func FuzzParseProbeMatches(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.xml")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add(BuildProbe(NewMessageID(), TypeNVT))
	f.Add([]byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ParseProbe(data)
		pm, err := ParseProbeMatches(data)
		if err != nil {
			return
		}
		if len(pm.Matches) == 0 || len(pm.Matches) > MaxMatches {
			t.Fatalf("%d matches", len(pm.Matches))
		}
		for _, m := range pm.Matches {
			if m.Endpoint == "" || len(m.XAddrs) > MaxXAddrs || len(m.Scopes) > MaxScopes {
				t.Fatalf("limits: %+v", m)
			}
			again, err := ParseProbeMatches(BuildProbeMatch("urn:uuid:x", "urn:uuid:y", m))
			if err != nil {
				t.Fatalf("rebuilt match does not parse: %v\n%+v", err, m)
			}
			if !reflect.DeepEqual(again.Matches[0], m) {
				t.Fatalf("round trip:\n%+v\n%+v", m, again.Matches[0])
			}
		}
	})
}
