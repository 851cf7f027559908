package rtsp_test

import (
	"context"
	"fmt"
	"github.com/community-edge/edge/drivers/rtsp"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/community-edge/edge/firmware-sim/camera"
)

// testClips are generated once per test binary with ffmpeg (a required program: the
// tests fail, not skip, without it).
var testClips struct {
	once      sync.Once
	dir       string
	main, sub *camera.Clip
	err       error
}

func clips(t testing.TB) (main, sub *camera.Clip) {
	t.Helper()
	testClips.once.Do(func() {
		dir, err := os.MkdirTemp("", "rtsp-test-clips")
		if err != nil {
			testClips.err = err
			return
		}
		testClips.dir = dir
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		load := func(w, h int, audio bool) *camera.Clip {
			v, a, err := camera.GenerateClip(ctx, dir, camera.ClipSpec{Width: w, Height: h, FPS: 25, GOP: 25, Seconds: 2, Bitrate: "1M", Audio: audio})
			if err != nil {
				testClips.err = err
				return nil
			}
			c, err := camera.LoadClip(v, a, 25)
			if err != nil {
				testClips.err = err
			}
			return c
		}
		testClips.main = load(1280, 720, true)
		if testClips.err == nil {
			testClips.sub = load(640, 360, false)
		}
	})
	if testClips.err != nil {
		t.Fatalf("generating test clips (ffmpeg required): %v", testClips.err)
	}
	return testClips.main, testClips.sub
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testClips.dir != "" {
		os.RemoveAll(testClips.dir) // the clips are in memory by now
	}
	os.Exit(code)
}

// startCamera runs a simulated camera with /main (720p + audio) and /sub (360p).
func startCamera(t *testing.T, mod func(*camera.Config)) *camera.Instance {
	t.Helper()
	main, sub := clips(t)
	cfg := camera.Config{Streams: map[string]*camera.Clip{"/main": main, "/sub": sub}, Username: "admin", Password: "s3cret:pass"}
	if mod != nil {
		mod(&cfg)
	}
	inst, err := camera.Start(cfg, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Stop() })
	return inst
}

// requireProgram fails the test when a program the test needs is not installed.
func requireProgram(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required for this test (installed by .ci/install-deps): %v", name, err)
	}
	return p
}

// checkGoroutines fails if goroutines started during the test are still running.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(3 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, buf)
		}
	})
}

// recorder is a rtsp.Sink that keeps what it is given.
type recorder struct {
	mu        sync.Mutex
	states    []rtsp.StateEvent
	aus       int
	keys      int
	audio     int
	disc      int
	firstKey  bool // the first access unit was a keyframe
	keyHasPS  bool // every keyframe began with SPS, PPS
	lastPTS   time.Duration
	ptsBack   int
	sps       []byte
	signal    chan struct{}
	block     chan struct{} // if set, OnAccessUnit waits on it
	stateSeen chan rtsp.State
}

func newRecorder() *recorder {
	return &recorder{signal: make(chan struct{}, 1), keyHasPS: true, stateSeen: make(chan rtsp.State, 64)}
}

func (r *recorder) OnState(ev rtsp.StateEvent) {
	r.mu.Lock()
	r.states = append(r.states, ev)
	r.mu.Unlock()
	select {
	case r.stateSeen <- ev.State:
	default:
	}
}

func (r *recorder) OnAccessUnit(au *rtsp.AccessUnit) {
	if r.block != nil {
		<-r.block
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.aus == 0 {
		r.firstKey = au.Keyframe
	}
	r.aus++
	if au.Discontinuity {
		r.disc++
	} else if au.PTS < r.lastPTS {
		r.ptsBack++
	}
	r.lastPTS = au.PTS
	if au.Keyframe {
		r.keys++
		// SPS and PPS must come before the first slice (an AUD may lead).
		var sps, pps bool
		for _, n := range au.NALUs {
			switch typ := n[0] & 0x1f; {
			case typ == 7:
				sps = true
				r.sps = append(r.sps[:0], n...)
			case typ == 8:
				pps = true
			case typ >= 1 && typ <= 5:
				if !sps || !pps {
					r.keyHasPS = false
				}
				sps = true // report once per unit
				pps = true
			}
		}
	}
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

func (r *recorder) OnAudio(p *rtsp.AudioPacket) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.Codec == rtsp.CodecPCMA && len(p.Payload) > 0 {
		r.audio++
	}
}

func (r *recorder) snapshot() (aus, keys, audio int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.aus, r.keys, r.audio
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runClient runs a client in the background; the returned stop cancels it and
// checks Run's result.
func runClient(t *testing.T, cfg rtsp.Config, sink rtsp.Sink) (*rtsp.Client, func()) {
	t.Helper()
	c, err := rtsp.New(cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("Run did not return within 5s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return c, stop
}

func stateList(r *recorder) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []string
	for _, ev := range r.states {
		if ev.Err != nil {
			s = append(s, fmt.Sprintf("%s(%v)", ev.State, ev.Err))
		} else {
			s = append(s, ev.State.String())
		}
	}
	return strings.Join(s, " ")
}
