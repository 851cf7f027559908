package video

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v3"
	"github.com/pion/webrtc/v3/pkg/media"

	"github.com/community-edge/edge/drivers/rtsp"
)

// RelayConfig configures the WebRTC side.
type RelayConfig struct {
	UDPPort    int    // all media on this UDP port (ICE UDP mux); 0 picks a free one
	ListenIP   string // default all addresses
	NAT1To1IPs []string
	ICEServers []webrtc.ICEServer
	MaxViewers int           // default 100
	JoinWait   time.Duration // how long an offer waits for a closed camera to start playing (default 8s)
}

// View is one finished viewing, for the audit log.
type View struct {
	Session, Camera, User, Remote string
	Start, End                    time.Time
	Drops                         uint64
}

// Errors a WHEP handler maps to HTTP statuses.
var (
	ErrNotReady    = errors.New("video: webrtc not ready")
	ErrTooMany     = errors.New("video: too many viewers")
	ErrNoSession   = errors.New("video: no such session")
	ErrNotYours    = errors.New("video: session belongs to another user")
	ErrBadOffer    = errors.New("video: bad offer")
	ErrUnreachable = errors.New("video: camera unreachable")
)

// Relay serves a hub's cameras to WebRTC viewers (WHEP).
type Relay struct {
	hub   *Hub
	cfg   RelayConfig
	log   *slog.Logger
	ended func(View) // called once per session when it ends

	mu       sync.Mutex
	api      *webrtc.API // nil until Run listens
	runCtx   context.Context
	sessions map[string]*session
	wg       sync.WaitGroup
	port     chan int
}

// NewRelay builds a relay; it listens on nothing until Run. ended, if not nil, is called once
// for every session when it ends.
func NewRelay(hub *Hub, cfg RelayConfig, ended func(View), log *slog.Logger) *Relay {
	if cfg.MaxViewers <= 0 {
		cfg.MaxViewers = 100
	}
	if cfg.JoinWait <= 0 {
		cfg.JoinWait = 8 * time.Second
	}
	return &Relay{hub: hub, cfg: cfg, log: log, ended: ended, sessions: map[string]*session{}, port: make(chan int, 1)}
}

// Port returns the UDP port media uses, once Run listens.
func (r *Relay) Port() <-chan int { return r.port }

// Run listens on the UDP port and serves sessions until ctx is done, then ends them all.
func (r *Relay) Run(ctx context.Context) error {
	ip := net.ParseIP(r.cfg.ListenIP)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: r.cfg.UDPPort})
	if err != nil {
		return fmt.Errorf("video: webrtc udp port: %w", err)
	}
	conn.SetReadBuffer(4 << 20) // the kernel caps these at net.core.[rw]mem_max
	conn.SetWriteBuffer(4 << 20)
	mux := webrtc.NewICEUDPMux(nil, conn)
	se := webrtc.SettingEngine{}
	se.SetICEUDPMux(mux)
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	se.SetICETimeouts(5*time.Second, 10*time.Second, 2*time.Second)
	// A DTLS flight that reaches a viewer before it is ready is otherwise resent after 1 s,
	// which would be most of a join's time to first frame.
	se.SetDTLSRetransmissionInterval(100 * time.Millisecond)
	if len(r.cfg.NAT1To1IPs) > 0 {
		se.SetNAT1To1IPs(r.cfg.NAT1To1IPs, webrtc.ICECandidateTypeHost)
	}
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		mux.Close()
		return fmt.Errorf("video: codecs: %w", err)
	}
	ir := &interceptor.Registry{}
	resp, err := nack.NewResponderInterceptor(nack.ResponderSize(128))
	if err != nil {
		mux.Close()
		return fmt.Errorf("video: nack: %w", err)
	}
	me.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack"}, webrtc.RTPCodecTypeVideo)
	me.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack", Parameter: "pli"}, webrtc.RTPCodecTypeVideo)
	ir.Add(resp)
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		mux.Close()
		return fmt.Errorf("video: rtcp reports: %w", err)
	}
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir))
	r.mu.Lock()
	r.api, r.runCtx = api, ctx
	r.mu.Unlock()
	r.port <- conn.LocalAddr().(*net.UDPAddr).Port
	r.log.Info("webrtc listening", "udp", conn.LocalAddr().String())

	<-ctx.Done()
	r.mu.Lock()
	r.api = nil
	for _, s := range r.sessions {
		s.end()
	}
	r.mu.Unlock()
	r.wg.Wait()
	return mux.Close()
}

// session is one WebRTC viewer.
type session struct {
	id, camera, user, remote string
	start                    time.Time
	pc                       *webrtc.PeerConnection
	viewer                   *Viewer
	video, audio             *boundTrack
	once                     sync.Once
	done                     chan struct{}
	status                   atomic.Pointer[webrtc.DataChannel] // the viewer's "status" channel, once open
	keyReq                   chan struct{}                      // the viewer asked for a keyframe (PLI or FIR)

	// owned by serve
	gop     gop       // what the viewer was last sent from a keyframe on
	resent  time.Time // when the group was last sent again on request
	resends int
}

// StatusMessage is what the gateway sends every second on a viewer's data channel labelled
// "status" (when the offer opens one): the camera's liveness and the frames this viewer
// lost because it did not keep up.
type StatusMessage struct {
	State          string `json:"state"`
	LastFrameAgeMS *int64 `json:"last_frame_age_ms,omitempty"`
	Dropped        uint64 `json:"dropped"`
}

func (s *session) end() { s.once.Do(func() { close(s.done) }) }

// Offer starts a session for user on camera with a WHEP offer and returns its id and the
// SDP answer (with every ICE candidate: no trickle).
func (r *Relay) Offer(ctx context.Context, camera, user, remote, offer string) (id, answer string, err error) {
	if _, ok := r.hub.Camera(camera); !ok {
		return "", "", ErrNoCamera
	}
	r.mu.Lock()
	api, n := r.api, len(r.sessions)
	r.mu.Unlock()
	if api == nil {
		return "", "", ErrNotReady
	}
	if n >= r.cfg.MaxViewers {
		return "", "", ErrTooMany
	}
	jctx, cancel := context.WithTimeout(ctx, r.cfg.JoinWait)
	defer cancel()
	v, err := r.hub.Join(jctx, camera)
	if err != nil {
		if errors.Is(err, ErrNoCamera) {
			return "", "", err
		}
		return "", "", fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	s, err := r.newSession(api, v, camera, user, remote, offer)
	if err != nil {
		v.Leave()
		return "", "", err
	}
	r.mu.Lock()
	if r.api == nil { // shutting down
		r.mu.Unlock()
		v.Leave()
		s.pc.Close()
		return "", "", ErrNotReady
	}
	r.sessions[s.id] = s
	r.wg.Add(1)
	runCtx := r.runCtx
	r.mu.Unlock()
	go func() { defer r.wg.Done(); r.serve(runCtx, s) }()
	return s.id, s.pc.LocalDescription().SDP, nil
}

func (r *Relay) newSession(api *webrtc.API, v *Viewer, camera, user, remote, offer string) (*session, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{ICEServers: r.cfg.ICEServers})
	if err != nil {
		return nil, fmt.Errorf("video: peer connection: %w", err)
	}
	var b [8]byte
	rand.Read(b[:])
	s := &session{id: hex.EncodeToString(b[:]), camera: camera, user: user, remote: remote, start: time.Now(), pc: pc, viewer: v, done: make(chan struct{}),
		keyReq: make(chan struct{}, 1), gop: r.hub.newGOP()}
	fail := func(err error) (*session, error) { pc.Close(); return nil, err }
	s.video, err = newBoundTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, "video", "camera-"+camera)
	if err != nil {
		return fail(fmt.Errorf("video: track: %w", err))
	}
	if _, err := pc.AddTransceiverFromTrack(s.video, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		return fail(fmt.Errorf("video: %w", err))
	}
	if a := v.Stream.Audio; a != nil && (a.Codec == rtsp.CodecPCMA || a.Codec == rtsp.CodecPCMU) {
		mime := webrtc.MimeTypePCMA
		if a.Codec == rtsp.CodecPCMU {
			mime = webrtc.MimeTypePCMU
		}
		s.audio, err = newBoundTrack(webrtc.RTPCodecCapability{MimeType: mime, ClockRate: 8000, Channels: 1}, "audio", "camera-"+camera)
		if err != nil {
			return fail(fmt.Errorf("video: track: %w", err))
		}
		if _, err := pc.AddTransceiverFromTrack(s.audio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			return fail(fmt.Errorf("video: %w", err))
		}
	}
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		if dc.Label() == "status" {
			dc.OnOpen(func() { s.status.Store(dc) })
		}
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed, webrtc.PeerConnectionStateDisconnected:
			s.end()
		}
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fail(fmt.Errorf("%w: %w", ErrBadOffer, err))
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(fmt.Errorf("%w: %w", ErrBadOffer, err))
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return fail(fmt.Errorf("video: answer: %w", err))
	}
	select {
	case <-gathered:
	case <-time.After(5 * time.Second):
		return fail(errors.New("video: ice gathering timed out"))
	}
	return s, nil
}

// serve feeds the session from its viewer queue until the session ends.
func (r *Relay) serve(ctx context.Context, s *session) {
	var rtcpWG sync.WaitGroup
	for _, snd := range s.pc.GetSenders() {
		video := snd.Track() == s.video
		rtcpWG.Add(1)
		go func() { // RTCP must be read for the interceptors (NACK) to work
			defer rtcpWG.Done()
			for {
				pkts, _, err := snd.ReadRTCP()
				if err != nil {
					return
				}
				if video && wantsKeyframe(pkts) {
					select {
					case s.keyReq <- struct{}{}:
					default:
					}
				}
			}
		}()
	}
	r.log.Info("viewer started", "session", s.id, "camera", s.camera, "user", s.user)
	q := s.viewer.Queue()
	// Samples written before the track is bound (after DTLS is up) are lost: the queue holds
	// the cached GOP (and what arrives meanwhile) until then.
	connectBy := time.NewTimer(15 * time.Second)
	defer connectBy.Stop()
	select {
	case <-s.video.bound:
	case <-connectBy.C:
		s.end()
	case <-s.done:
	case <-ctx.Done():
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
loop:
	for {
		select {
		case <-tick.C:
			if dc := s.status.Load(); dc != nil {
				st, _ := r.hub.Camera(s.camera)
				msg, _ := json.Marshal(StatusMessage{State: st.State, LastFrameAgeMS: st.LastFrameAgeMS, Dropped: s.viewer.Drops()})
				dc.SendText(string(msg))
			}
		case it := <-q:
			if err := s.write(it); err != nil {
				r.log.Debug("viewer write", "session", s.id, "err", err)
			}
		case <-s.keyReq:
			// The viewer cannot decode: its first keyframe may have gone out while its side
			// of SRTP was still starting, or a packet was lost. A camera cannot be asked for a
			// keyframe, so send the group again from its keyframe, at most every resendEvery.
			if time.Since(s.resent) < resendEvery {
				break
			}
			if g := s.gop.get(); g != nil {
				s.resent = time.Now()
				s.resends++
				for _, f := range g {
					if err := s.send(Item{Frame: f, CatchUp: true}); err != nil {
						r.log.Debug("viewer write", "session", s.id, "err", err)
					}
				}
			}
		case <-s.done:
			break loop
		case <-s.viewer.Done():
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	s.viewer.Leave()
	s.pc.Close()
	rtcpWG.Wait()
	r.mu.Lock()
	delete(r.sessions, s.id)
	r.mu.Unlock()
	v := View{Session: s.id, Camera: s.camera, User: s.user, Remote: s.remote, Start: s.start, End: time.Now(), Drops: s.viewer.Drops()}
	r.log.Info("viewer ended", "session", s.id, "camera", s.camera, "user", s.user, "seconds", int(v.End.Sub(v.Start).Seconds()), "dropped", v.Drops, "keyframe_resends", s.resends)
	if r.ended != nil {
		r.ended(v)
	}
}

// Cached frames sent to a joining viewer are stamped catchUpDur apart, so the player runs
// through the GOP to the live picture instead of replaying it at its own pace, and are paced
// at catchUpRate so the burst does not overflow socket buffers on the way. A viewer asking
// for a keyframe gets the current group again at most every resendEvery.
const (
	catchUpDur  = time.Millisecond
	catchUpRate = 40e6 // bits per second
	resendEvery = 200 * time.Millisecond
)

// wantsKeyframe reports whether a viewer's RTCP asks for a keyframe.
func wantsKeyframe(pkts []rtcp.Packet) bool {
	for _, p := range pkts {
		switch p.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			return true
		}
	}
	return false
}

// write sends an item from the viewer's queue, keeping the group it belongs to.
func (s *session) write(it Item) error {
	if it.Frame != nil {
		s.gop.add(it.Frame)
	}
	return s.send(it)
}

// send hands an item to the viewer's tracks.
func (s *session) send(it Item) error {
	switch {
	case it.Frame != nil:
		if !it.CatchUp {
			return s.video.WriteSample(media.Sample{Data: it.Frame.AnnexB, Duration: it.Frame.Dur})
		}
		err := s.video.WriteSample(media.Sample{Data: it.Frame.AnnexB, Duration: catchUpDur})
		time.Sleep(time.Duration(float64(len(it.Frame.AnnexB)*8) / catchUpRate * float64(time.Second)))
		return err
	case it.Audio != nil && s.audio != nil:
		return s.audio.WriteSample(media.Sample{Data: it.Audio.Payload, Duration: it.Audio.Dur})
	}
	return nil
}

// End ends session id for user; admin may end anyone's.
func (r *Relay) End(id, user string, admin bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sessions[id]
	if !ok {
		return ErrNoSession
	}
	if s.user != user && !admin {
		return ErrNotYours
	}
	s.end()
	return nil
}

// Sessions is the number of live sessions.
func (r *Relay) Sessions() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sessions)
}

// SessionCamera returns the camera of session id.
func (r *Relay) SessionCamera(id string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sessions[id]
	if !ok {
		return "", false
	}
	return s.camera, true
}

// boundTrack is a sample track that says when pion has bound it to the connection: writes
// before that are silently dropped, and PeerConnectionStateConnected fires a moment earlier.
type boundTrack struct {
	*webrtc.TrackLocalStaticSample
	bound chan struct{}
	once  sync.Once
}

func newBoundTrack(c webrtc.RTPCodecCapability, id, stream string) (*boundTrack, error) {
	t, err := webrtc.NewTrackLocalStaticSample(c, id, stream)
	if err != nil {
		return nil, err
	}
	return &boundTrack{TrackLocalStaticSample: t, bound: make(chan struct{})}, nil
}

// Bind is called by pion when the track starts sending.
func (t *boundTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	p, err := t.TrackLocalStaticSample.Bind(ctx)
	if err == nil {
		t.once.Do(func() { close(t.bound) })
	}
	return p, err
}
