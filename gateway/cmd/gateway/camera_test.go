package main

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"

	simonvif "github.com/community-edge/edge/firmware-sim/onvif"
)

// TestCameraDiscover: the command lists a simulated ONVIF camera answering on loopback (in
// a group port of the test's own) in a table, and says when none answers.
func TestCameraDiscover(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	group := "239.255.255.250:" + strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)
	c.Close()
	var out, errb bytes.Buffer
	if code := cmdCameraDiscover([]string{"-interface", "lo", "-timeout", "300ms"}, group, &out, &errb); code != 1 || !strings.Contains(out.String(), "0 camera(s) answered on lo") {
		t.Fatalf("nobody there: %d\n%s%s", code, out.String(), errb.String())
	}
	r, err := simonvif.Start(simonvif.Config{Interfaces: []string{"lo"}, Group: group, Name: "HIKVISION 东门", Hardware: "DS-2CD2T45",
		Location: "3号楼", XAddr: "http://127.0.0.1:8899/onvif/device_service"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	out.Reset()
	code := cmdCameraDiscover([]string{"-interface", "lo", "-timeout", "1s"}, group, &out, &errb)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "ADDRESS") ||
		!strings.Contains(lines[1], "127.0.0.1") || !strings.Contains(lines[1], "HIKVISION 东门") || !strings.Contains(lines[1], "3号楼") ||
		!strings.Contains(lines[1], "rtsp://127.0.0.1:554/Streaming/Channels/101") || !strings.HasPrefix(lines[2], "1 camera(s) answered on lo") {
		t.Fatalf("discover: %d\n%s%s", code, out.String(), errb.String())
	}
	if code := cmdCamera([]string{"discover", "-interface", "nosuch0"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), `no interface "nosuch0"`) {
		t.Errorf("unknown interface: %d %s", code, errb.String())
	}
}
