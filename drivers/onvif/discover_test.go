package onvif_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/community-edge/edge/drivers/onvif"
	simonvif "github.com/community-edge/edge/firmware-sim/onvif"
)

// testGroup is the WS-Discovery group on a free port, so that tests running at the same
// time on this host (or a real camera's responder) do not answer each other's probes.
func testGroup(t *testing.T) string {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return "239.255.255.250:" + strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)
}

func startResponder(t *testing.T, cfg simonvif.Config) *simonvif.Instance {
	t.Helper()
	r, err := simonvif.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// badPeer joins the group and answers every datagram with garbage and with a well-formed
// ProbeMatches that answers some other probe.
func badPeer(t *testing.T, group string) {
	t.Helper()
	g, _ := net.ResolveUDPAddr("udp4", group)
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenMulticastUDP("udp4", lo, g)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { conn.Close(); <-done })
	other := onvif.BuildProbeMatch(onvif.NewMessageID(), onvif.NewMessageID(), onvif.Match{Endpoint: "urn:uuid:0000", XAddrs: []string{"http://127.0.0.9/onvif/device_service"}})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			_, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			conn.WriteToUDP([]byte("\x00\xffnot xml at all"), from)
			conn.WriteToUDP([]byte(`<Envelope><Body><ProbeMatches><ProbeMatch></ProbeMatch></ProbeMatches></Body></Envelope>`), from)
			conn.WriteToUDP(other, from)
		}
	}()
}

// TestDiscoverLoopback runs two simulated cameras' responders and a misbehaving peer on the
// loopback interface (Linux delivers multicast sent through lo when the sender names lo as
// its multicast interface, although lo lacks the MULTICAST flag) and discovers them.
func TestDiscoverLoopback(t *testing.T) {
	group := testGroup(t)
	hik := startResponder(t, simonvif.Config{Interfaces: []string{"lo"}, Group: group, XAddr: "http://127.0.0.1:8080/onvif/device_service",
		Name: "HIKVISION DS-2CD2T45", Hardware: "DS-2CD2T45FWD-I5", Location: "3号楼 东门"})
	dahua := startResponder(t, simonvif.Config{Interfaces: []string{"lo"}, Group: group, XAddr: "http://127.0.0.1:8081/onvif/device_service",
		Name: "Dahua", Hardware: "IPC-HFW1230S", Location: "south gate"})
	badPeer(t, group)

	start := time.Now()
	res, err := onvif.Discover(context.Background(), onvif.Config{Interfaces: []string{"lo"}, Group: group, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if took > 2500*time.Millisecond {
		t.Errorf("discovery took %s, want within 2.5 s", took)
	}
	if len(res.Devices) != 2 {
		t.Fatalf("devices: %+v, want the two responders", res.Devices)
	}
	byEP := map[string]onvif.Device{}
	for _, d := range res.Devices {
		byEP[d.Endpoint] = d
		if d.Address != "127.0.0.1" || d.Interface != "lo" {
			t.Errorf("device %s: address %q interface %q, want 127.0.0.1 on lo", d.Endpoint, d.Address, d.Interface)
		}
	}
	h, ok := byEP[hik.Endpoint()]
	if !ok || h.Name != "HIKVISION DS-2CD2T45" || h.Hardware != "DS-2CD2T45FWD-I5" || len(h.Location) != 1 || h.Location[0] != "3号楼 东门" ||
		len(h.XAddrs) != 1 || h.XAddrs[0] != "http://127.0.0.1:8080/onvif/device_service" {
		t.Errorf("hikvision-like responder: %+v", h)
	}
	if d, ok := byEP[dahua.Endpoint()]; !ok || d.Hardware != "IPC-HFW1230S" {
		t.Errorf("dahua-like responder: %+v", d)
	}
	if onvif.SuggestRTSP(h) != "rtsp://127.0.0.1:554/Streaming/Channels/101" {
		t.Errorf("suggested RTSP URL %q", onvif.SuggestRTSP(h))
	}
	// the probe goes twice; each bad-peer round sends two unparseable datagrams and one answer to another probe
	if res.Ignored < 2 || res.Unrelated < 1 {
		t.Errorf("ignored %d, unrelated %d: the bad peer's datagrams were not all counted", res.Ignored, res.Unrelated)
	}
	if hik.Answered() == 0 || dahua.Answered() == 0 {
		t.Errorf("answered: %d, %d", hik.Answered(), dahua.Answered())
	}

	// a probe for another type of device: the cameras stay silent
	before := hik.Ignored()
	res, err = onvif.Discover(context.Background(), onvif.Config{Interfaces: []string{"lo"}, Group: group, Timeout: 500 * time.Millisecond,
		Types: []string{"NetworkVideoDisplay"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Devices) != 0 {
		t.Errorf("a probe for NetworkVideoDisplay found %+v", res.Devices)
	}
	if hik.Ignored() == before {
		t.Error("the responder did not count the probe it ignored")
	}
}

func TestDiscoverErrors(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		cfg  onvif.Config
		want string
	}{
		{"unknown interface", onvif.Config{Interfaces: []string{"nosuch0"}}, `no interface "nosuch0"`},
		{"group not multicast", onvif.Config{Group: "127.0.0.1:3702"}, "not an IPv4 multicast"},
		{"bad unicast target", onvif.Config{Interfaces: []string{"lo"}, Unicast: []string{"bad host:x:y"}}, "unicast target"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := onvif.Discover(ctx, c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
		})
	}
}

// TestDiscoverUnicastCancel: a cancelled discovery returns at once.
func TestDiscoverCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := onvif.Discover(ctx, onvif.Config{Interfaces: []string{"lo"}, Group: testGroup(t), Timeout: 5 * time.Second})
	if err == nil || time.Since(start) > time.Second {
		t.Fatalf("a cancelled discovery returned %v after %s", err, time.Since(start))
	}
}

// TestDiscoverUnicast probes a device directly (one on another subnet, which multicast does
// not reach) and takes its answer.
func TestDiscoverUnicast(t *testing.T) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { conn.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if p, err := onvif.ParseProbe(buf[:n]); err == nil {
				conn.WriteToUDP(onvif.BuildProbeMatch(onvif.NewMessageID(), p.MessageID, onvif.Match{Endpoint: "urn:uuid:unicast",
					Types: []string{onvif.TypeNVT}, XAddrs: []string{"http://127.0.0.1/onvif/device_service"}}), from)
			}
		}
	}()
	res, err := onvif.Discover(context.Background(), onvif.Config{Interfaces: []string{"lo"}, Group: testGroup(t), Timeout: 500 * time.Millisecond,
		Unicast: []string{conn.LocalAddr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Devices) != 1 || res.Devices[0].Endpoint != "urn:uuid:unicast" || res.Devices[0].Address != "127.0.0.1" || res.Duplicates != 1 {
		t.Fatalf("unicast discovery: %+v", res)
	}
}
