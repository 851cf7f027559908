package rtsp

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"testing"
)

// SPS vectors produced by ffmpeg/libx264 (see testdata/README for the commands).
func TestParseSPS(t *testing.T) {
	tests := []struct {
		name    string
		b64     string
		w, h    int
		profile string
		fps     float64
	}{
		{"high 1080p cropped", "Z2QAKKzZQHgCJ+XARAAAAwAEAAADAPA8YMZY", 1920, 1080, "high", 30},
		{"baseline 720p", "Z0LAH9kAUAW7ARAAAAMAEAAAAwMg8YMkgA==", 1280, 720, "constrained baseline", 25},
		{"main interlaced 576i", "Z01AHuygWhJsBEAAAAMAQAAADIfFCmWA", 720, 576, "main", 25},
		{"high 4:2:2 cif", "Z3oADLzZQWCWwEQAAAMABAAAAwB4PFCmWA==", 352, 288, "high 4:2:2", 15},
		{"high with scaling matrices", "Z2QAHqzZQKAv+XARAAADAAEAAAMAMg8WLZY=", 640, 360, "high", 25},
		{"monochrome", "Z2QADPNlBQfsBbIAAAMAAgAAAwAoHihTLA==", 320, 240, "high", 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nal, err := base64.StdEncoding.DecodeString(tc.b64)
			if err != nil {
				t.Fatal(err)
			}
			si, err := ParseSPS(nal)
			if err != nil {
				t.Fatal(err)
			}
			if si.Width != tc.w || si.Height != tc.h || si.ProfileName() != tc.profile {
				t.Errorf("got %dx%d %q, want %dx%d %q", si.Width, si.Height, si.ProfileName(), tc.w, tc.h, tc.profile)
			}
			if tc.fps > 0 && si.FrameRate != tc.fps {
				t.Errorf("frame rate %.2f, want %.2f", si.FrameRate, tc.fps)
			}
		})
	}
}

func TestParseSPSRejectsGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, {0x67}, {0x68, 1, 2, 3, 4}, {0x67, 0x64, 0, 0x28, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, err := ParseSPS(b); err == nil {
			t.Errorf("ParseSPS(%x) succeeded", b)
		}
	}
}

type emitted struct {
	ts    uint32
	nalus [][]byte
	lost  bool
}

func collect(d **h264Depacketizer) *[]emitted {
	var out []emitted
	*d = newH264Depacketizer(1<<16, func(ts uint32, nalus [][]byte, lost bool) {
		cp := make([][]byte, len(nalus))
		for i, n := range nalus {
			cp[i] = bytes.Clone(n)
		}
		out = append(out, emitted{ts, cp, lost})
	})
	return &out
}

type rtpIn struct {
	seq     uint16
	ts      uint32
	marker  bool
	payload []byte
}

func fuA(hdr byte, start, end bool, body ...byte) []byte {
	fu := hdr&0x1f | byte(0)
	if start {
		fu |= 0x80
	}
	if end {
		fu |= 0x40
	}
	return append([]byte{hdr&0xe0 | 28, fu}, body...)
}

func TestDepacketizer(t *testing.T) {
	sps := []byte{0x67, 0x42, 0xc0, 0x1f}
	pps := []byte{0x68, 0xce, 0x3c, 0x80}
	stap := append([]byte{0x18, 0, 4}, sps...)
	stap = append(append(stap, 0, 4), pps...)
	tests := []struct {
		name string
		in   []rtpIn
		want []string // per emitted unit: NAL headers and lengths, "L" suffix when lost
	}{
		{"single NAL per frame with marker", []rtpIn{
			{1, 100, true, []byte{0x65, 1, 2}},
			{2, 200, true, []byte{0x41, 3}},
		}, []string{"[65/3]", "[41/2]"}},
		{"STAP-A then FU-A IDR", []rtpIn{
			{10, 0, false, stap},
			{11, 0, false, fuA(0x65, true, false, 1, 2)},
			{12, 0, false, fuA(0x65, false, false, 3)},
			{13, 0, true, fuA(0x65, false, true, 4)},
		}, []string{"[67/4 68/4 65/5]"}},
		{"no marker: timestamp change completes the unit", []rtpIn{
			{1, 100, false, []byte{0x65, 1}},
			{2, 200, false, []byte{0x41, 1}},
			{3, 300, true, []byte{0x41, 2}},
		}, []string{"[65/2]", "[41/2]", "[41/2]"}},
		{"lost FU-A middle drops the frame and flags the next", []rtpIn{
			{1, 100, false, fuA(0x65, true, false, 1)},
			{3, 100, true, fuA(0x65, false, true, 3)},
			{4, 200, true, []byte{0x41, 1}},
		}, []string{"[41/2]L"}},
		{"gap across frames drops the frame after it", []rtpIn{
			{1, 100, true, []byte{0x65, 1}},
			{3, 300, true, []byte{0x41, 1}},
			{4, 400, true, []byte{0x41, 2}},
		}, []string{"[65/2]", "[41/2]L"}},
		{"FU-A continuation without start is dropped", []rtpIn{
			{1, 100, true, fuA(0x65, false, true, 1)},
			{2, 200, true, []byte{0x41, 1}},
		}, []string{"[41/2]L"}},
		{"truncated STAP-A is dropped", []rtpIn{
			{1, 100, true, []byte{0x18, 0, 9, 0x67}},
			{2, 200, true, []byte{0x41, 1}},
		}, []string{"[41/2]L"}},
		{"sequence wraps", []rtpIn{
			{65535, 100, true, []byte{0x65, 1}},
			{0, 200, true, []byte{0x41, 1}},
		}, []string{"[65/2]", "[41/2]"}},
		{"unsupported FU-B and empty payloads", []rtpIn{
			{1, 100, true, []byte{0x1d, 0x85, 1}},
			{2, 200, true, nil},
			{3, 300, true, []byte{0x41, 1}},
		}, []string{"[41/2]L"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d *h264Depacketizer
			out := collect(&d)
			for _, p := range tc.in {
				d.push(p.seq, p.ts, p.marker, p.payload)
			}
			var got []string
			for _, e := range *out {
				s := "["
				for i, n := range e.nalus {
					if i > 0 {
						s += " "
					}
					s += fmt.Sprintf("%02x/%d", n[0], len(n))
				}
				s += "]"
				if e.lost {
					s += "L"
				}
				got = append(got, s)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDepacketizerBoundsAccessUnit(t *testing.T) {
	var d *h264Depacketizer
	out := collect(&d)
	d.maxAU = 1000
	body := make([]byte, 400)
	d.push(1, 100, false, fuA(0x65, true, false, body...))
	d.push(2, 100, false, fuA(0x65, false, false, body...))
	d.push(3, 100, false, fuA(0x65, false, false, body...)) // exceeds 1000
	d.push(4, 100, true, fuA(0x65, false, true, body...))
	if len(*out) != 0 || cap(d.buf) > 4096 {
		t.Fatalf("oversized unit: emitted %d, buffer cap %d", len(*out), cap(d.buf))
	}
	d.push(5, 200, true, []byte{0x65, 1})
	if len(*out) != 1 || !(*out)[0].lost {
		t.Fatalf("after oversized unit: %+v", *out)
	}
}

func BenchmarkDepacketizeFUA(b *testing.B) {
	d := newH264Depacketizer(0, func(uint32, [][]byte, bool) {})
	body := make([]byte, 1398)
	pkts := [][]byte{fuA(0x65, true, false, body...), fuA(0x65, false, false, body...), fuA(0x65, false, true, body...)}
	b.ReportAllocs()
	seq := uint16(0)
	for i := 0; b.Loop(); i++ {
		for j, p := range pkts {
			d.push(seq, uint32(i), j == 2, p)
			seq++
		}
	}
}
