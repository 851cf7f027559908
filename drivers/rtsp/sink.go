package rtsp

import (
	"sync"
	"sync/atomic"
	"time"
)

// Sink receives what a Client reads.
//
// Contract: a Client calls the Sink from one delivery goroutine of its own, never from
// the network reader, one call at a time, in order (a state event that precedes a frame
// on the wire is delivered before it). The network reader hands frames to that
// goroutine through a fixed pool of buffers (Config.Buffer); when the pool is exhausted
// because the Sink is slow, frames are dropped (counted in Stats.Dropped), never
// queued without bound, and video resumes at the next keyframe with Discontinuity set.
// So a slow or stuck Sink costs frames, never the RTSP session. State events are never
// dropped, but consecutive ones may be coalesced while the Sink is busy: the latest
// state is always delivered. Run returns only after the Sink's last call has returned.
//
// Ownership: the *AccessUnit, *AudioPacket and every byte slice they reference are
// valid only until the call returns; the buffers are then reused. A Sink that keeps
// data (a GOP cache) must copy it.
type Sink interface {
	// OnState reports a connection state change.
	OnState(StateEvent)
	// OnAccessUnit receives one complete H.264 access unit.
	OnAccessUnit(*AccessUnit)
	// OnAudio receives the payload of one audio RTP packet (G.711 samples).
	OnAudio(*AudioPacket)
}

// State is the state of a Client's connection to its camera.
type State int

// States, in the order a healthy connection goes through them.
const (
	StateConnecting State = iota + 1 // dialing and negotiating
	StatePlaying                     // media is flowing
	StateRetrying                    // the session ended; waiting before the next attempt
	StateStopped                     // Run is returning
)

func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StatePlaying:
		return "playing"
	case StateRetrying:
		return "retrying"
	case StateStopped:
		return "stopped"
	}
	return "unknown"
}

// StateEvent is one state change.
type StateEvent struct {
	State State
	// Stream describes the negotiated tracks (StatePlaying only).
	Stream *StreamInfo
	// Err is why the last session ended (StateRetrying), nil otherwise.
	Err error
	// RetryIn is the wait before the next attempt (StateRetrying).
	RetryIn time.Duration
}

// StreamInfo describes a playing session.
type StreamInfo struct {
	Tracks    []Track // every track of the SDP, playable or not
	Video     *Track  // the H.264 track being played
	Audio     *Track  // the G.711 track being played, nil if none
	Transport Transport
}

// AccessUnit is one H.264 frame: every NAL unit of one RTP timestamp, without start
// codes. A keyframe always carries the current SPS and PPS before its first slice: the
// camera's own in-band copies, or, when it does not repeat them, copies from the SDP or
// an earlier in-band copy inserted at the front.
type AccessUnit struct {
	NALUs    [][]byte
	RTPTime  uint32        // the camera's RTP timestamp (90 kHz)
	PTS      time.Duration // since the first frame of this session, unwrapped
	Keyframe bool          // contains an IDR slice
	// Discontinuity: frames were lost or dropped before this one, or this is the
	// first frame of a new session (after a reconnect PTS restarts at zero).
	Discontinuity bool
}

// AudioPacket is the payload of one audio RTP packet.
type AudioPacket struct {
	Codec     Codec
	ClockRate int
	Payload   []byte
	RTPTime   uint32
	PTS       time.Duration
}

// Stats are a Client's counters since it was created.
type Stats struct {
	Packets     uint64 // RTP packets received
	AccessUnits uint64 // access units delivered to the Sink
	Keyframes   uint64 // keyframes delivered
	Audio       uint64 // audio packets delivered
	Dropped     uint64 // frames or audio packets dropped because the Sink was slow
	Broken      uint64 // access units discarded because packets were lost or malformed
	Sessions    uint64 // sessions that reached StatePlaying
}

type counters struct {
	packets, accessUnits, keyframes, audio, dropped, broken, sessions atomic.Uint64
}

// slot is one reusable delivery buffer.
type slot struct {
	audio bool
	au    AccessUnit
	pkt   AudioPacket
	buf   []byte
	nalus [][]byte
}

// dispatcher moves frames from the network reader to the Sink without ever blocking
// the reader (see Sink).
type dispatcher struct {
	sink  Sink
	cnt   *counters
	free  chan *slot
	ready chan *slot

	stateMu  sync.Mutex
	state    *StateEvent
	stateSig chan struct{}

	needKey atomic.Bool // video dropped: skip until the next keyframe
	disc    atomic.Bool // mark the next delivered frame as a discontinuity

	done chan struct{}
	wg   sync.WaitGroup
}

func newDispatcher(sink Sink, n int, cnt *counters) *dispatcher {
	d := &dispatcher{
		sink:     sink,
		cnt:      cnt,
		free:     make(chan *slot, n),
		ready:    make(chan *slot, n),
		stateSig: make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	for range n {
		d.free <- &slot{}
	}
	return d
}

func (d *dispatcher) start() {
	d.wg.Add(1)
	go d.loop()
}

// stop delivers the pending state, if any, and waits for the delivery goroutine.
func (d *dispatcher) stop() {
	close(d.done)
	d.wg.Wait()
}

func (d *dispatcher) loop() {
	defer d.wg.Done()
	for {
		select {
		case s := <-d.ready:
			d.deliverState() // a state posted before this frame goes first
			if s.audio {
				d.sink.OnAudio(&s.pkt)
			} else {
				d.sink.OnAccessUnit(&s.au)
			}
			d.free <- s
		case <-d.stateSig:
			d.deliverState()
		case <-d.done:
			d.deliverState()
			return
		}
	}
}

func (d *dispatcher) setState(ev StateEvent) {
	d.stateMu.Lock()
	d.state = &ev
	d.stateMu.Unlock()
	select {
	case d.stateSig <- struct{}{}:
	default:
	}
}

func (d *dispatcher) deliverState() {
	d.stateMu.Lock()
	ev := d.state
	d.state = nil
	d.stateMu.Unlock()
	if ev != nil {
		d.sink.OnState(*ev)
	}
}

// newSession marks the next frame as a discontinuity and waits for a keyframe.
func (d *dispatcher) newSession() {
	d.needKey.Store(true)
	d.disc.Store(true)
}

// postVideo copies an access unit into a free slot and queues it. sps and pps are
// inserted before a keyframe that lacks them. It never blocks.
func (d *dispatcher) postVideo(nalus [][]byte, rtpTime uint32, pts time.Duration, key, lost bool, sps, pps []byte) {
	if lost {
		d.disc.Store(true)
	}
	if !key && d.needKey.Load() {
		d.cnt.dropped.Add(1)
		return
	}
	var s *slot
	select {
	case s = <-d.free:
	default:
		d.cnt.dropped.Add(1)
		d.needKey.Store(true)
		d.disc.Store(true)
		return
	}
	var hasSPS, hasPPS bool
	total := 0
	for _, n := range nalus {
		total += len(n)
		if len(n) == 0 {
			continue
		}
		switch n[0] & 0x1f {
		case nalSPS:
			hasSPS = true
		case nalPPS:
			hasPPS = true
		}
	}
	var extra [2][]byte
	ne := 0
	if key && !hasSPS && len(sps) > 0 {
		extra[ne] = sps
		ne++
	}
	if key && !hasPPS && len(pps) > 0 {
		extra[ne] = pps
		ne++
	}
	for _, n := range extra[:ne] {
		total += len(n)
	}
	if cap(s.buf) < total {
		s.buf = make([]byte, 0, total+total/4)
	}
	s.buf, s.nalus = s.buf[:0], s.nalus[:0]
	appendOne := func(n []byte) {
		start := len(s.buf)
		s.buf = append(s.buf, n...)
		s.nalus = append(s.nalus, s.buf[start:len(s.buf):len(s.buf)])
	}
	for _, n := range extra[:ne] {
		appendOne(n)
	}
	for _, n := range nalus {
		appendOne(n)
	}
	s.audio = false
	s.au = AccessUnit{NALUs: s.nalus, RTPTime: rtpTime, PTS: pts, Keyframe: key, Discontinuity: d.disc.Swap(false)}
	d.needKey.Store(false)
	d.cnt.accessUnits.Add(1)
	if key {
		d.cnt.keyframes.Add(1)
	}
	d.ready <- s // never blocks: ready has room for every slot
}

// postAudio copies an audio payload into a free slot and queues it. It never blocks.
func (d *dispatcher) postAudio(t *Track, payload []byte, rtpTime uint32, pts time.Duration) {
	var s *slot
	select {
	case s = <-d.free:
	default:
		d.cnt.dropped.Add(1)
		return
	}
	s.buf = append(s.buf[:0], payload...)
	s.audio = true
	s.pkt = AudioPacket{Codec: t.Codec, ClockRate: t.ClockRate, Payload: s.buf, RTPTime: rtpTime, PTS: pts}
	d.cnt.audio.Add(1)
	d.ready <- s
}

// tsUnwrapper turns 32-bit RTP timestamps into a duration since the first one.
type tsUnwrapper struct {
	started bool
	first   uint32
	last    uint32
	ext     int64 // unwrapped last - first
}

func (u *tsUnwrapper) pts(ts uint32, clock int) time.Duration {
	if clock <= 0 {
		return 0
	}
	if !u.started {
		u.started, u.first, u.last = true, ts, ts
		return 0
	}
	u.ext += int64(int32(ts - u.last))
	u.last = ts
	return time.Duration(u.ext * int64(time.Second) / int64(clock))
}
