package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/community-edge/edge/firmware-sim/camera"
	"github.com/community-edge/edge/gateway/internal/audit"
	"github.com/community-edge/edge/gateway/internal/store"
	"github.com/community-edge/edge/gateway/internal/video/whep"
)

const (
	camUser = "admin"
	camPass = "e2e-camera-pass"
	camFPS  = 25
	camGOP  = 50 // 2 s
)

// simCamera is a simulated camera the tests stop and restart at the same address.
type simCamera struct {
	t    *testing.T
	cfg  camera.Config
	inst *camera.Instance
	addr string
}

func startCamera(t *testing.T, w, h int) *simCamera {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	vp, ap, err := camera.GenerateClip(ctx, dir, camera.ClipSpec{Width: w, Height: h, FPS: camFPS, GOP: camGOP, Seconds: 6, Bitrate: "600k", Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	clip, err := camera.LoadClip(vp, ap, camFPS)
	if err != nil {
		t.Fatal(err)
	}
	c := &simCamera{t: t, cfg: camera.Config{Streams: map[string]*camera.Clip{"/main": clip}, Username: camUser, Password: camPass}}
	c.start("127.0.0.1:0")
	t.Cleanup(func() { c.stop() })
	return c
}

func (c *simCamera) start(addr string) {
	c.t.Helper()
	var err error
	for i := 0; i < 50; i++ { // the old listener's port may take a moment to free
		if c.inst, err = camera.Start(c.cfg, addr); err == nil {
			c.addr = c.inst.Addr()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatal(err)
}

func (c *simCamera) stop() {
	if c.inst != nil {
		c.inst.Stop()
		c.inst = nil
	}
}

func cameraYAML(t *testing.T, addr string) string {
	return fmt.Sprintf(`cameras:
  - {id: cam-east, name: 东门, url: "rtsp://%s/main", username: %s, password: %s, building: "3"}
video:
  idle_grace: 2s
  offline_after: 3s
  stale_after: 1s
  webrtc: {udp_port: %d, listen_ip: 127.0.0.1}
`, addr, camUser, camPass, freePort(t))
}

func bearer(r *http.Request) { r.Header.Set("Authorization", "Bearer "+apiToken) }

type cameraJSON struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	AgeMS    *int64 `json:"last_frame_age_ms"`
	Viewers  int    `json:"viewers"`
	Building string `json:"building"`
}

func (g *gateway) camera(id string) cameraJSON {
	g.t.Helper()
	var c cameraJSON
	if code := g.get("/api/v1/cameras/"+id, &c); code != 200 {
		g.t.Fatalf("GET camera %s: %d", id, code)
	}
	return c
}

func dialViewer(t *testing.T, gw *gateway) *whep.Viewer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	v, err := whep.Dial(ctx, "http://"+gw.http, "cam-east", bearer)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func waitFrames(t *testing.T, v *whep.Viewer, n int, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := v.WaitFrames(ctx, n); err != nil {
		t.Fatal(err)
	}
}

// TestVideoRelayWHEP plays the simulated camera through the real gateway binary to pion
// viewers: decodable H.264 with SPS/PPS/IDR at the source rate; joiners get the cached GOP
// at once; the camera restarted mid-stream; frozen; gone (camera_offline) and back; every
// viewing audited; anonymous offers refused.
func TestVideoRelayWHEP(t *testing.T) {
	cam := startCamera(t, 320, 240)
	gw := newGateway(t, &brokerEnv{mode: "embedded"}, nil, cameraYAML(t, cam.addr))

	// anonymous and wrong-role offers
	for _, tc := range []struct {
		name string
		auth func(*http.Request)
		want int
	}{
		{"anonymous", nil, 401},
		{"bad token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope-nope-nope-nope") }, 401},
	} {
		_, err := whep.Dial(context.Background(), "http://"+gw.http, "cam-east", tc.auth)
		if se, ok := err.(*whep.StatusError); !ok || se.Code != tc.want {
			t.Errorf("%s: got %v, want status %d", tc.name, err, tc.want)
		}
	}
	if _, err := whep.Dial(context.Background(), "http://"+gw.http, "no-such-cam", bearer); err == nil || err.(*whep.StatusError).Code != 404 {
		t.Errorf("unknown camera: %v", err)
	}
	if st := gw.camera("cam-east"); st.State != "idle" || st.Viewers != 0 {
		t.Errorf("before any viewer: %+v", st)
	}

	// cold start
	a := dialViewer(t, gw)
	defer a.Close(false)
	waitFrames(t, a, 1, 10*time.Second)
	sa := a.Stats()
	if !sa.FirstIDRok {
		t.Errorf("first frame is not an IDR with SPS and PPS before it: %+v", sa)
	}
	t.Logf("cold time to first frame: %v", sa.FirstFrame)

	// warm joins: wait until the camera's last keyframe is 0.4-0.8 s old, so its next one is
	// more than a second away, then join three viewers at once
	eventually(t, 10*time.Second, func() (bool, string) {
		s := a.Stats()
		age := time.Since(s.LastKey)
		return s.Keyframes > 0 && age > 400*time.Millisecond && age < 800*time.Millisecond, fmt.Sprintf("last keyframe %v ago", age)
	})
	keysBefore := a.Stats().Keyframes
	viewers := make([]*whep.Viewer, 3)
	var wg sync.WaitGroup
	for i := range viewers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := whep.Dial(context.Background(), "http://"+gw.http, "cam-east", bearer)
			if err != nil {
				t.Error(err)
				return
			}
			viewers[i] = v
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for _, v := range viewers {
		defer v.Close(false)
	}
	for i, v := range viewers {
		eventually(t, 5*time.Second, func() (bool, string) {
			s := v.Stats()
			return s.Keyframes > 0, fmt.Sprintf("warm viewer %d: %d frames, no keyframe (%d keyframe requests)", i, s.Frames, s.PLIs)
		})
		s := v.Stats()
		if s.FirstFrame > 300*time.Millisecond || !s.FirstIDRok {
			t.Errorf("warm viewer %d: first frame after %v (IDR with SPS/PPS: %v; answer after %v, connected after %v; %d frames, %d keyframes, %d RTP packets lost, %d keyframe requests so far), want < 300ms",
				i, s.FirstFrame, s.FirstIDRok, s.Answered, s.Connected, s.Frames, s.Keyframes, s.Lost, s.PLIs)
		}
		t.Logf("warm viewer %d: first frame after %v (%d keyframe requests)", i, s.FirstFrame, s.PLIs)
	}
	if a.Stats().Keyframes != keysBefore {
		t.Logf("note: the camera sent a keyframe during the joins")
	}

	// frame rate and loss over 4 s for every viewer, once the joiners have run through the
	// cached GOP (sent with 1 ms timestamps)
	time.Sleep(time.Second)
	all := append([]*whep.Viewer{a}, viewers...)
	before := make([]whep.Stats, len(all))
	for i, v := range all {
		before[i] = v.Stats()
	}
	time.Sleep(4 * time.Second)
	for i, v := range all {
		s := v.Stats()
		// the rate in the stream's own time (RTP timestamps), so a test process starved of
		// CPU for a moment does not skew it; and frames kept arriving in wall time
		fps := float64(s.Frames-before[i].Frames) / (float64(s.LastTS-before[i].LastTS) / 90000)
		if fps < camFPS*0.9 || fps > camFPS*1.1 || s.Frames-before[i].Frames < 4*camFPS/2 {
			t.Errorf("viewer %d: %.1f fps (%d frames in 4 s), want about %d", i, fps, s.Frames-before[i].Frames, camFPS)
		}
		if s.Lost != 0 {
			t.Errorf("viewer %d: %d packets lost on loopback", i, s.Lost)
		}
		if s.Keyframes < 2 || s.SPS < s.Keyframes || s.PPS < s.Keyframes {
			t.Errorf("viewer %d: keyframes %d, SPS %d, PPS %d: every keyframe needs SPS and PPS", i, s.Keyframes, s.SPS, s.PPS)
		}
		if s.Audio == 0 {
			t.Errorf("viewer %d: no PCMA audio", i)
		}
		if !strings.Contains(s.Status, `"state":"live"`) || !strings.Contains(s.Status, `"dropped":0`) {
			t.Errorf("viewer %d: status channel says %q", i, s.Status)
		}
	}

	// the API shows state, never URLs or passwords
	code, body := gw.do("GET", "/api/v1/cameras", "")
	if code != 200 || strings.Contains(string(body), "rtsp://") || strings.Contains(string(body), camPass) || !strings.Contains(string(body), `"live"`) {
		t.Errorf("GET /api/v1/cameras: %d %s", code, body)
	}
	if st := gw.camera("cam-east"); st.Viewers != 4 || st.Building != "3" {
		t.Errorf("camera status: %+v", st)
	}
	if v := gw.metric("gateway_camera_viewers", `camera="cam-east"`); v != 4 {
		t.Errorf("gateway_camera_viewers: %v", v)
	}
	if v := gw.metric("gateway_webrtc_sessions", ""); v != 4 {
		t.Errorf("gateway_webrtc_sessions: %v", v)
	}

	// a viewer that cannot decode asks for a keyframe and gets the current group again at
	// once, not at the camera's next keyframe (up to 2 s away): one keyframe more than a
	// viewer that did not ask
	v, ka, kv := viewers[0], a.Stats().Keyframes, viewers[0].Stats().Keyframes
	if err := v.RequestKeyframe(); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, func() (bool, string) {
		da, dv := a.Stats().Keyframes-ka, v.Stats().Keyframes-kv
		return dv == da+1, fmt.Sprintf("after a keyframe request: %d keyframes more, %d more for a viewer that did not ask", dv, da)
	})

	// frozen picture: 信号中断 (stale), then live again
	cam.inst.Freeze(true)
	eventually(t, 5*time.Second, func() (bool, string) { st := gw.camera("cam-east"); return st.State == "stale", st.State })
	eventually(t, 3*time.Second, func() (bool, string) { s := a.Stats(); return strings.Contains(s.Status, `"state":"stale"`), s.Status })
	cam.inst.Freeze(false)
	eventually(t, 5*time.Second, func() (bool, string) { st := gw.camera("cam-east"); return st.State == "live", st.State })

	// the camera restarted mid-stream: the same sessions carry on
	n0 := a.Stats().Frames
	cam.stop()
	time.Sleep(500 * time.Millisecond)
	cam.start(cam.addr)
	for i, v := range all {
		eventually(t, 15*time.Second, func() (bool, string) {
			s := v.Stats()
			return s.Frames > n0+2*camFPS && time.Since(s.LastFrame) < 200*time.Millisecond, fmt.Sprintf("viewer %d: %d frames", i, s.Frames)
		})
	}

	// the camera gone: offline and camera_offline; back: live and the alarm cleared
	cam.stop()
	eventually(t, 15*time.Second, func() (bool, string) { st := gw.camera("cam-east"); return st.State == "offline", st.State })
	openOffline := func() int {
		n := 0
		for _, al := range gw.alarms("state=open") {
			if al.Type == "camera_offline" {
				n++
			}
		}
		return n
	}
	eventually(t, 10*time.Second, func() (bool, string) { n := openOffline(); return n == 1, fmt.Sprint(n, " open camera_offline") })
	cam.start(cam.addr)
	eventually(t, 15*time.Second, func() (bool, string) { st := gw.camera("cam-east"); return st.State == "live", st.State })
	eventually(t, 5*time.Second, func() (bool, string) { n := openOffline(); return n == 0, fmt.Sprint(n, " open camera_offline") })
	s := a.Stats()
	if time.Since(s.LastFrame) > time.Second {
		t.Errorf("viewer did not resume after the camera came back: %+v", s)
	}

	// DELETE ends sessions; an unknown one is 404
	for _, v := range all {
		if err := v.Close(true); err != nil {
			t.Errorf("DELETE %s: %v", v.Location, err)
		}
	}
	if code, _ := gw.do("DELETE", "/api/v1/cameras/cam-east/whep/0000", ""); code != 404 {
		t.Errorf("DELETE unknown session: %d", code)
	}
	eventually(t, 5*time.Second, func() (bool, string) {
		st := gw.camera("cam-east")
		return st.Viewers == 0, fmt.Sprint(st.Viewers, " viewers")
	})
	// idle grace (2s): the camera is closed
	eventually(t, 6*time.Second, func() (bool, string) { st := gw.camera("cam-east"); return st.State == "idle", st.State })

	// every viewing audited with start and end
	gw.stop(syscall.SIGTERM)
	st, err := store.Open(context.Background(), filepath.Join(filepath.Dir(gw.cfgPath), "data", "gateway.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	entries, err := audit.List(context.Background(), st.DB(), audit.Filter{ActionPrefix: "camera.view"})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 4 {
		t.Fatalf("camera.view audit entries: %d, want 4: %+v", len(entries), entries)
	}
	for _, e := range entries {
		if e.Actor != "e2e" || e.Target != "cam-east" || !strings.Contains(e.Detail, `"start"`) || !strings.Contains(e.Detail, `"end"`) {
			t.Errorf("audit entry: %+v", e)
		}
	}
}

// TestCameraProbe: the installer's probe, on the command line and through the API, reports
// what the camera streams, or a clear reason.
func TestCameraProbe(t *testing.T) {
	cam := startCamera(t, 320, 240)
	out, err := exec.Command(gatewayBin, "camera", "probe", fmt.Sprintf("rtsp://%s:%s@%s/main", camUser, camPass, cam.addr)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "320x240") || !strings.Contains(string(out), "25.00 fps") ||
		!strings.Contains(string(out), "50 frames") || !strings.Contains(string(out), "PCMA") || !strings.Contains(string(out), "baseline") {
		t.Errorf("gateway camera probe: %v\n%s", err, out)
	}
	gw := newGateway(t, &brokerEnv{mode: "embedded"}, nil, "")
	for _, tc := range []struct {
		name, url, user, pass, reason string
	}{
		{"ok", "rtsp://" + cam.addr + "/main", camUser, camPass, ""},
		{"wrong password", "rtsp://" + cam.addr + "/main", camUser, "wrong-password", "unauthorized"},
		{"wrong path", "rtsp://" + cam.addr + "/nope", camUser, camPass, "not_found"},
		{"unreachable", fmt.Sprintf("rtsp://127.0.0.1:%d/main", freePort(t)), camUser, camPass, "unreachable"},
	} {
		body, _ := json.Marshal(map[string]any{"url": tc.url, "username": tc.user, "password": tc.pass, "timeout_ms": 8000})
		code, resp := gw.do("POST", "/api/v1/cameras/probe", string(body))
		var rep struct {
			OK     bool    `json:"ok"`
			Reason string  `json:"reason"`
			Width  int     `json:"width"`
			FPS    float64 `json:"frame_rate"`
			GOP    int     `json:"gop"`
			Audio  string  `json:"audio"`
		}
		json.Unmarshal(resp, &rep)
		switch {
		case code != 200:
			t.Errorf("%s: status %d %s", tc.name, code, resp)
		case tc.reason == "" && (!rep.OK || rep.Width != 320 || rep.GOP != camGOP || rep.Audio != "PCMA" || rep.FPS < 24 || rep.FPS > 26):
			t.Errorf("%s: %s", tc.name, resp)
		case tc.reason != "" && (rep.OK || rep.Reason != tc.reason):
			t.Errorf("%s: want reason %s, got %s", tc.name, tc.reason, resp)
		}
	}
}

// framesDecoded is the JavaScript that reads a camera tile's decoded video frames from its
// peer connection's getStats().
func framesDecoded(camera string) string {
	return `(async () => {
	  const v = document.querySelector('video[data-camera="` + camera + `"]');
	  if (!v || !v._pc) return -1;
	  let n = 0;
	  (await v._pc.getStats()).forEach((r) => { if (r.type === "inbound-rtp" && r.kind === "video") n = r.framesDecoded || 0; });
	  return n;
	})()`
}

// TestConsoleSecurityCameraWall: headless Chromium logs in as security, opens the camera
// wall, and the camera's video element decodes H.264 frames (getStats framesDecoded grows);
// the overlay says live; leaving the wall ends the session (audited).
func TestConsoleSecurityCameraWall(t *testing.T) {
	cam := startCamera(t, 320, 240)
	gw := newGateway(t, &brokerEnv{mode: "embedded"}, nil, cameraYAML(t, cam.addr))
	gw.addUser("guard1", "security", "guard1-password")
	gw.finishSetup()
	b := newBrowser(t, "http://"+gw.http)
	b.login("guard1", "guard1-password")
	b.do(10*time.Second, "camera wall", chromedp.Click(chromedp.CSS(`#nav a[data-nav="cameras"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.cam-tile[data-camera="cam-east"] video`)))
	var first float64
	eventually(t, 15*time.Second, func() (bool, string) {
		first = run(b, 5*time.Second, "getStats", chromedp.Evaluate[float64](framesDecoded("cam-east"), chromedp.EvalAwaitPromise))
		return first > 0, fmt.Sprint("framesDecoded ", first)
	})
	time.Sleep(2 * time.Second)
	second := run(b, 5*time.Second, "getStats", chromedp.Evaluate[float64](framesDecoded("cam-east"), chromedp.EvalAwaitPromise))
	if second-first < camFPS { // 2 s at 25 fps is 50; allow a slow headless decoder half of it
		t.Errorf("framesDecoded grew from %v to %v in 2 s", first, second)
	}
	t.Logf("framesDecoded %v → %v in 2 s", first, second)
	b.waitJS(5*time.Second, "overlay live", `document.querySelector('.cam-tile[data-camera="cam-east"]').dataset.state === "live"`)
	screenshot := b.screenshot(screenshotDir(t), "camera-wall.png")
	t.Logf("screenshot: %s", screenshot)
	if st := gw.camera("cam-east"); st.Viewers != 1 {
		t.Errorf("viewers: %d, want 1", st.Viewers)
	}
	// leaving the wall ends the viewing
	b.do(5*time.Second, "queue", chromedp.Click(chromedp.CSS(`#nav a[data-nav="queue"]`)))
	eventually(t, 10*time.Second, func() (bool, string) {
		st := gw.camera("cam-east")
		return st.Viewers == 0, fmt.Sprint(st.Viewers, " viewers")
	})
}

// TestConsoleDutyAlarmShowsCamera: on an SOS alarm's page the duty console plays the camera
// of the alarm's building beside it.
func TestConsoleDutyAlarmShowsCamera(t *testing.T) {
	cam := startCamera(t, 320, 240)
	env := &brokerEnv{mode: "embedded"}
	gw := newGateway(t, env, fleet()[:1], cameraYAML(t, cam.addr)) // cb-0001 is in building 3, as is the camera
	gw.addUser("duty1", "duty", "duty1-password")
	cb := mustConnect(t, env.addr, fleet()[0], true)
	cb.publish("event", sosPayload("video-sos-1"), false)
	var id string
	eventually(t, 5*time.Second, func() (bool, string) {
		for _, a := range gw.alarms("state=open") {
			if a.Type == "sos" {
				id = a.ID
			}
		}
		return id != "", "no SOS alarm"
	})
	gw.finishSetup()
	b := newBrowser(t, "http://"+gw.http)
	b.login("duty1", "duty1-password")
	b.do(10*time.Second, "alarm page", chromedp.Navigate(b.base+"/#/alarm/"+id),
		chromedp.WaitVisible(chromedp.CSS(`#alarm-camera .cam-tile[data-camera="cam-east"] video`)))
	eventually(t, 15*time.Second, func() (bool, string) {
		n := run(b, 5*time.Second, "getStats", chromedp.Evaluate[float64](framesDecoded("cam-east"), chromedp.EvalAwaitPromise))
		return n > 10, fmt.Sprint("framesDecoded ", n)
	})
	b.do(5*time.Second, "queue", chromedp.Click(chromedp.CSS(`#nav a[data-nav="queue"]`)))
	eventually(t, 10*time.Second, func() (bool, string) {
		st := gw.camera("cam-east")
		return st.Viewers == 0, fmt.Sprint(st.Viewers, " viewers")
	})
}
