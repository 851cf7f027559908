package rtsp

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pion/rtcp"
)

// rtpStats counts one track's reception for RTCP receiver reports (RFC 3550 A.3).
// Cameras that treat RTCP as liveness (live555-based ones, many NVRs) keep UDP
// sessions alive on it; it also tells the camera about loss.
type rtpStats struct {
	mu sync.Mutex
	rtpCounters
}

// rtpCounters is the state of rtpStats, reset when the SSRC changes.
type rtpCounters struct {
	started                      bool
	ssrc                         uint32
	baseSeq, maxSeq              uint16
	cycles                       uint32
	received                     uint32
	expectedPrior, receivedPrior uint32
	lsr                          uint32 // middle 32 bits of the last SR's NTP time
	lsrAt                        time.Time
}

func (r *rtpStats) update(ssrc uint32, seq uint16) {
	r.mu.Lock()
	switch {
	case !r.started || ssrc != r.ssrc:
		r.rtpCounters = rtpCounters{started: true, ssrc: ssrc, baseSeq: seq, maxSeq: seq}
	case seq-r.maxSeq < 0x8000 && seq != r.maxSeq: // in order, possibly after a gap
		if seq < r.maxSeq {
			r.cycles += 1 << 16
		}
		r.maxSeq = seq
	}
	r.received++
	r.mu.Unlock()
}

func (r *rtpStats) onSenderReport(sr *rtcp.SenderReport, now time.Time) {
	r.mu.Lock()
	if r.started && sr.SSRC == r.ssrc {
		r.lsr, r.lsrAt = uint32(sr.NTPTime>>16), now
	}
	r.mu.Unlock()
}

// report returns the reception report block, false before any packet.
func (r *rtpStats) report(now time.Time) (rtcp.ReceptionReport, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started {
		return rtcp.ReceptionReport{}, false
	}
	extMax := r.cycles + uint32(r.maxSeq)
	expected := extMax - uint32(r.baseSeq) + 1
	lost := max(min(int64(expected)-int64(r.received), 0x7fffff), 0)
	expInt, recInt := expected-r.expectedPrior, r.received-r.receivedPrior
	r.expectedPrior, r.receivedPrior = expected, r.received
	var fraction uint8
	if lostInt := int64(expInt) - int64(recInt); expInt > 0 && lostInt > 0 {
		fraction = uint8(lostInt << 8 / int64(expInt))
	}
	var dlsr uint32
	if r.lsr != 0 {
		dlsr = uint32(now.Sub(r.lsrAt).Seconds() * 65536)
	}
	return rtcp.ReceptionReport{SSRC: r.ssrc, FractionLost: fraction, TotalLost: uint32(lost),
		LastSequenceNumber: extMax, LastSenderReport: r.lsr, Delay: dlsr}, true
}

// onRTCP takes a compound RTCP packet from the camera; sender reports feed the
// receiver reports' LSR/DLSR. Malformed packets are ignored.
func (s *session) onRTCP(st *rtpStats, b []byte) {
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		return
	}
	for _, p := range pkts {
		if sr, ok := p.(*rtcp.SenderReport); ok {
			st.onSenderReport(sr, time.Now())
		}
	}
}

// sendReceiverReports sends one receiver report per playing track.
func (s *session) sendReceiverReports() error {
	now := time.Now()
	for _, tr := range []struct {
		st   *rtpStats
		ch   int
		pair *udpPair
	}{{&s.vstats, s.vch, s.udpV}, {&s.astats, s.ach, s.udpA}} {
		rep, ok := tr.st.report(now)
		if !ok {
			continue
		}
		rr := rtcp.ReceiverReport{SSRC: s.ssrc, Reports: []rtcp.ReceptionReport{rep}}
		b, err := rr.Marshal()
		if err != nil {
			continue
		}
		switch {
		case tr.pair != nil && tr.pair.serverRTCP.IsValid():
			_, _ = tr.pair.rtcp.WriteToUDPAddrPort(b, tr.pair.serverRTCP)
		case tr.ch >= 0:
			if err := s.writeFrame(tr.ch+1, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeFrame writes an interleaved frame on the RTSP connection.
func (s *session) writeFrame(ch int, b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.wbuf = append(s.wbuf[:0], '$', byte(ch), byte(len(b)>>8), byte(len(b)))
	s.wbuf = append(s.wbuf, b...)
	s.dmu.Lock()
	if !s.cancelled {
		_ = s.nc.SetWriteDeadline(time.Now().Add(s.c.cfg.ConnectTimeout))
	}
	s.dmu.Unlock()
	_, err := s.nc.Write(s.wbuf)
	return err
}

func randomSSRC() uint32 { return rand.Uint32() }
