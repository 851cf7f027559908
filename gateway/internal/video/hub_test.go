package video

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/community-edge/edge/drivers/rtsp"
	"github.com/community-edge/edge/firmware-sim/camera"
	"github.com/community-edge/edge/gateway/internal/alarm/rules"
)

const fps = 25

// startCamera runs the simulated camera with a 1 s GOP clip (ffmpeg is required).
func startCamera(t *testing.T) *camera.Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	vp, ap, err := camera.GenerateClip(ctx, t.TempDir(), camera.ClipSpec{Width: 160, Height: 120, FPS: fps, GOP: fps, Seconds: 4, Bitrate: "200k", Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	clip, err := camera.LoadClip(vp, ap, fps)
	if err != nil {
		t.Fatal(err)
	}
	cam, err := camera.Start(camera.Config{Streams: map[string]*camera.Clip{"/main": clip}, Username: "u", Password: "camera-pass",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cam.Stop() })
	return cam
}

// alarmLog records the hub's alarm calls.
type alarmLog struct {
	mu     sync.Mutex
	raised map[string]bool
}

func (a *alarmLog) RaiseLocal(_ context.Context, typ string, _ rules.Severity, cond string, _ map[string]any) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if typ == rules.TypeCameraOffline {
		a.raised[cond] = true
	}
	return nil
}

func (a *alarmLog) ClearLocal(_ context.Context, cond string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.raised, cond)
	return nil
}

func (a *alarmLog) is(cond string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.raised[cond]
}

// runHub runs a hub for the test and checks that every goroutine of the hub and its RTSP
// clients has ended once it stops (the camera's own goroutines are the camera's business).
func runHub(t *testing.T, cfg Config, alarms Alarms) *Hub {
	t.Helper()
	h := New(cfg, alarms, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		deadline := time.Now().Add(3 * time.Second)
		for {
			left := ours()
			if left == "" {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("goroutines left after the hub stopped:\n%s", left)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	return h
}

// ours returns the stacks of goroutines running hub or RTSP client code.
func ours() string {
	buf := make([]byte, 1<<20)
	var b strings.Builder
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if (strings.Contains(g, "gateway/internal/video.") || strings.Contains(g, "drivers/rtsp.")) && !strings.Contains(g, "video.runHub") && !strings.Contains(g, "firmware-sim/camera") &&
			!strings.Contains(g, "testing.tRunner") {
			b.WriteString(g + "\n\n")
		}
	}
	return b.String()
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSlowViewerDropsToKeyframe: a viewer that stops reading loses frames up to the next
// keyframe and has them counted; another viewer of the same camera keeps the full rate.
func TestSlowViewerDropsToKeyframe(t *testing.T) {
	cam := startCamera(t)
	h := runHub(t, Config{Cameras: []Camera{{ID: "c1", URL: cam.URL("/main")}}, ViewerQueue: 32, IdleGrace: -1}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	slow, err := h.Join(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Leave()
	if slow.Stream == nil || slow.Stream.Audio == nil || slow.Stream.Audio.Codec != rtsp.CodecPCMA {
		t.Fatalf("stream info: %+v", slow.Stream)
	}
	fast, err := h.Join(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	var frames, keys, audio int
	var mu sync.Mutex
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case it := <-fast.Queue():
				mu.Lock()
				if it.Frame != nil {
					frames++
					if it.Frame.Keyframe {
						keys++
					}
				} else {
					audio++
				}
				mu.Unlock()
			case <-stop:
				return
			}
		}
	}()
	waitFor(t, 5*time.Second, "the fast viewer's first frame", func() bool { mu.Lock(); defer mu.Unlock(); return frames > 0 })
	mu.Lock()
	f0 := frames
	mu.Unlock()
	time.Sleep(3 * time.Second)
	mu.Lock()
	got, k, a := frames-f0, keys, audio
	mu.Unlock()
	close(stop)
	<-readerDone
	fast.Leave()
	if got < 3*fps*85/100 || got > 3*fps*115/100 {
		t.Errorf("fast viewer: %d frames in 3 s, want about %d", got, 3*fps)
	}
	if k < 2 || a == 0 {
		t.Errorf("fast viewer: %d keyframes, %d audio packets", k, a)
	}
	if fast.Drops() != 0 {
		t.Errorf("fast viewer dropped %d frames", fast.Drops())
	}
	if slow.Drops() == 0 {
		t.Fatal("the slow viewer dropped nothing")
	}
	// what was queued before the queue filled, then nothing but from a keyframe on
	for range cap(slow.q) {
		<-slow.Queue()
	}
	for {
		it := <-slow.Queue()
		if it.Frame == nil {
			continue
		}
		if !it.Frame.Keyframe {
			t.Errorf("after dropping, the slow viewer's next frame is not a keyframe")
		}
		break
	}
}

// TestLifecycle: a camera opens on its first viewer, a new viewer starts with the cached
// GOP (a keyframe first, at once), the camera closes after the idle grace, and a camera
// that cannot be reached is reported offline and raises camera_offline.
func TestLifecycle(t *testing.T) {
	cam := startCamera(t)
	alarms := &alarmLog{raised: map[string]bool{}}
	h := runHub(t, Config{Cameras: []Camera{
		{ID: "c1", Name: "东门", Building: "3", URL: cam.URL("/main")},
		{ID: "gone", URL: "rtsp://127.0.0.1:1/main"},
	}, IdleGrace: 300 * time.Millisecond, OfflineAfter: time.Second, StaleAfter: 500 * time.Millisecond}, alarms)

	tests := []struct {
		id, want string
	}{{"c1", StateIdle}, {"gone", StateIdle}}
	for _, tc := range tests {
		if st, _ := h.Camera(tc.id); st.State != tc.want {
			t.Errorf("%s before viewers: %s, want %s", tc.id, st.State, tc.want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := h.Join(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "live", func() bool { st, _ := h.Camera("c1"); return st.State == StateLive })
	time.Sleep(600 * time.Millisecond) // well into the GOP
	b, err := h.Join(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	first := <-b.Queue()
	for first.Frame == nil {
		first = <-b.Queue()
	}
	if !first.CatchUp || !first.Frame.Keyframe || time.Since(first.Frame.Received) < 400*time.Millisecond {
		t.Errorf("a joining viewer's first frame: catch-up %v, keyframe %v, received %v ago", first.CatchUp, first.Frame.Keyframe, time.Since(first.Frame.Received))
	}
	if st, _ := h.Camera("c1"); st.Viewers != 2 || st.Building != "3" || st.LastFrameAgeMS == nil {
		t.Errorf("status: %+v", st)
	}
	a.Leave()
	b.Leave()
	waitFor(t, 3*time.Second, "closed after the idle grace", func() bool { st, _ := h.Camera("c1"); return st.State == StateIdle })

	// a camera that cannot be reached: the join gives up, the alarm is raised while it is open
	jctx, jcancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer jcancel()
	if _, err := h.Join(jctx, "gone"); err == nil {
		t.Fatal("joined an unreachable camera")
	}
	g, _ := h.Join(context.Background(), "nope")
	if g != nil {
		t.Fatal("joined an unknown camera")
	}
	h2 := h.streams["gone"]
	v := &Viewer{s: h2, q: make(chan Item, 8), info: make(chan *rtsp.StreamInfo, 1), left: make(chan struct{})}
	h2.in <- event{join: v}
	defer v.Leave()
	waitFor(t, 5*time.Second, "offline", func() bool { st, _ := h.Camera("gone"); return st.State == StateOffline })
	waitFor(t, 5*time.Second, "camera_offline raised", func() bool { return alarms.is("camera_offline:gone") })
	if alarms.is("camera_offline:c1") {
		t.Error("camera_offline raised for a camera that works")
	}
}

// TestAddRemoveCameraWhileRunning: a camera added to a running hub streams to a viewer at
// once; removing it disconnects the viewer, clears its alarm and stops its goroutines.
func TestAddRemoveCameraWhileRunning(t *testing.T) {
	cam := startCamera(t)
	alarms := &alarmLog{raised: map[string]bool{}}
	h := runHub(t, Config{Cameras: []Camera{{ID: "cfg", URL: "rtsp://127.0.0.1:1/none"}}}, alarms)
	if err := h.AddCamera(Camera{ID: "cfg", URL: cam.URL("/main")}); !errors.Is(err, ErrCameraExists) {
		t.Fatalf("adding a configured camera's id: %v", err)
	}
	u, p := "u", "camera-pass"
	if err := h.AddCamera(Camera{ID: "new", Name: "北门", URL: strings.Replace(cam.URL("/main"), u+":"+p+"@", "", 1), Username: u, Password: p}); err != nil {
		t.Fatal(err)
	}
	if st := h.Cameras(); len(st) != 2 || st[0].Origin != "config" || st[1].ID != "new" || st[1].Origin != "runtime" {
		t.Fatalf("cameras: %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := h.Join(ctx, "new")
	if err != nil {
		t.Fatal(err)
	}
	for it := range v.Queue() {
		if it.Frame != nil && it.Frame.Keyframe {
			break
		}
	}
	waitFor(t, 5*time.Second, "live", func() bool { st, _ := h.Camera("new"); return st.State == StateLive })
	alarms.raised["camera_offline:new"] = true
	if err := h.RemoveCamera(ctx, "new"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-v.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("the viewer of a removed camera was not disconnected")
	}
	if _, ok := h.Camera("new"); ok || len(h.Cameras()) != 1 || alarms.is("camera_offline:new") {
		t.Errorf("after removal: %+v, alarm %v", h.Cameras(), alarms.is("camera_offline:new"))
	}
	if err := h.RemoveCamera(ctx, "new"); !errors.Is(err, ErrNoCamera) {
		t.Errorf("removing twice: %v", err)
	}
}
