package rtsp_test

import (
	"context"
	"errors"
	"github.com/community-edge/edge/drivers/rtsp"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/community-edge/edge/firmware-sim/camera"
)

func TestPlayFromSimulatedCamera(t *testing.T) {
	for _, tr := range []rtsp.Transport{rtsp.TransportTCP, rtsp.TransportUDP} {
		t.Run(string(tr), func(t *testing.T) {
			checkGoroutines(t)
			cam := startCamera(t, nil)
			rec := newRecorder()
			c, stop := runClient(t, rtsp.Config{URL: cam.URL("/main"), Transport: tr}, rec)
			waitFor(t, 10*time.Second, "two keyframes and 60 frames", func() bool {
				aus, keys, _ := rec.snapshot()
				return keys >= 2 && aus >= 60
			})
			stop()
			aus, keys, audio := rec.snapshot()
			if audio < 50 {
				t.Errorf("audio packets = %d, want >= 50 (20 ms packets over 2+ s)", audio)
			}
			states := stateList(rec)
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if !rec.firstKey || !rec.keyHasPS {
				t.Errorf("first frame keyframe=%v, keyframes carry SPS+PPS before the slice=%v", rec.firstKey, rec.keyHasPS)
			}
			if rec.ptsBack > 0 {
				t.Errorf("PTS went backwards %d times", rec.ptsBack)
			}
			// GOP 25 at 25 fps: one keyframe per 25 frames (the first may start mid-GOP).
			if want := aus / 25; keys < want || keys > want+1 {
				t.Errorf("%d keyframes in %d frames, want about %d", keys, aus, want)
			}
			si, err := rtsp.ParseSPS(rec.sps)
			if err != nil || si.Width != 1280 || si.Height != 720 {
				t.Errorf("SPS: %+v %v, want 1280x720", si, err)
			}
			st := c.Stats()
			if st.Broken != 0 || st.Dropped != 0 || st.Sessions != 1 {
				t.Errorf("stats %+v: want no broken or dropped frames and one session", st)
			}
			if !strings.HasPrefix(states, "connecting playing") || !strings.HasSuffix(states, "stopped") {
				t.Errorf("states %q", states)
			}
		})
	}
}

func TestProbeSimulatedCamera(t *testing.T) {
	checkGoroutines(t)
	cam := startCamera(t, nil)
	tests := []struct {
		path          string
		w, h          int
		audio         rtsp.Codec
		audioPlayable bool
	}{
		{"/main", 1280, 720, rtsp.CodecPCMA, true},
		{"/sub", 640, 360, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			res, err := rtsp.Probe(context.Background(), cam.URL(tc.path), 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if res.VideoCodec != rtsp.CodecH264 || res.Width != tc.w || res.Height != tc.h || res.Profile != "constrained baseline" {
				t.Errorf("probe %s = %s", tc.path, res)
			}
			if res.GOP != 25 {
				t.Errorf("GOP = %d, want 25", res.GOP)
			}
			if res.FrameRate < 24.9 || res.FrameRate > 25.1 {
				t.Errorf("frame rate = %.2f, want 25", res.FrameRate)
			}
			if res.AudioCodec != tc.audio || res.AudioPlayable != tc.audioPlayable {
				t.Errorf("audio = %q playable %v, want %q %v", res.AudioCodec, res.AudioPlayable, tc.audio, tc.audioPlayable)
			}
		})
	}
}

func TestProbeErrors(t *testing.T) {
	checkGoroutines(t)
	cam := startCamera(t, nil)
	stopped := startCamera(t, nil)
	gone := stopped.URL("/main")
	stopped.Stop()
	tests := []struct {
		name string
		url  string
		want error
	}{
		{"wrong password", strings.Replace(cam.URL("/main"), "s3cret", "wrong", 1), rtsp.ErrUnauthorized},
		{"no credentials", "rtsp://" + cam.Addr() + "/main", rtsp.ErrUnauthorized},
		{"unknown path", cam.URL("/nope"), rtsp.ErrNotFound},
		{"camera gone", gone, rtsp.ErrUnreachable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rtsp.Probe(context.Background(), tc.url, 5*time.Second)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "rtsp: ") || strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "wrong") && tc.name == "wrong password" && strings.Contains(err.Error(), "wrong:") {
				t.Errorf("error %q: want rtsp: prefix and no password", err)
			}
		})
	}
}

func TestProbeTimeoutOnSilentServer(t *testing.T) {
	checkGoroutines(t)
	ln := listenSilent(t) // accepts and never answers
	start := time.Now()
	_, err := rtsp.Probe(context.Background(), "rtsp://"+ln+"/x", 700*time.Millisecond)
	if !errors.Is(err, rtsp.ErrTimeout) {
		t.Fatalf("err = %v, want rtsp.ErrTimeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("probe took %s with a 700ms timeout", d)
	}
}

func TestReconnectAfterCameraRestart(t *testing.T) {
	checkGoroutines(t)
	for _, tr := range []rtsp.Transport{rtsp.TransportTCP, rtsp.TransportUDP} {
		t.Run(string(tr), func(t *testing.T) {
			cam := startCamera(t, nil)
			rec := newRecorder()
			c, stop := runClient(t, rtsp.Config{URL: cam.URL("/sub"), Transport: tr, MinBackoff: 100 * time.Millisecond, MaxBackoff: 300 * time.Millisecond, ReadTimeout: 2 * time.Second}, rec)
			waitFor(t, 10*time.Second, "first keyframe", func() bool { _, k, _ := rec.snapshot(); return k >= 1 })
			addr := cam.Addr()
			cam.Stop()
			// camera gone: the client reports it and keeps retrying
			waitFor(t, 5*time.Second, "retrying with unreachable", func() bool {
				rec.mu.Lock()
				defer rec.mu.Unlock()
				for _, ev := range rec.states {
					if ev.State == rtsp.StateRetrying && errors.Is(ev.Err, rtsp.ErrUnreachable) {
						return true
					}
				}
				return false
			})
			aus, _, _ := rec.snapshot()
			main, sub := clips(t)
			cam2, err := camera.Start(camera.Config{Streams: map[string]*camera.Clip{"/main": main, "/sub": sub}, Username: "admin", Password: "s3cret:pass"}, addr)
			if err != nil {
				t.Fatal(err)
			}
			defer cam2.Stop()
			waitFor(t, 10*time.Second, "frames after restart", func() bool { n, _, _ := rec.snapshot(); return n >= aus+30 })
			stop()
			if s := c.Stats().Sessions; s != 2 {
				t.Errorf("sessions = %d, want 2", s)
			}
			rec.mu.Lock()
			if rec.disc < 2 {
				t.Errorf("discontinuities = %d, want one per session", rec.disc)
			}
			rec.mu.Unlock()
			t.Logf("states: %s", stateList(rec))
		})
	}
}

func TestKeepaliveHoldsShortSession(t *testing.T) {
	checkGoroutines(t)
	for _, tr := range []rtsp.Transport{rtsp.TransportTCP, rtsp.TransportUDP} {
		t.Run(string(tr), func(t *testing.T) {
			// The camera drops sessions idle for 2 s; the client must refresh them.
			cam := startCamera(t, func(c *camera.Config) { c.SessionTimeout = 2 * time.Second })
			rec := newRecorder()
			c, stop := runClient(t, rtsp.Config{URL: cam.URL("/sub"), Transport: tr}, rec)
			time.Sleep(5 * time.Second)
			stop()
			if s := c.Stats().Sessions; s != 1 {
				t.Errorf("sessions = %d, want 1 (states %s)", s, stateList(rec))
			}
			if aus, _, _ := rec.snapshot(); aus < 100 {
				t.Errorf("frames = %d in 5 s, want >= 100", aus)
			}
		})
	}
}

func TestSlowSinkNeverStallsReader(t *testing.T) {
	checkGoroutines(t)
	cam := startCamera(t, func(c *camera.Config) { c.SessionTimeout = 2 * time.Second })
	rec := newRecorder()
	rec.block = make(chan struct{})
	c, stop := runClient(t, rtsp.Config{URL: cam.URL("/sub"), Buffer: 8, ReadTimeout: 2 * time.Second,
		Logger: slog.New(slog.DiscardHandler)}, rec)
	// The sink is stuck for 4 s, longer than the session timeout and read timeout.
	time.Sleep(4 * time.Second)
	st := c.Stats()
	close(rec.block)
	waitFor(t, 5*time.Second, "delivery to resume at a keyframe", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.aus > 8+25 && rec.disc >= 2
	})
	stop()
	if st.Packets < 80 {
		t.Errorf("reader received %d packets while the sink was stuck, want it to keep reading", st.Packets)
	}
	if st.Dropped == 0 {
		t.Errorf("no frames dropped while the sink was stuck")
	}
	if st.Sessions != 1 || c.Stats().Sessions != 1 {
		t.Errorf("sessions = %d, want 1: a stuck sink must not cost the session", c.Stats().Sessions)
	}
}

func TestFrozenCameraTimesOut(t *testing.T) {
	checkGoroutines(t)
	cam := startCamera(t, nil)
	rec := newRecorder()
	_, stop := runClient(t, rtsp.Config{URL: cam.URL("/sub"), ReadTimeout: time.Second, KeepaliveInterval: 200 * time.Millisecond,
		MinBackoff: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)}, rec)
	waitFor(t, 10*time.Second, "first keyframe", func() bool { _, k, _ := rec.snapshot(); return k >= 1 })
	cam.Freeze(true) // RTSP keepalives are still answered; media stops
	frozeAt := time.Now()
	waitFor(t, 5*time.Second, "retrying with ErrTimeout", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, ev := range rec.states {
			if ev.State == rtsp.StateRetrying && errors.Is(ev.Err, rtsp.ErrTimeout) {
				return true
			}
		}
		return false
	})
	if d := time.Since(frozeAt); d < 900*time.Millisecond {
		t.Errorf("declared dead after %s, before the 1 s read timeout", d)
	}
	stop()
}

func TestCredentialsNeverLogged(t *testing.T) {
	checkGoroutines(t)
	cam := startCamera(t, nil)
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, cfg := range []rtsp.Config{
		{URL: "rtsp://admin:hunter2secret@" + cam.Addr() + "/main"}, // wrong password in the URL
		{URL: "rtsp://" + cam.Addr() + "/main", Username: "admin", Password: "s3cret:pass"},
	} {
		cfg.Logger = logger
		cfg.MinBackoff = 50 * time.Millisecond
		cfg.MaxBackoff = 50 * time.Millisecond
		rec := newRecorder()
		_, stop := runClient(t, cfg, rec)
		waitFor(t, 10*time.Second, "a state after connecting", func() bool {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			return len(rec.states) >= 2
		})
		stop()
	}
	out := logs.String()
	if !strings.Contains(out, "unauthorized") || !strings.Contains(out, "rtsp playing") {
		t.Fatalf("expected an unauthorized and a playing log line:\n%s", out)
	}
	for _, secret := range []string{"hunter2secret", "s3cret", "admin:"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAuthSchemes(t *testing.T) {
	checkGoroutines(t)
	tests := []struct {
		name string
		mod  func(*camera.Config)
	}{
		{"digest", nil},
		{"digest with qop", func(c *camera.Config) { c.DigestQop = true }},
		{"basic", func(c *camera.Config) { c.Auth = "basic" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cam := startCamera(t, tc.mod)
			if _, err := rtsp.Probe(context.Background(), cam.URL("/sub"), 10*time.Second); err != nil {
				t.Fatalf("right password: %v", err)
			}
			_, err := rtsp.Probe(context.Background(), "rtsp://admin:bad@"+cam.Addr()+"/sub", 10*time.Second)
			if !errors.Is(err, rtsp.ErrUnauthorized) {
				t.Fatalf("wrong password: err = %v, want ErrUnauthorized", err)
			}
		})
	}
}

func TestReceiverReports(t *testing.T) {
	checkGoroutines(t)
	for _, tr := range []rtsp.Transport{rtsp.TransportTCP, rtsp.TransportUDP} {
		t.Run(string(tr), func(t *testing.T) {
			cam := startCamera(t, nil)
			rec := newRecorder()
			_, stop := runClient(t, rtsp.Config{URL: cam.URL("/main"), Transport: tr, RTCPInterval: 200 * time.Millisecond}, rec)
			// video and audio each report every 200 ms
			waitFor(t, 5*time.Second, "receiver reports at the camera", func() bool { return cam.ReceiverReports() >= 6 })
			stop()
		})
	}
}
