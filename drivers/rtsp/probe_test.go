package rtsp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// describeOnly serves OPTIONS and DESCRIBE with a fixed SDP (no authentication).
func describeOnly(t *testing.T, sdp string) string {
	t.Helper()
	return scripted(t, sdp, nil)
}

// scripted is a minimal RTSP server: it answers every request 200 with a session, the
// DESCRIBE with sdp, and lets play write to the connection when PLAY arrives (before
// and after the response, which it writes through reply).
func scripted(t *testing.T, sdp string, play func(c net.Conn, reply func())) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			br := bufio.NewReader(c)
			for {
				req, err := ReadRequest(br)
				if err != nil {
					break
				}
				body := ""
				if req.Method == "DESCRIBE" {
					body = sdp
				}
				reply := func() {
					fmt.Fprintf(c, "RTSP/1.0 200 OK\r\nCSeq: %s\r\nSession: 42;timeout=60\r\nContent-Length: %d\r\n\r\n%s",
						req.Header.Get("CSeq"), len(body), body)
				}
				if req.Method == "PLAY" && play != nil {
					play(c, reply)
					continue
				}
				reply()
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

func TestProbeReportsUnplayableCodecs(t *testing.T) {
	addr := describeOnly(t, hikvisionLikeSDP)
	res, err := Probe(context.Background(), "rtsp://"+addr+"/Streaming/Channels/101", 5*time.Second)
	if !errors.Is(err, ErrNoPlayableTrack) {
		t.Fatalf("err = %v, want ErrNoPlayableTrack", err)
	}
	if res == nil || res.VideoCodec != CodecH265 || res.AudioCodec != CodecAAC || res.AudioPlayable {
		t.Fatalf("result %+v: want H265 video and AAC audio reported, audio not playable", res)
	}
}

func TestProberAACNotFatal(t *testing.T) {
	tracks, err := parseSDP([]byte(camsimSDP[:len(camsimSDP)-len("m=audio 0 RTP/AVP 8\r\na=control:trackID=1\r\n")]+
		"m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/48000/2\r\n"), "rtsp://h/s/")
	if err != nil {
		t.Fatal(err)
	}
	p := &prober{}
	p.onTracks(&StreamInfo{Tracks: tracks, Video: &tracks[0]})
	r := p.res
	if r.VideoCodec != CodecH264 || r.Width != 1280 || r.Height != 720 || r.AudioCodec != CodecAAC || r.AudioPlayable {
		t.Fatalf("result %+v", r)
	}
	if s := r.String(); s != "h264 constrained baseline 1280x720 25.00 fps gop 0, audio aac (not playable in webrtc)" {
		t.Errorf("String() = %q", s)
	}
}

// A camera that starts sending media before its PLAY response: the keyframe in those
// first packets is delivered, not skipped (a viewer would otherwise wait a whole GOP).
func TestMediaBeforePlayResponse(t *testing.T) {
	rtpFrame := func(seq uint16, ts uint32, payload ...byte) []byte {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, Marker: true}, Payload: payload}
		raw, _ := p.Marshal()
		return append([]byte{'$', 0, byte(len(raw) >> 8), byte(len(raw))}, raw...)
	}
	addr := scripted(t, camsimSDP, func(c net.Conn, reply func()) {
		c.Write(rtpFrame(1, 0, 0x65, 0x88, 1)) // IDR before the response
		reply()
		c.Write(rtpFrame(2, 3600, 0x41, 0x9a, 2))
	})
	rec := &auRecorder{got: make(chan AccessUnit, 4)}
	c, err := New(Config{URL: "rtsp://" + addr + "/main"}, rec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for i, wantKey := range []bool{true, false} {
		select {
		case au := <-rec.got:
			if au.Keyframe != wantKey {
				t.Fatalf("access unit %d keyframe=%v, want %v", i, au.Keyframe, wantKey)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("access unit %d not delivered", i)
		}
	}
}

type auRecorder struct{ got chan AccessUnit }

func (r *auRecorder) OnState(StateEvent)   {}
func (r *auRecorder) OnAudio(*AudioPacket) {}
func (r *auRecorder) OnAccessUnit(au *AccessUnit) {
	cp := *au
	cp.NALUs = nil // the slices are reused after return
	r.got <- cp
}

// A camera that sends its own requests while streaming (OPTIONS as a keepalive, or
// something unknown) gets answers and the stream goes on.
func TestServerRequestsAnswered(t *testing.T) {
	rtpFrame := func(seq uint16, ts uint32, payload ...byte) []byte {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, Marker: true}, Payload: payload}
		raw, _ := p.Marshal()
		return append([]byte{'$', 0, byte(len(raw) >> 8), byte(len(raw))}, raw...)
	}
	answers := make(chan string, 2)
	addr := scripted(t, camsimSDP, func(c net.Conn, reply func()) {
		reply()
		c.Write(rtpFrame(1, 0, 0x65, 0x88, 1))
		c.Write([]byte("OPTIONS * RTSP/1.0\r\nCSeq: 77\r\n\r\nSET_PARAMETER rtsp://x/ RTSP/1.0\r\nCSeq: 78\r\nContent-Length: 3\r\n\r\nabc"))
		c.Write(rtpFrame(2, 3600, 0x41, 0x9a, 2))
		br := bufio.NewReader(c)
		for range 2 {
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := readResponse(br)
			if err != nil {
				answers <- err.Error()
				return
			}
			answers <- fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("CSeq"))
		}
	})
	rec := &auRecorder{got: make(chan AccessUnit, 4)}
	c, err := New(Config{URL: "rtsp://" + addr + "/main"}, rec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for _, want := range []string{"200 77", "501 78"} {
		select {
		case got := <-answers:
			if got != want {
				t.Fatalf("answer %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no answer %q", want)
		}
	}
	for i := range 2 {
		select {
		case <-rec.got:
		case <-time.After(5 * time.Second):
			t.Fatalf("access unit %d not delivered around the camera's requests", i)
		}
	}
}
