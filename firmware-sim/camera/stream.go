package camera

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
)

// Payload types and clock rates the camera uses.
const (
	videoPT    = 96
	audioPT    = 8 // PCMA, static
	videoClock = 90000
	audioClock = 8000
	maxPayload = 1400 // bytes of RTP payload per packet
	audioChunk = 160  // samples per audio packet (20 ms)
)

// packetize turns each frame into RTP payloads: small parameter-set/SEI NAL units are
// aggregated into STAP-A, slices go as single NAL units or FU-A fragments.
func packetize(frames []Frame) [][][]byte {
	out := make([][][]byte, len(frames))
	for i, f := range frames {
		var pl, small [][]byte
		smallLen := 1
		flush := func() {
			switch len(small) {
			case 0:
			case 1:
				pl = append(pl, small[0])
			default:
				stap := []byte{small[0][0]&0x60 | 24}
				for _, n := range small {
					stap = binary.BigEndian.AppendUint16(stap, uint16(len(n)))
					stap = append(stap, n...)
				}
				pl = append(pl, stap)
			}
			small, smallLen = small[:0], 1
		}
		for _, n := range f.NALUs {
			if typ := n[0] & 0x1f; typ >= 6 && typ <= 9 && len(n) < maxPayload/2 {
				if smallLen+2+len(n) > maxPayload {
					flush()
				}
				small = append(small, n)
				smallLen += 2 + len(n)
				continue
			}
			flush()
			if len(n) <= maxPayload {
				pl = append(pl, n)
				continue
			}
			hdr, body := n[0], n[1:]
			for start := true; len(body) > 0; start = false {
				k := min(len(body), maxPayload-2)
				fu := []byte{hdr&0xe0 | 28, hdr & 0x1f}
				if start {
					fu[1] |= 0x80
				}
				if k == len(body) {
					fu[1] |= 0x40
				}
				pl = append(pl, append(fu, body[:k]...))
				body = body[k:]
			}
		}
		flush()
		out[i] = pl
	}
	return out
}

// packet is one RTP or RTCP packet on its way to the clients. data is shared by every
// client and never modified.
type packet struct {
	audio bool
	rtcp  bool
	data  []byte
}

// stream plays one clip to every client subscribed on its path; it owns the RTP state
// (sequence numbers and timestamps continue across loops of the clip).
type stream struct {
	clip     *Clip
	payloads [][][]byte
	frozen   *atomic.Bool

	ssrcV, ssrcA uint32

	mu   sync.Mutex
	subs map[*client]struct{}
	// starting holds clients whose video starts at the next keyframe: like many IP cameras, a
	// new session never begins with frames that reference a picture it did not get.
	starting map[*client]bool
	seqV     uint16
	seqA     uint16
	tsV      uint32 // timestamp of the next video frame
	tsA      uint32
	pktV     uint32
	octV     uint32
	pktA     uint32
	octA     uint32
	frames   int
}

func newStream(c *Clip, frozen *atomic.Bool) *stream {
	return &stream{
		clip:     c,
		frozen:   frozen,
		payloads: packetize(c.Frames),
		ssrcV:    rand.Uint32(),
		ssrcA:    rand.Uint32(),
		seqV:     uint16(rand.Uint32()),
		seqA:     uint16(rand.Uint32()),
		tsV:      rand.Uint32(),
		tsA:      rand.Uint32(),
		subs:     make(map[*client]struct{}),
		starting: make(map[*client]bool),
	}
}

func (s *stream) subscribe(c *client) (seqV uint16, tsV uint32, seqA uint16, tsA uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs[c] = struct{}{}
	s.starting[c] = true
	return s.seqV, s.tsV, s.seqA, s.tsA
}

func (s *stream) unsubscribe(c *client) {
	s.mu.Lock()
	delete(s.subs, c)
	delete(s.starting, c)
	s.mu.Unlock()
}

// run paces the clip in real time until ctx is done.
func (s *stream) run(ctx context.Context) {
	frameDur := time.Second / time.Duration(s.clip.FPS)
	tick := time.NewTicker(frameDur)
	defer tick.Stop()
	start := time.Now()
	lastSR := start
	audioSent := 0 // samples
	audioPos := 0
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			// catch up on frames that are due (timer jitter)
			due := int(now.Sub(start)/frameDur) + 1
			for s.frames < due {
				s.sendFrame()
			}
			if len(s.clip.Audio) >= audioChunk {
				for dueA := int(now.Sub(start) * audioClock / time.Second); audioSent+audioChunk <= dueA; audioSent += audioChunk {
					if audioPos+audioChunk > len(s.clip.Audio) {
						audioPos = 0
					}
					s.sendAudio(s.clip.Audio[audioPos : audioPos+audioChunk])
					audioPos += audioChunk
				}
			}
			if now.Sub(lastSR) >= time.Second {
				lastSR = now
				s.sendReports(now)
			}
		}
	}
}

func (s *stream) sendFrame() {
	pl := s.payloads[s.frames%len(s.payloads)]
	key := s.clip.Frames[s.frames%len(s.clip.Frames)].Key
	s.mu.Lock()
	defer s.mu.Unlock()
	if key {
		clear(s.starting)
	}
	for i, p := range pl {
		b := rtpHeader(videoPT, i == len(pl)-1, s.seqV, s.tsV, s.ssrcV, len(p))
		b = append(b, p...)
		s.seqV++
		s.pktV++
		s.octV += uint32(len(p))
		s.broadcastVideo(packet{data: b})
	}
	s.frames++
	s.tsV += uint32(videoClock / s.clip.FPS)
}

func (s *stream) sendAudio(samples []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := rtpHeader(audioPT, false, s.seqA, s.tsA, s.ssrcA, len(samples))
	b = append(b, samples...)
	s.seqA++
	s.tsA += uint32(len(samples))
	s.pktA++
	s.octA += uint32(len(samples))
	s.broadcast(packet{audio: true, data: b})
}

// sendReports sends an RTCP sender report per track, mapping wall-clock time to the
// RTP time of the next packet.
func (s *stream) sendReports(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ntp := ntpTime(now)
	sr := rtcp.SenderReport{SSRC: s.ssrcV, NTPTime: ntp, RTPTime: s.tsV, PacketCount: s.pktV, OctetCount: s.octV}
	if b, err := sr.Marshal(); err == nil {
		s.broadcast(packet{rtcp: true, data: b})
	}
	if len(s.clip.Audio) >= audioChunk {
		sr = rtcp.SenderReport{SSRC: s.ssrcA, NTPTime: ntp, RTPTime: s.tsA, PacketCount: s.pktA, OctetCount: s.octA}
		if b, err := sr.Marshal(); err == nil {
			s.broadcast(packet{audio: true, rtcp: true, data: b})
		}
	}
}

// broadcast offers p to every client without blocking; s.mu is held.
func (s *stream) broadcast(p packet) {
	if s.frozen.Load() {
		return
	}
	for c := range s.subs {
		c.offer(p)
	}
}

// broadcastVideo offers a video packet to every client whose video has started.
func (s *stream) broadcastVideo(p packet) {
	if s.frozen.Load() {
		return
	}
	for c := range s.subs {
		if !s.starting[c] {
			c.offer(p)
		}
	}
}

func rtpHeader(pt uint8, marker bool, seq uint16, ts, ssrc uint32, payload int) []byte {
	b := make([]byte, 12, 12+payload)
	b[0] = 0x80
	b[1] = pt
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	return b
}

func ntpTime(t time.Time) uint64 {
	const ntpEpochOffset = 2208988800
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}
