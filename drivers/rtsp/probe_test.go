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
)

// describeOnly serves OPTIONS and DESCRIBE with a fixed SDP (no authentication).
func describeOnly(t *testing.T, sdp string) string {
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
				fmt.Fprintf(c, "RTSP/1.0 200 OK\r\nCSeq: %s\r\nContent-Length: %d\r\n\r\n%s", req.Header.Get("CSeq"), len(body), body)
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
