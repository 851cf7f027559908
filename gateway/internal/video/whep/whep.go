// Package whep is a WHEP viewer built on pion: it plays a camera from the gateway and counts
// what arrives (decodable H.264 frames, SPS/PPS/IDR, packet loss, time to first frame). The
// end-to-end tests and the video benchmark use it in place of a browser.
package whep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v3"
)

// Stats is what a viewer has received so far.
type Stats struct {
	Frames     int           // decodable H.264 access units: whole, and from a keyframe on
	Keyframes  int           // of those, frames holding an IDR slice
	SPS, PPS   int           // frames holding an SPS / a PPS
	FirstFrame time.Duration // from the offer to the first complete keyframe; 0 before it
	FirstIDRok bool          // the first frame was an IDR with SPS and PPS before it
	Answered   time.Duration // from the offer to the answer
	Connected  time.Duration // from the offer to ICE and DTLS up
	Lost       int           // RTP packets missing (sequence gaps)
	PLIs       int           // keyframe requests sent (as a browser does when it cannot decode)
	Audio      int           // audio packets
	Status     string        // the last message on the "status" data channel
	LastFrame  time.Time
	LastKey    time.Time // when the last keyframe arrived
	LastTS     int64     // RTP timestamp (90 kHz) of the last frame, unwrapped
}

// Viewer is one WHEP session.
type Viewer struct {
	Location string
	base     string
	auth     func(*http.Request)
	pc       *webrtc.PeerConnection
	start    time.Time
	mu       sync.Mutex
	st       Stats
	wg       sync.WaitGroup
}

// Dial offers to play camera at base ("http://host:port") with auth setting the request's
// credentials, and returns once the answer is applied. Close ends the session.
func Dial(ctx context.Context, base, camera string, auth func(*http.Request)) (*Viewer, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("whep: %w", err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetDTLSRetransmissionInterval(100 * time.Millisecond)
	// The gateway's check often arrives before its answer is applied, so its address is first
	// known as peer-reflexive, which pion accepts only after a second by default: joins then
	// measured that second (connected after 1.03 s) instead of the relay.
	se.SetPrflxAcceptanceMinWait(0)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("whep: %w", err)
	}
	v := &Viewer{base: base, auth: auth, pc: pc}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			pc.Close()
			return nil, fmt.Errorf("whep: %w", err)
		}
	}
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		v.wg.Add(1)
		defer v.wg.Done()
		if t.Kind() == webrtc.RTPCodecTypeVideo {
			v.readVideo(t)
		} else {
			v.readAudio(t)
		}
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			v.mu.Lock()
			v.st.Connected = time.Since(v.start)
			v.mu.Unlock()
		}
	})
	dc, err := pc.CreateDataChannel("status", nil)
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("whep: %w", err)
	}
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		v.mu.Lock()
		v.st.Status = string(m.Data)
		v.mu.Unlock()
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("whep: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		pc.Close()
		return nil, fmt.Errorf("whep: %w", err)
	}
	<-gathered
	v.start = time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/cameras/"+camera+"/whep", strings.NewReader(pc.LocalDescription().SDP))
	req.Header.Set("Content-Type", "application/sdp")
	if auth != nil {
		auth(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("whep: %w", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		pc.Close()
		return nil, &StatusError{Code: resp.StatusCode, Body: string(body)}
	}
	v.mu.Lock()
	v.st.Answered = time.Since(v.start)
	v.mu.Unlock()
	v.Location = resp.Header.Get("Location")
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
		pc.Close()
		return nil, fmt.Errorf("whep: answer: %w", err)
	}
	return v, nil
}

// StatusError is a refused offer.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string { return fmt.Sprintf("whep: status %d: %s", e.Code, e.Body) }

// Stats returns what has arrived so far.
func (v *Viewer) Stats() Stats {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.st
}

// WaitFrames waits until n frames have arrived or ctx is done.
func (v *Viewer) WaitFrames(ctx context.Context, n int) error {
	for {
		if v.Stats().Frames >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("whep: %d of %d frames: %w", v.Stats().Frames, n, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Close sends DELETE to the session's location (when del) and closes the peer connection.
func (v *Viewer) Close(del bool) error {
	var err error
	if del && v.Location != "" {
		req, _ := http.NewRequest(http.MethodDelete, v.base+v.Location, nil)
		if v.auth != nil {
			v.auth(req)
		}
		resp, e := http.DefaultClient.Do(req)
		if e != nil {
			err = e
		} else {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = &StatusError{Code: resp.StatusCode}
			}
		}
	}
	err = errors.Join(err, v.pc.Close())
	v.wg.Wait()
	return err
}

func (v *Viewer) readVideo(t *webrtc.TrackRemote) {
	var (
		dep      codecs.H264Packet
		frame    []byte
		lastSeq  uint16
		haveSeq  bool
		pkt      = &rtp.Packet{}
		buf      = make([]byte, 1600)
		corrupt  bool
		firstKey bool
		needKey  = true // nothing decodable since the start or the last loss
		params   bool   // SPS and PPS seen
		inFrame  bool   // a packet of the current frame came
		lastPLI  time.Time
		ts       tsUnwrap
	)
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		if haveSeq && pkt.SequenceNumber != lastSeq+1 {
			gap := int(pkt.SequenceNumber - lastSeq - 1)
			if gap > 0 && gap < 1000 {
				v.mu.Lock()
				v.st.Lost += gap
				v.mu.Unlock()
				corrupt = true
			}
		}
		lastSeq, haveSeq = pkt.SequenceNumber, true
		if !inFrame && continuation(pkt.Payload) {
			corrupt = true // the frame's first packets never came (they went before SRTP was up)
		}
		nal, err := dep.Unmarshal(pkt.Payload)
		if err != nil {
			corrupt = true
		}
		frame, inFrame = append(frame, nal...), true
		if !pkt.Marker {
			continue
		}
		sps, pps, idr := scan(frame)
		switch {
		case corrupt:
			needKey = true
		case idr:
			params = params || sps && pps
			needKey = !params
		}
		if needKey && time.Since(lastPLI) >= pliEvery {
			lastPLI = time.Now()
			v.requestKeyframe(t.SSRC())
		}
		v.mu.Lock()
		if !corrupt && !needKey && len(frame) > 0 {
			v.st.Frames++
			v.st.LastFrame = time.Now()
			v.st.LastTS = ts.next(pkt.Timestamp)
			if sps {
				v.st.SPS++
			}
			if pps {
				v.st.PPS++
			}
			if idr {
				v.st.Keyframes++
				v.st.LastKey = v.st.LastFrame
				if !firstKey {
					firstKey = true
					v.st.FirstFrame = time.Since(v.start)
					v.st.FirstIDRok = sps && pps
				}
			}
		}
		v.mu.Unlock()
		frame, corrupt, inFrame = frame[:0], false, false
	}
}

// RequestKeyframe asks the gateway for a keyframe (an RTCP picture loss indication), as a
// browser does when it cannot decode.
func (v *Viewer) RequestKeyframe() error {
	for _, r := range v.pc.GetReceivers() {
		if t := r.Track(); t != nil && t.Kind() == webrtc.RTPCodecTypeVideo {
			return v.requestKeyframe(t.SSRC())
		}
	}
	return errors.New("whep: no video track yet")
}

func (v *Viewer) requestKeyframe(ssrc webrtc.SSRC) error {
	if err := v.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(ssrc)}}); err != nil {
		return fmt.Errorf("whep: keyframe request: %w", err)
	}
	v.mu.Lock()
	v.st.PLIs++
	v.mu.Unlock()
	return nil
}

// pliEvery is how often a viewer that cannot decode asks again for a keyframe.
const pliEvery = 100 * time.Millisecond

func (v *Viewer) readAudio(t *webrtc.TrackRemote) {
	buf := make([]byte, 1600)
	for {
		if _, _, err := t.Read(buf); err != nil {
			return
		}
		v.mu.Lock()
		v.st.Audio++
		v.mu.Unlock()
	}
}

// scan reports whether an Annex-B frame holds an SPS, a PPS and an IDR slice (with SPS and
// PPS before the IDR).
func scan(b []byte) (sps, pps, idr bool) {
	for i := 0; i+3 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			switch b[i+3] & 0x1f {
			case 7:
				sps = true
			case 8:
				pps = true
			case 5:
				idr = true
				return
			}
			i += 2
		}
	}
	return
}

// continuation reports whether an H.264 RTP payload is a fragment (FU-A) other than the first
// of its NAL unit.
func continuation(p []byte) bool {
	return len(p) > 1 && p[0]&0x1f == 28 && p[1]&0x80 == 0
}

// tsUnwrap extends 32-bit RTP timestamps.
type tsUnwrap struct {
	started bool
	last    uint32
	ext     int64
}

func (u *tsUnwrap) next(ts uint32) int64 {
	if u.started {
		u.ext += int64(int32(ts - u.last))
	}
	u.started, u.last = true, ts
	return u.ext
}
