package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/community-edge/edge/drivers/onvif"
	"github.com/community-edge/edge/firmware-sim/camera"
	simonvif "github.com/community-edge/edge/firmware-sim/onvif"
	"github.com/community-edge/edge/gateway/internal/audit"
	"github.com/community-edge/edge/gateway/internal/cameras"
	"github.com/community-edge/edge/gateway/internal/seal"
	"github.com/community-edge/edge/gateway/internal/video"
)

const camPass = "Cam-Pass-7Qz"

// syncBuffer is a log sink for checking what was logged.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// cameraEnv is env with a running video hub (one configured camera), the runtime camera
// store, discovery on loopback in a group of its own, and everything logged into logs.
type cameraEnv struct {
	*env
	hub   *video.Hub
	store *cameras.Store
	logs  *syncBuffer
	group string
	added int
}

func newCameraEnv(t *testing.T) *cameraEnv {
	e := &cameraEnv{env: newEnv(t, false), logs: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.srv.log = log
	if err := e.st.Migrate(context.Background(), cameras.Migrations); err != nil {
		t.Fatal(err)
	}
	sl, err := seal.New(bytes.Repeat([]byte{7}, seal.KeyLen))
	if err != nil {
		t.Fatal(err)
	}
	e.store = cameras.New(e.st.DB(), sl)
	e.hub = video.New(video.Config{Cameras: []video.Camera{{ID: "cfg-1", Name: "配置", URL: "rtsp://127.0.0.1:1/x"}}}, nil, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.hub.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	e.group = "239.255.255.250:" + strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)
	c.Close()
	e.srv.AddCameras(e.hub, video.NewRelay(e.hub, video.RelayConfig{}, nil, log))
	e.srv.AddCameraAdmin(CameraAdmin{Hub: e.hub, Store: e.store, Discovery: onvif.Config{Interfaces: []string{"lo"}, Group: e.group},
		Added: func() { e.added++ }})
	return e
}

// call does a request as user (by session) and returns the status and the body as sent.
func (e *cameraEnv) call(user, method, path string, body any) (int, string) {
	e.t.Helper()
	cookie, csrf := e.login(user)
	resp, out := e.do(req{method: method, path: path, body: body, cookie: cookie, csrf: csrf})
	b, _ := json.Marshal(out)
	return resp.StatusCode, string(b)
}

func startSimCamera(t *testing.T) *camera.Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	clip, err := camera.GenerateAndLoad(ctx, t.TempDir(), camera.ClipSpec{Width: 160, Height: 120, FPS: 25, GOP: 25, Seconds: 2, Bitrate: "200k"})
	if err != nil {
		t.Fatal(err)
	}
	cam, err := camera.Start(camera.Config{Streams: map[string]*camera.Clip{"/main": clip}, Username: "installer", Password: camPass,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cam.Stop() })
	return cam
}

// TestAddCameraAtRuntime: an installer adds the simulated camera; the probe result comes
// back, the camera is on the wall at once and streams, its credentials are in no response
// and no log line; a wrong password is refused with why; configured cameras stay put.
func TestAddCameraAtRuntime(t *testing.T) {
	e := newCameraEnv(t)
	cam := startSimCamera(t)
	host := cam.Addr()
	good := map[string]any{"id": "gate-n", "name": "北门", "building": "3", "url": "rtsp://" + host + "/main", "username": "installer", "password": camPass}

	// roles: only admins and installers add, remove and discover
	for _, u := range []string{"duty1", "guard1"} {
		for _, c := range []struct{ method, path string }{{"POST", "/api/v1/cameras"}, {"DELETE", "/api/v1/cameras/cfg-1"}, {"POST", "/api/v1/cameras/discover"}} {
			if code, _ := e.call(u, c.method, c.path, good); code != http.StatusForbidden {
				t.Errorf("%s %s %s: %d, want 403", u, c.method, c.path, code)
			}
		}
	}

	// a wrong password: 422 saying the camera refused the login; nothing added
	bad := map[string]any{"id": "gate-n", "name": "北门", "url": "rtsp://installer:wrong-pass@" + host + "/main"}
	code, body := e.call("inst1", "POST", "/api/v1/cameras", bad)
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `"reason":"unauthorized"`) || !strings.Contains(body, "cannot be played (unauthorized)") {
		t.Fatalf("wrong password: %d %s", code, body)
	}
	if _, ok := e.hub.Camera("gate-n"); ok {
		t.Fatal("a camera that failed its probe was added")
	}
	// invalid fields, each named
	code, body = e.call("inst1", "POST", "/api/v1/cameras", map[string]any{"id": "bad id", "url": "http://x/", "username": "u"})
	if code != http.StatusBadRequest || !strings.Contains(body, "id: must be") || !strings.Contains(body, "url: must be") || !strings.Contains(body, "name: required") {
		t.Fatalf("invalid camera: %d %s", code, body)
	}

	// the right one: probed, added, on the wall
	code, body = e.call("inst1", "POST", "/api/v1/cameras", good)
	if code != http.StatusCreated || !strings.Contains(body, `"codec":"H264"`) || !strings.Contains(body, `"width":160`) ||
		!strings.Contains(body, `"origin":"runtime"`) || e.added != 1 {
		t.Fatalf("add: %d %s (added hook %d)", code, body, e.added)
	}
	if code, _ := e.call("admin1", "POST", "/api/v1/cameras", good); code != http.StatusConflict {
		t.Errorf("adding the same id again: %d", code)
	}
	if code, _ := e.call("admin1", "POST", "/api/v1/cameras", map[string]any{"id": "cfg-1", "name": "x", "url": "rtsp://" + host + "/main"}); code != http.StatusConflict {
		t.Errorf("adding a configured camera's id: %d", code)
	}

	// it streams: a viewer joins and the hub reports it live
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := e.hub.Join(ctx, "gate-n")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body = e.call("guard1", "GET", "/api/v1/cameras/gate-n", nil)
		if code == 200 && strings.Contains(body, `"state":"live"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the added camera is not live: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// no GET shows its credentials, to any role
	for _, u := range []string{"admin1", "inst1", "duty1", "guard1"} {
		for _, p := range []string{"/api/v1/cameras", "/api/v1/cameras/gate-n", "/api/v1/audit"} {
			code, body := e.call(u, "GET", p, nil)
			if strings.Contains(body, camPass) || strings.Contains(body, "installer:") {
				t.Errorf("%s GET %s (%d) shows the camera's credentials: %s", u, p, code, body)
			}
		}
	}
	// stored sealed, read back whole
	list, err := e.store.List(context.Background())
	if err != nil || len(list) != 1 || list[0].Password != camPass || list[0].URL != "rtsp://"+host+"/main" || list[0].CreatedBy != "inst1" {
		t.Fatalf("stored: %+v %v", list, err)
	}
	var creds string
	e.st.DB().QueryRow(`SELECT credentials FROM cameras`).Scan(&creds)
	if !seal.IsSealed(creds) {
		t.Errorf("credentials stored as %q", creds)
	}

	// removal: configured cameras are read-only; the added one goes, its viewer is cut off
	if code, _ := e.call("inst1", "DELETE", "/api/v1/cameras/cfg-1", nil); code != http.StatusConflict {
		t.Errorf("removing a configured camera: %d, want 409", code)
	}
	if code, _ := e.call("inst1", "DELETE", "/api/v1/cameras/gate-n", nil); code != http.StatusNoContent {
		t.Fatalf("remove: %d", code)
	}
	select {
	case <-v.Done():
	case <-time.After(3 * time.Second):
		t.Error("the viewer of a removed camera is still connected")
	}
	if code, _ := e.call("guard1", "GET", "/api/v1/cameras/gate-n", nil); code != http.StatusNotFound {
		t.Errorf("removed camera: %d", code)
	}
	if code, _ := e.call("inst1", "DELETE", "/api/v1/cameras/gate-n", nil); code != http.StatusNotFound {
		t.Errorf("removed twice: %d", code)
	}
	es, err := audit.List(context.Background(), e.st.DB(), audit.Filter{Target: "gate-n"})
	if err != nil || len(es) != 2 || es[0].Action != "camera.remove" || es[1].Action != "camera.add" || es[1].Actor != "inst1" || !strings.Contains(es[1].Detail, "160x120") {
		t.Errorf("audit: %+v %v", es, err)
	}
	// a camera not installed yet: refused, then kept with force
	later := map[string]any{"id": "gate-s", "name": "南门", "url": "rtsp://127.0.0.1:1/main", "username": "admin", "password": camPass, "timeout_ms": 2000}
	if code, body := e.call("admin1", "POST", "/api/v1/cameras", later); code != http.StatusUnprocessableEntity || !strings.Contains(body, `"reason":"unreachable"`) {
		t.Errorf("an unreachable camera: %d %s", code, body)
	}
	later["force"] = true
	if code, body := e.call("admin1", "POST", "/api/v1/cameras", later); code != http.StatusCreated || !strings.Contains(body, `"ok":false`) || strings.Contains(body, camPass) {
		t.Errorf("an unreachable camera with force: %d %s", code, body)
	}
	if es, _ := audit.List(context.Background(), e.st.DB(), audit.Filter{Target: "gate-s"}); len(es) != 1 || !strings.Contains(es[0].Detail, `"forced":true`) {
		t.Errorf("forced addition audited as %+v", es)
	}
	if logs := e.logs.String(); strings.Contains(logs, camPass) || !strings.Contains(logs, "camera added") {
		t.Errorf("logs show the password, or not the addition:\n%s", logs)
	}
}

// TestDiscoverCamerasAPI: two simulated ONVIF cameras answer on loopback and are listed
// with their addresses and a starting RTSP URL.
func TestDiscoverCamerasAPI(t *testing.T) {
	e := newCameraEnv(t)
	for _, c := range []simonvif.Config{
		{Name: "HIKVISION DS-2CD2T45", Hardware: "DS-2CD2T45FWD-I5", XAddr: "http://127.0.0.1:8000/onvif/device_service"},
		{Name: "Dahua", Hardware: "IPC-HFW1230S", XAddr: "http://127.0.0.1:8001/onvif/device_service"},
	} {
		c.Interfaces, c.Group = []string{"lo"}, e.group
		r, err := simonvif.Start(c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Stop() })
	}
	start := time.Now()
	code, body := e.call("inst1", "POST", "/api/v1/cameras/discover", map[string]any{"timeout_ms": 1500})
	if code != 200 || strings.Count(body, `"address":"127.0.0.1"`) != 2 || !strings.Contains(body, `"rtsp_url":"rtsp://127.0.0.1:554/Streaming/Channels/101"`) ||
		!strings.Contains(body, `"rtsp_url":"rtsp://127.0.0.1:554/cam/realmonitor?channel=1\u0026subtype=0"`) || !strings.Contains(body, `"name":"Dahua"`) {
		t.Fatalf("discover: %d %s", code, body)
	}
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Errorf("discovery answered after %s", d)
	}
	// one search at a time
	busy := make(chan int)
	go func() {
		code, _ := e.call("inst1", "POST", "/api/v1/cameras/discover", map[string]any{"timeout_ms": 1000})
		busy <- code
	}()
	time.Sleep(300 * time.Millisecond)
	if code, _ := e.call("admin1", "POST", "/api/v1/cameras/discover", nil); code != http.StatusTooManyRequests {
		t.Errorf("a second search while one runs: %d, want 429", code)
	}
	if code := <-busy; code != 200 {
		t.Errorf("the first search: %d", code)
	}
	if code, body := e.call("admin1", "POST", "/api/v1/cameras/discover", map[string]any{"interface": "nosuch0"}); code != 400 || !strings.Contains(body, "no interface") {
		t.Errorf("unknown interface: %d %s", code, body)
	}
}
