package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/webrtc/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/community-edge/edge/gateway/internal/alarm"
	"github.com/community-edge/edge/gateway/internal/audit"
	"github.com/community-edge/edge/gateway/internal/cameras"
	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/httpapi"
	"github.com/community-edge/edge/gateway/internal/seal"
	"github.com/community-edge/edge/gateway/internal/store"
	"github.com/community-edge/edge/gateway/internal/video"
)

// newVideo builds the camera relay, its WebRTC side and its metrics, puts the cameras added
// at runtime (kept in the store, credentials sealed) on it next to the configured ones, and
// serves the camera endpoints, the installer's included.
func (g *Gateway) newVideo(ctx context.Context, st *store.Store, sealer *seal.Sealer) error {
	g.Video, g.WebRTC = newVideoRelay(g.cfg, st, g.Alarms, g.log)
	g.Registry.MustRegister(newCameraCollector(g.Video, g.WebRTC))
	g.HTTP.AddCameras(g.Video, g.WebRTC)
	if err := st.Migrate(ctx, cameras.Migrations); err != nil {
		return err
	}
	g.Cameras = cameras.New(st.DB(), sealer)
	added, err := g.Cameras.List(ctx)
	if err != nil {
		return err
	}
	for _, c := range added {
		err := g.Video.AddCamera(video.Camera{ID: c.ID, Name: c.Name, Building: c.Building, URL: c.URL, Username: c.Username,
			Password: c.Password, AlwaysOn: c.AlwaysOn, Origin: "runtime"})
		if errors.Is(err, video.ErrCameraExists) {
			g.log.Warn("a camera added in the console has the id of one in the configuration: the configured one is used; remove the other in the console",
				"camera", c.ID)
		} else if err != nil {
			return err
		}
	}
	g.HTTP.AddCameraAdmin(httpapi.CameraAdmin{Hub: g.Video, Store: g.Cameras, Added: g.webrtc.open})
	return nil
}

// webrtcStarter opens the WebRTC port once the site has a camera: at start, or when the
// first one is added in the console.
type webrtcStarter struct {
	mu      sync.Mutex
	start   func() // set by Run while it runs
	started bool
}

// run is called by Run with what starts the relay; with cameras it starts at once.
func (w *webrtcStarter) run(start func(), now bool) {
	w.mu.Lock()
	w.start = start
	w.mu.Unlock()
	if now {
		w.open()
	}
}

func (w *webrtcStarter) open() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.start != nil && !w.started {
		w.started = true
		w.start()
	}
}

// stop is called by Run as it shuts down: no relay starts after.
func (w *webrtcStarter) stop() {
	w.mu.Lock()
	w.start = nil
	w.mu.Unlock()
}

// newVideoRelay builds the camera relay and its WebRTC side; every finished viewing is audited
// as camera.view with its start and end.
func newVideoRelay(cfg *config.Config, st *store.Store, alarms *alarm.Engine, log *slog.Logger) (*video.Hub, *video.Relay) {
	v := cfg.Video
	var cams []video.Camera
	for _, c := range cfg.Cameras {
		cams = append(cams, video.Camera{ID: c.ID, Name: c.Name, Building: c.Building, URL: c.URL,
			Username: c.Username, Password: c.Password, AlwaysOn: c.AlwaysOn})
	}
	grace := v.IdleGrace
	if grace == 0 {
		grace = -1 // configured 0: close at once
	}
	hub := video.New(video.Config{Cameras: cams, IdleGrace: grace, OfflineAfter: v.OfflineAfter, StaleAfter: v.StaleAfter,
		ViewerQueue: v.ViewerQueue}, alarms, log.With("component", "video"))
	var ice []webrtc.ICEServer
	for _, s := range v.WebRTC.ICEServers {
		ice = append(ice, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	vlog := log.With("component", "webrtc")
	ended := func(view video.View) {
		detail, _ := json.Marshal(map[string]any{"session": view.Session, "start": view.Start.UTC().Format(time.RFC3339Nano),
			"end": view.End.UTC().Format(time.RFC3339Nano), "seconds": view.End.Sub(view.Start).Seconds(), "dropped_frames": view.Drops})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := audit.Record(ctx, st.DB(), audit.Entry{Actor: view.User, Action: "camera.view", Target: view.Camera,
			Detail: string(detail), Remote: view.Remote}); err != nil {
			vlog.Error("auditing camera.view", "err", err)
		}
	}
	relay := video.NewRelay(hub, video.RelayConfig{UDPPort: v.WebRTC.UDPPort, ListenIP: v.WebRTC.ListenIP,
		NAT1To1IPs: v.WebRTC.NAT1To1IPs, ICEServers: ice, MaxViewers: v.WebRTC.MaxViewers}, ended, vlog)
	return hub, relay
}

// cameraCollector exports each camera's viewers, state and last-frame age, and the WebRTC
// sessions.
type cameraCollector struct {
	hub      *video.Hub
	relay    *video.Relay
	viewers  *prometheus.Desc
	live     *prometheus.Desc
	age      *prometheus.Desc
	sessions *prometheus.Desc
}

func newCameraCollector(hub *video.Hub, relay *video.Relay) *cameraCollector {
	return &cameraCollector{hub: hub, relay: relay,
		viewers:  prometheus.NewDesc("gateway_camera_viewers", "Viewers of a camera.", []string{"camera"}, nil),
		live:     prometheus.NewDesc("gateway_camera_live", "1 when frames are arriving from the camera.", []string{"camera", "state"}, nil),
		age:      prometheus.NewDesc("gateway_camera_last_frame_age_seconds", "Time since the camera's last frame.", []string{"camera"}, nil),
		sessions: prometheus.NewDesc("gateway_webrtc_sessions", "WebRTC viewing sessions.", nil, nil)}
}

func (c *cameraCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.viewers
	ch <- c.live
	ch <- c.age
	ch <- c.sessions
}

func (c *cameraCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.hub.Cameras() {
		ch <- prometheus.MustNewConstMetric(c.viewers, prometheus.GaugeValue, float64(st.Viewers), st.ID)
		live := 0.0
		if st.State == video.StateLive {
			live = 1
		}
		ch <- prometheus.MustNewConstMetric(c.live, prometheus.GaugeValue, live, st.ID, st.State)
		if st.LastFrameAgeMS != nil {
			ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, float64(*st.LastFrameAgeMS)/1000, st.ID)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.sessions, prometheus.GaugeValue, float64(c.relay.Sessions()))
}
