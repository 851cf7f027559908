// Package video owns the gateway's camera relay: one RTSP connection per camera shared by
// all its viewers (opened on the first, closed after an idle grace), a GOP cache so a new
// viewer starts with the current picture at once, fan-out through a bounded queue per viewer
// (a slow viewer drops to the next keyframe, it never delays the camera or the others), the
// liveness of each camera and its camera_offline alarm, and WebRTC viewers over WHEP.
package video

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/community-edge/edge/drivers/rtsp"
	"github.com/community-edge/edge/gateway/internal/alarm/rules"
)

// Camera is one camera the hub relays.
type Camera struct {
	ID, Name, Building string
	URL                string // rtsp://…; never shown to viewers
	Username, Password string
	AlwaysOn           bool
	Origin             string // "config" (the default) or "runtime": added while running (AddCamera)
}

// Config configures a Hub. Zero durations take the defaults noted.
type Config struct {
	Cameras      []Camera
	IdleGrace    time.Duration // a camera without viewers closes after this (default 30s; negative: at once)
	OfflineAfter time.Duration // no frame this long while connected raises camera_offline (default 60s)
	StaleAfter   time.Duration // no frame this long marks the picture frozen (default 3s)
	ViewerQueue  int           // items queued per viewer (default 256)
	// RTSP overrides client settings (timeouts, backoff) for every camera; URL and
	// credentials come from the camera.
	RTSP rtsp.Config
}

// Alarms is where the hub raises and clears camera_offline (alarm.Engine).
type Alarms interface {
	RaiseLocal(ctx context.Context, typ string, sev rules.Severity, condition string, detail map[string]any) error
	ClearLocal(ctx context.Context, condition string) error
}

// Camera states as viewers see them.
const (
	StateIdle    = "idle"    // not connected: nobody is watching
	StateLive    = "live"    // frames are arriving
	StateStale   = "stale"   // connected but no frame for StaleAfter (信号中断)
	StateOffline = "offline" // cannot be reached (离线)
)

// ErrNoCamera is returned for an unknown camera id.
var ErrNoCamera = errors.New("video: no such camera")

// ErrCameraExists is returned by AddCamera for an id already in use.
var ErrCameraExists = errors.New("video: a camera with this id exists")

// Hub relays every configured camera.
type Hub struct {
	cfg    Config
	alarms Alarms
	log    *slog.Logger

	mu      sync.RWMutex
	order   []string
	streams map[string]*stream
	running *hubRun // set while Run runs
}

// hubRun is what Run owns: the context and goroutines of every stream, each with its own
// cancel so a camera can be removed while the others run on.
type hubRun struct {
	ctx     context.Context
	wg      sync.WaitGroup
	cancels map[string]context.CancelFunc
}

// New builds a hub; it connects to nothing until Run. alarms may be nil.
func New(cfg Config, alarms Alarms, log *slog.Logger) *Hub {
	if cfg.IdleGrace == 0 {
		cfg.IdleGrace = 30 * time.Second
	}
	if cfg.OfflineAfter <= 0 {
		cfg.OfflineAfter = 60 * time.Second
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 3 * time.Second
	}
	if cfg.ViewerQueue <= 0 {
		cfg.ViewerQueue = 256
	}
	h := &Hub{cfg: cfg, alarms: alarms, log: log, streams: map[string]*stream{}}
	for _, c := range cfg.Cameras {
		if c.Origin == "" {
			c.Origin = "config"
		}
		h.order = append(h.order, c.ID)
		h.streams[c.ID] = newStream(h, c)
	}
	return h
}

// Run relays until ctx is done, then closes every camera connection and viewer. Cameras
// added while it runs start at once.
func (h *Hub) Run(ctx context.Context) error {
	r := &hubRun{ctx: ctx, cancels: map[string]context.CancelFunc{}}
	h.mu.Lock()
	h.running = r
	for id, s := range h.streams {
		h.start(r, id, s)
	}
	h.mu.Unlock()
	<-ctx.Done()
	h.mu.Lock()
	h.running = nil
	h.mu.Unlock()
	r.wg.Wait()
	return nil
}

// start runs a stream's goroutine; h.mu is held.
func (h *Hub) start(r *hubRun, id string, s *stream) {
	sctx, cancel := context.WithCancel(r.ctx)
	r.cancels[id] = cancel
	r.wg.Add(1)
	go func() { defer r.wg.Done(); s.run(sctx) }()
}

// AddCamera adds a camera to the running hub (or to the hub before Run): it appears in
// Cameras at once and opens on its first viewer, like a configured one.
func (h *Hub) AddCamera(c Camera) error {
	if c.ID == "" || c.URL == "" {
		return errors.New("video: a camera needs an id and a URL")
	}
	if c.Origin == "" {
		c.Origin = "runtime"
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.streams[c.ID]; ok {
		return fmt.Errorf("%w: %s", ErrCameraExists, c.ID)
	}
	s := newStream(h, c)
	h.streams[c.ID] = s
	h.order = append(h.order, c.ID)
	if h.running != nil {
		h.start(h.running, c.ID, s)
	}
	return nil
}

// RemoveCamera stops a camera (its viewers are disconnected), clears its camera_offline
// alarm and forgets it.
func (h *Hub) RemoveCamera(ctx context.Context, id string) error {
	h.mu.Lock()
	s, ok := h.streams[id]
	if !ok {
		h.mu.Unlock()
		return ErrNoCamera
	}
	delete(h.streams, id)
	h.order = slices.DeleteFunc(h.order, func(x string) bool { return x == id })
	var cancel context.CancelFunc
	if h.running != nil {
		cancel = h.running.cancels[id]
		delete(h.running.cancels, id)
	}
	h.mu.Unlock()
	if cancel != nil {
		cancel()
		<-s.stopped
	}
	if h.alarms != nil {
		if err := h.alarms.ClearLocal(ctx, s.condition()); err != nil {
			return fmt.Errorf("video: clearing camera_offline of %s: %w", id, err)
		}
	}
	return nil
}

// stream returns camera id's stream.
func (h *Hub) stream(id string) (*stream, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	s, ok := h.streams[id]
	return s, ok
}

// Status is what a viewer may know about a camera: never its URL or credentials.
type Status struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Building string `json:"building,omitempty"`
	State    string `json:"state"`
	// LastFrameAgeMS is how long ago the last frame arrived; absent before the first.
	LastFrameAgeMS *int64 `json:"last_frame_age_ms,omitempty"`
	Viewers        int    `json:"viewers"`
	Audio          string `json:"audio,omitempty"` // PCMA or PCMU when relayed
	Origin         string `json:"origin"`          // config, or runtime (added in the console; may be removed)
}

// Cameras returns every camera's status, in configuration order.
func (h *Hub) Cameras() []Status {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]Status, 0, len(h.order))
	for _, id := range h.order {
		out = append(out, h.streams[id].status())
	}
	return out
}

// Camera returns one camera's status.
func (h *Hub) Camera(id string) (Status, bool) {
	s, ok := h.stream(id)
	if !ok {
		return Status{}, false
	}
	return s.status(), true
}

// Join adds a viewer to camera id, opening the camera if needed, and waits (until ctx is
// done) for the camera's tracks. The viewer's queue starts with the cached GOP. The caller
// must Leave.
func (h *Hub) Join(ctx context.Context, id string) (*Viewer, error) {
	s, ok := h.stream(id)
	if !ok {
		return nil, ErrNoCamera
	}
	v := &Viewer{s: s, q: make(chan Item, h.cfg.ViewerQueue), info: make(chan *rtsp.StreamInfo, 1), left: make(chan struct{})}
	select {
	case s.in <- event{join: v}:
	case <-ctx.Done():
		return nil, fmt.Errorf("video: join %s: %w", id, context.Cause(ctx))
	case <-s.stopped:
		return nil, fmt.Errorf("video: join %s: hub stopped", id)
	}
	select {
	case info := <-v.info:
		v.Stream = info
		return v, nil
	case <-ctx.Done():
		v.Leave()
		return nil, fmt.Errorf("video: camera %s did not start playing: %w", id, context.Cause(ctx))
	}
}

// Frame is one H.264 access unit as Annex-B, shared read-only by every viewer.
type Frame struct {
	AnnexB   []byte
	Keyframe bool
	PTS      time.Duration
	Dur      time.Duration // estimated display duration
	Received time.Time
}

// Audio is one G.711 packet, shared read-only by every viewer.
type Audio struct {
	Payload []byte
	Dur     time.Duration
}

// Item is what a viewer's queue carries: a frame or an audio packet. Cached frames sent to a
// joining viewer have CatchUp set: a player should show them as fast as it can.
type Item struct {
	Frame   *Frame
	Audio   *Audio
	CatchUp bool
}

// Viewer is one consumer of a camera's stream.
type Viewer struct {
	s      *stream
	q      chan Item
	info   chan *rtsp.StreamInfo
	left   chan struct{}
	once   sync.Once
	Stream *rtsp.StreamInfo // the camera's tracks when it joined

	needKey bool // owned by the stream's goroutine

	drops sync.Mutex
	total uint64 // frames lost because the viewer fell behind
}

// Queue is the viewer's items, in order. It is never closed; stop reading on Done.
func (v *Viewer) Queue() <-chan Item { return v.q }

// Done is closed when the viewer has left or the hub stopped.
func (v *Viewer) Done() <-chan struct{} { return v.left }

// Drops is how many frames this viewer missed because it did not keep up.
func (v *Viewer) Drops() uint64 {
	v.drops.Lock()
	defer v.drops.Unlock()
	return v.total
}

// Leave removes the viewer. It is safe to call more than once.
func (v *Viewer) Leave() {
	v.once.Do(func() {
		close(v.left)
		select {
		case v.s.in <- event{leave: v}:
		case <-v.s.stopped:
		}
	})
}

// offer queues it for the viewer without blocking; a full queue drops the item and, for
// video, everything up to the next keyframe. Called only by the stream's goroutine.
func (v *Viewer) offer(it Item) {
	if it.Frame != nil && v.needKey {
		if !it.Frame.Keyframe {
			v.drop()
			return
		}
		v.needKey = false
	}
	select {
	case v.q <- it:
	default:
		if it.Frame != nil {
			v.needKey = true
			v.drop()
		}
	}
}

func (v *Viewer) drop() {
	v.drops.Lock()
	v.total++
	v.drops.Unlock()
}
