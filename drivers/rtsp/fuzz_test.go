package rtsp

import (
	"bufio"
	"bytes"
	"net"
	"testing"
	"time"
)

// FuzzReadResponse: whatever a camera sends, the reader returns an error or a message
// within the limits, and never panics.
func FuzzReadResponse(f *testing.F) {
	f.Add([]byte("RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 3\r\n\r\nabc"))
	f.Add([]byte("$\x00\x00\x04abcdRTSP/1.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"r\", nonce=\"n\"\r\n\r\n"))
	f.Add([]byte("RTSP/1.0 200 OK\n X: folded\n\n"))
	f.Add([]byte("$\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		w := newWireReader(bytes.NewReader(data))
		for range 64 {
			resp, _, frame, err := w.next()
			if err != nil {
				return
			}
			if resp != nil && (len(resp.Body) > maxBodyLen || len(resp.Header) > maxHeaders) {
				t.Fatalf("limits exceeded: body %d headers %d", len(resp.Body), len(resp.Header))
			}
			if len(frame) > maxFrameLen {
				t.Fatalf("frame %d", len(frame))
			}
			if resp != nil {
				a := authenticator{user: "u", pass: "p"}
				a.challenge(resp.Header.Values("WWW-Authenticate"))
				_ = a.header("DESCRIBE", "rtsp://h/")
				_ = parseTransport(resp.Header.Get("Transport"))
			}
		}
	})
}

// FuzzRequest covers the parser the camera simulator uses.
func FuzzRequest(f *testing.F) {
	f.Add([]byte("OPTIONS rtsp://h/ RTSP/1.0\r\nCSeq: 1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ReadRequest(bufio.NewReaderSize(bytes.NewReader(data), maxLineLen))
	})
}

func FuzzParseSDP(f *testing.F) {
	f.Add([]byte(camsimSDP))
	f.Add([]byte(hikvisionLikeSDP))
	f.Add([]byte("v=0\r\nm=video 0 RTP/AVP 96\r\na=fmtp:96 sprop-parameter-sets=,,;profile-level-id=zz\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tracks, err := parseSDP(data, "rtsp://h/s")
		if err != nil {
			return
		}
		if len(tracks) > maxTracks {
			t.Fatalf("%d tracks", len(tracks))
		}
		for _, tr := range tracks {
			if len(tr.SPS) > 0 {
				_, _ = ParseSPS(tr.SPS)
			}
		}
	})
}

// FuzzDepacketizer feeds arbitrary packets (2-byte sequence, 1 flag byte, payload
// length, payload) and checks the bound on reassembled units.
func FuzzDepacketizer(f *testing.F) {
	f.Add([]byte{0, 1, 1, 3, 0x65, 1, 2, 0, 2, 0, 4, 0x7c, 0x85, 1, 2})
	f.Add([]byte{0, 1, 0, 5, 0x18, 0, 1, 0x67, 0, 0, 2, 1, 3, 0x7c, 0x45, 9})
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxAU = 4096
		d := newH264Depacketizer(maxAU, func(ts uint32, nalus [][]byte, lost bool) {
			total := 0
			for _, n := range nalus {
				if len(n) == 0 {
					t.Fatal("empty nal unit emitted")
				}
				total += len(n)
			}
			if total > maxAU || len(nalus) > maxNALUsPerAU {
				t.Fatalf("unit of %d bytes in %d nal units", total, len(nalus))
			}
			_ = IsKeyframe(nalus)
		})
		for len(data) >= 4 {
			seq := uint16(data[0])<<8 | uint16(data[1])
			flags := data[2]
			n := min(int(data[3]), len(data)-4)
			d.push(seq, uint32(flags>>1), flags&1 == 1, data[4:4+n])
			data = data[4+n:]
		}
		if cap(d.buf) > 2*maxAU+1024 {
			t.Fatalf("buffer grew to %d", cap(d.buf))
		}
	})
}

func FuzzParseSPS(f *testing.F) {
	f.Add([]byte{0x67, 0x64, 0x00, 0x28, 0xac, 0xd9, 0x40, 0x78, 0x02, 0x27, 0xe5, 0xc0, 0x44})
	f.Add([]byte{0x67, 0x42, 0xc0, 0x1f, 0xd9, 0x00, 0x50, 0x05, 0xbb, 0x01, 0x10})
	f.Fuzz(func(t *testing.T, data []byte) {
		si, err := ParseSPS(data)
		if err == nil && (si.Width <= 0 || si.Height <= 0 || si.Width > 16384 || si.Height > 16384*2) {
			t.Fatalf("implausible size %dx%d", si.Width, si.Height)
		}
	})
}

// FuzzMediaPath feeds arbitrary interleaved frames (RTP and RTCP on the video and
// audio channels) through the session's whole media path: pion's RTP and RTCP
// parsers, the depacketizer, the statistics and the delivery slots.
func FuzzMediaPath(f *testing.F) {
	f.Add([]byte("\x00\x0e\x80\x60\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x65\x88"))
	f.Add([]byte("\x01\x1c\x80\xc8\x00\x06\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("\x02\x0d\x80\x08\x00\x01\x00\x00\x00\xa0\x00\x00\x00\x02\xd5"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _ := New(Config{URL: "rtsp://h/s", MaxAccessUnit: 8192}, nopSink{})
		d := newDispatcher(nopSink{}, 4, &c.cnt)
		d.start()
		defer d.stop()
		nc, peer := net.Pipe()
		defer nc.Close()
		defer peer.Close()
		s := &session{c: c, d: d, nc: nc, vch: 0, ach: 2}
		s.info.Video = &Track{PayloadType: 96, ClockRate: 90000}
		s.info.Audio = &Track{Codec: CodecPCMA, PayloadType: 8, ClockRate: 8000}
		s.depack = newH264Depacketizer(c.cfg.MaxAccessUnit, s.onAccessUnit)
		for len(data) >= 2 {
			ch, n := data[0]&3, min(int(data[1]), len(data)-2)
			s.onFrame(ch, data[2:2+n])
			data = data[2+n:]
		}
		_, _ = s.vstats.report(time.Now())
		_, _ = s.astats.report(time.Now())
	})
}
