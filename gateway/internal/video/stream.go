package video

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/community-edge/edge/drivers/rtsp"
	"github.com/community-edge/edge/gateway/internal/alarm/rules"
)

// event is one input to a stream's goroutine.
type event struct {
	frame *Frame
	audio *Audio
	state *rtsp.StateEvent
	join  *Viewer
	leave *Viewer
	gen   uint64 // the client generation a frame, audio packet or state comes from
}

// stream is one camera. Its goroutine (run) owns all of its state; others talk to it
// through in, and read its published status.
type stream struct {
	h       *Hub
	cam     Camera
	in      chan event
	stopped chan struct{} // closed when run returns
	pub     atomic.Pointer[Status]
	lastAt  atomic.Int64 // unix nanoseconds of the last frame, 0 before the first

	// owned by run
	viewers map[*Viewer]struct{}
	pending []*Viewer // joined before the camera's tracks were known
	gop     gop
	info    *rtsp.StreamInfo
	client  *clientRun
	gen     uint64
	opened  time.Time // when the current connection was opened
	playing bool
	idleAt  time.Time // close the camera at this time (zero: not idle)
	alarmed bool
}

// clientRun is one running RTSP client.
type clientRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func newStream(h *Hub, c Camera) *stream {
	s := &stream{h: h, cam: c, in: make(chan event, 64), stopped: make(chan struct{}), viewers: map[*Viewer]struct{}{}, gop: h.newGOP()}
	s.publish(time.Now())
	return s
}

func (s *stream) condition() string { return "camera_offline:" + s.cam.ID }

func (s *stream) run(ctx context.Context) {
	defer close(s.stopped)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	if s.cam.AlwaysOn {
		s.open(ctx)
	}
	defer func() {
		s.close()
		for v := range s.viewers {
			v.once.Do(func() { close(v.left) })
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-s.in:
			s.handle(ctx, ev)
		case now := <-tick.C:
			s.check(ctx, now)
		}
	}
}

func (s *stream) handle(ctx context.Context, ev event) {
	switch {
	case ev.join != nil:
		v := ev.join
		s.viewers[v] = struct{}{}
		s.idleAt = time.Time{}
		if s.client == nil {
			s.open(ctx)
		}
		if s.info != nil {
			v.info <- s.info
			if g := s.gop.get(); g != nil {
				for _, f := range g {
					v.offer(Item{Frame: f, CatchUp: true})
				}
			} else {
				v.needKey = true
			}
		} else {
			v.needKey = true
			s.pending = append(s.pending, v)
		}
	case ev.leave != nil:
		delete(s.viewers, ev.leave)
		for i, v := range s.pending {
			if v == ev.leave {
				s.pending = append(s.pending[:i], s.pending[i+1:]...)
				break
			}
		}
		if len(s.viewers) == 0 && !s.cam.AlwaysOn {
			s.idleAt = time.Now().Add(s.h.cfg.IdleGrace)
			if s.h.cfg.IdleGrace < 0 {
				s.close()
			}
		}
	case ev.gen != s.gen:
		// from a client already closed
	case ev.state != nil:
		s.onState(*ev.state)
	case ev.frame != nil:
		s.onFrame(ctx, ev.frame)
	case ev.audio != nil:
		for v := range s.viewers {
			v.offer(Item{Audio: ev.audio})
		}
	}
	s.publish(time.Now())
}

func (s *stream) onState(ev rtsp.StateEvent) {
	switch ev.State {
	case rtsp.StatePlaying:
		s.playing = true
		s.info = ev.Stream
		for _, v := range s.pending {
			v.info <- s.info
		}
		s.pending = nil
		s.h.log.Info("camera playing", "camera", s.cam.ID, "transport", ev.Stream.Transport)
	case rtsp.StateRetrying:
		s.playing = false
		s.gop.reset()
		s.h.log.Warn("camera connection lost", "camera", s.cam.ID, "err", ev.Err, "retry_in", ev.RetryIn)
	default:
		s.playing = false
	}
}

func (s *stream) onFrame(ctx context.Context, f *Frame) {
	s.lastAt.Store(f.Received.UnixNano())
	if s.alarmed {
		s.alarmed = false
		s.h.log.Info("camera back", "camera", s.cam.ID)
		if s.h.alarms != nil {
			if err := s.h.alarms.ClearLocal(ctx, s.condition()); err != nil {
				s.h.log.Error("clearing camera_offline", "camera", s.cam.ID, "err", err)
			}
		}
	}
	s.gop.add(f)
	for v := range s.viewers {
		v.offer(Item{Frame: f})
	}
}

// check closes an idle camera, and raises camera_offline for one that has sent nothing for
// OfflineAfter while connected.
func (s *stream) check(ctx context.Context, now time.Time) {
	if s.client != nil && !s.idleAt.IsZero() && now.After(s.idleAt) {
		s.h.log.Info("closing idle camera", "camera", s.cam.ID)
		s.close()
	}
	if s.client != nil && !s.alarmed {
		since := s.opened
		if at := s.lastAt.Load(); at > since.UnixNano() {
			since = time.Unix(0, at)
		}
		if now.Sub(since) > s.h.cfg.OfflineAfter {
			s.alarmed = true
			reason := "no connection"
			if s.playing {
				reason = "connected but no video"
			}
			s.h.log.Warn("camera offline", "camera", s.cam.ID, "since", since, "reason", reason)
			if s.h.alarms != nil {
				err := s.h.alarms.RaiseLocal(ctx, rules.TypeCameraOffline, rules.High, s.condition(), map[string]any{
					"camera": s.cam.ID, "name": s.cam.Name, "building": s.cam.Building, "reason": reason,
					"last_frame_ms": since.UnixMilli()})
				if err != nil {
					s.h.log.Error("raising camera_offline", "camera", s.cam.ID, "err", err)
				}
			}
		}
	}
	s.publish(now)
}

// open starts the RTSP client for the camera.
func (s *stream) open(ctx context.Context) {
	cfg := s.h.cfg.RTSP
	cfg.URL, cfg.Username, cfg.Password = s.cam.URL, s.cam.Username, s.cam.Password
	cfg.Logger = s.h.log.With("camera", s.cam.ID)
	s.gen++
	cctx, cancel := context.WithCancel(ctx)
	c, err := rtsp.New(cfg, &sink{s: s, gen: s.gen, ctx: cctx})
	if err != nil {
		cancel()
		s.h.log.Error("camera client", "camera", s.cam.ID, "err", err)
		return
	}
	r := &clientRun{cancel: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); c.Run(cctx) }()
	s.client, s.opened, s.playing = r, time.Now(), false
	s.h.log.Info("opening camera", "camera", s.cam.ID)
}

// close stops the RTSP client and forgets what it knew; the sink's blocked sends end with
// the client's context.
func (s *stream) close() {
	if s.client == nil {
		return
	}
	s.client.cancel()
	<-s.client.done
	s.client, s.info, s.playing, s.idleAt = nil, nil, false, time.Time{}
	s.gop.reset()
	s.publish(time.Now())
}

func (s *stream) publish(now time.Time) {
	st := &Status{ID: s.cam.ID, Name: s.cam.Name, Building: s.cam.Building, Viewers: len(s.viewers), State: StateIdle, Origin: s.cam.Origin}
	if s.info != nil && s.info.Audio != nil {
		st.Audio = string(s.info.Audio.Codec)
	}
	var age time.Duration = -1
	if at := s.lastAt.Load(); at != 0 {
		age = now.Sub(time.Unix(0, at))
	}
	switch {
	case s.alarmed:
		st.State = StateOffline
	case s.client == nil:
	case age >= 0 && age <= s.h.cfg.StaleAfter && s.playing:
		st.State = StateLive
	case !s.playing && now.Sub(s.opened) > s.h.cfg.StaleAfter:
		st.State = StateOffline
	case s.playing && now.Sub(s.opened) > s.h.cfg.StaleAfter:
		st.State = StateStale
	}
	s.pub.Store(st)
}

// status is the last published status with the frame age brought up to date.
func (s *stream) status() Status {
	st := *s.pub.Load()
	if at := s.lastAt.Load(); at != 0 {
		ms := time.Since(time.Unix(0, at)).Milliseconds()
		st.LastFrameAgeMS = &ms
		if st.State == StateLive && time.Duration(ms)*time.Millisecond > s.h.cfg.StaleAfter {
			st.State = StateStale
		}
	}
	return st
}

// sink turns the RTSP client's callbacks into events for the stream's goroutine. It copies
// what it keeps (the client reuses its buffers) and blocks while the stream is busy; the
// client drops to the next keyframe if that takes too long, so the camera is never delayed.
type sink struct {
	s       *stream
	ctx     context.Context // the client's: cancelled when the stream closes it
	gen     uint64
	lastPTS time.Duration
	lastDur time.Duration
	aPTS    time.Duration
	aDur    time.Duration
}

func (k *sink) send(ev event) {
	ev.gen = k.gen
	select {
	case k.s.in <- ev:
	case <-k.ctx.Done():
	}
}

func (k *sink) OnState(ev rtsp.StateEvent) { k.send(event{state: &ev}) }

func (k *sink) OnAccessUnit(au *rtsp.AccessUnit) {
	dur := au.PTS - k.lastPTS
	if au.Discontinuity || dur <= 0 || dur > time.Second {
		dur = k.lastDur
		if dur <= 0 {
			dur = 40 * time.Millisecond
		}
	}
	k.lastPTS, k.lastDur = au.PTS, dur
	n := 0
	for _, x := range au.NALUs {
		n += 4 + len(x)
	}
	f := &Frame{AnnexB: rtsp.AppendAnnexB(make([]byte, 0, n), au.NALUs), Keyframe: au.Keyframe, PTS: au.PTS, Dur: dur, Received: time.Now()}
	k.send(event{frame: f})
}

func (k *sink) OnAudio(p *rtsp.AudioPacket) {
	dur := p.PTS - k.aPTS
	if dur <= 0 || dur > time.Second {
		dur = time.Duration(len(p.Payload)) * time.Second / time.Duration(max(p.ClockRate, 1))
	}
	k.aPTS = p.PTS
	k.send(event{audio: &Audio{Payload: append([]byte(nil), p.Payload...), Dur: dur}})
}
