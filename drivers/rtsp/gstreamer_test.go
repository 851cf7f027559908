package rtsp_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/community-edge/edge/drivers/rtsp"
)

// startGStreamer runs testdata/gst_rtsp_server.py (GStreamer's RTSP server, Digest
// auth, H.264 640x480 25 fps GOP 25 + PCMA) on a free port and returns its URL
// without credentials. It fails the test when GStreamer or its Python bindings are
// missing (Debian: gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi
// gstreamer1.0-plugins-ugly).
func startGStreamer(t *testing.T, user, pass string) (host string) {
	t.Helper()
	python := requireProgram(t, "/usr/bin/python3") // Debian's, where python3-gi lives
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, python, "testdata/gst_rtsp_server.py", fmt.Sprint(port), user, pass)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the GStreamer RTSP server: %v", err)
	}
	ready := make(chan bool, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stdout)
		ok := sc.Scan() && sc.Text() == "READY"
		ready <- ok
		for sc.Scan() {
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		_ = cmd.Wait()
	})
	select {
	case ok := <-ready:
		if !ok {
			cancel()
			wg.Wait()
			_ = cmd.Wait()
			t.Fatalf("GStreamer RTSP server did not start: %s", stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("GStreamer RTSP server not ready after 15s: %s", stderr.String())
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

func TestPlayFromGStreamer(t *testing.T) {
	host := startGStreamer(t, "viewer", "gst-pass")
	for _, tr := range []rtsp.Transport{rtsp.TransportTCP, rtsp.TransportUDP} {
		t.Run(string(tr), func(t *testing.T) {
			checkGoroutines(t)
			rec := newRecorder()
			// credentials through the separate fields rather than the URL
			c, stop := runClient(t, rtsp.Config{URL: "rtsp://" + host + "/test", Username: "viewer", Password: "gst-pass", Transport: tr}, rec)
			waitFor(t, 15*time.Second, "two keyframes and 40 frames from GStreamer", func() bool {
				aus, keys, audio := rec.snapshot()
				return keys >= 2 && aus >= 40 && audio >= 20
			})
			stop()
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if !rec.firstKey || !rec.keyHasPS {
				t.Errorf("first frame keyframe=%v, keyframes carry SPS+PPS before the slice=%v", rec.firstKey, rec.keyHasPS)
			}
			si, err := rtsp.ParseSPS(rec.sps)
			if err != nil || si.Width != 640 || si.Height != 480 {
				t.Errorf("SPS %+v %v: want 640x480", si, err)
			}
			if st := c.Stats(); st.Broken != 0 || st.Sessions != 1 {
				t.Errorf("stats %+v: want no broken frames, one session", st)
			}
		})
	}
}

func TestProbeGStreamer(t *testing.T) {
	checkGoroutines(t)
	host := startGStreamer(t, "viewer", "gst-pass")
	res, err := rtsp.Probe(context.Background(), "rtsp://viewer:gst-pass@"+host+"/test", 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("probe: %s", res)
	if res.VideoCodec != rtsp.CodecH264 || res.Width != 640 || res.Height != 480 {
		t.Errorf("probe = %s, want h264 640x480", res)
	}
	if res.FrameRate < 24.5 || res.FrameRate > 25.5 {
		t.Errorf("frame rate %.2f, want 25", res.FrameRate)
	}
	if res.GOP < 1 || res.GOP > 25 { // key-int-max=25
		t.Errorf("GOP %d, want 1..25", res.GOP)
	}
	if res.AudioCodec != rtsp.CodecPCMA || !res.AudioPlayable {
		t.Errorf("audio %q playable %v, want PCMA", res.AudioCodec, res.AudioPlayable)
	}

	_, err = rtsp.Probe(context.Background(), "rtsp://viewer:wrong@"+host+"/test", 10*time.Second)
	if !errors.Is(err, rtsp.ErrUnauthorized) {
		t.Errorf("wrong password: err = %v, want ErrUnauthorized", err)
	}
	_, err = rtsp.Probe(context.Background(), "rtsp://viewer:gst-pass@"+host+"/nothing", 10*time.Second)
	if !errors.Is(err, rtsp.ErrNotFound) {
		t.Errorf("unknown path: err = %v, want ErrNotFound", err)
	}
}
