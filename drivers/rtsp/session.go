package rtsp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// session is one RTSP connection: negotiation, then the media loop. Its goroutines
// (keepalive, UDP readers) are owned by run and waited for in close.
type session struct {
	c   *Client
	nc  net.Conn
	wr  *wireReader
	d   *dispatcher
	log *slog.Logger

	wmu  sync.Mutex // guards writes, cseq, wbuf and auth
	cseq int
	wbuf []byte
	auth authenticator

	dmu       sync.Mutex // guards deadline changes against cancellation
	cancelled bool

	id       string // RTSP Session id
	timeout  time.Duration
	getParam bool
	playURL  string

	info         StreamInfo
	vch, ach     int // interleaved RTP channels, -1 when not set up
	vpkt, apkt   rtp.Packet
	depack       *h264Depacketizer
	vts, ats     tsUnwrapper
	sps, pps     []byte
	lastDeadline time.Time
	gotMedia     atomic.Bool // read by run while UDP readers write it
	playing      bool        // StatePlaying was reported
	earlyMedia   bool        // play frames that arrive before the PLAY response

	udpV, udpA *udpPair
	serverIP   netip.Addr // the RTSP peer: RTCP goes there
	sourceIP   netip.Addr // the source the camera declared in SETUP, if any

	ssrc           uint32 // ours, in receiver reports
	vstats, astats rtpStats

	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
}

func newSession(c *Client, nc net.Conn, d *dispatcher) *session {
	s := &session{c: c, nc: nc, wr: newWireReader(nc), d: d, log: c.log, vch: -1, ach: -1, ssrc: randomSSRC()}
	s.auth.user, s.auth.pass = c.user, c.pass
	s.depack = newH264Depacketizer(c.cfg.MaxAccessUnit, s.onAccessUnit)
	s.wr.onRequest = s.answerServerRequest
	if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
		s.serverIP = ap.Addr().Unmap()
	}
	return s
}

// run negotiates and plays until an error or ctx is done.
func (s *session) run(ctx context.Context, onTracks func(*StreamInfo)) (played bool, err error) {
	ctx, s.cancel = context.WithCancelCause(ctx)
	stop := context.AfterFunc(ctx, func() {
		s.dmu.Lock()
		s.cancelled = true
		_ = s.nc.SetDeadline(time.Now())
		s.dmu.Unlock()
	})
	defer stop()

	if err := s.negotiate(onTracks); err != nil {
		return s.gotMedia.Load(), s.cause(ctx, err)
	}
	s.startPlaying()

	s.wg.Add(1)
	go s.keepalive(ctx)
	if s.info.Transport == TransportUDP {
		s.startUDP(ctx)
		err = s.readControl()
	} else {
		err = s.readInterleaved()
	}
	return s.gotMedia.Load(), s.cause(ctx, err)
}

// startPlaying reports StatePlaying once per session, before the first frame.
func (s *session) startPlaying() {
	if s.playing {
		return
	}
	s.playing = true
	s.d.newSession()
	s.c.cnt.sessions.Add(1)
	info := s.info
	s.d.setState(StateEvent{State: StatePlaying, Stream: &info})
	s.log.Info("rtsp playing", "transport", s.info.Transport, "audio", s.info.Audio != nil)
}

// cause prefers the reason the session context was cancelled (media timeout, Run
// stopping) over the error it produced on the connection.
func (s *session) cause(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil {
		if errors.Is(c, context.DeadlineExceeded) {
			return fmt.Errorf("%w: %w", ErrTimeout, c)
		}
		return c
	}
	return err
}

func (s *session) negotiate(onTracks func(*StreamInfo)) error {
	resp, err := s.do("OPTIONS", s.c.wireURL, nil)
	var se *StatusError
	switch {
	case errors.As(err, &se): // some cameras refuse OPTIONS; carry on
	case err != nil:
		return err
	default:
		s.getParam = strings.Contains(strings.ToUpper(resp.Header.Get("Public")), "GET_PARAMETER")
	}

	resp, err = s.do("DESCRIBE", s.c.wireURL, Header{{"Accept", "application/sdp"}})
	if err != nil {
		return err
	}
	base := s.c.wireURL
	if cb := resp.Header.Get("Content-Base"); cb != "" {
		base = stripUserinfo(cb)
	} else if cl := resp.Header.Get("Content-Location"); cl != "" {
		base = resolveControl(s.c.wireURL, cl)
	}
	tracks, err := parseSDP(resp.Body, base)
	if err != nil {
		return fmt.Errorf("rtsp: describe: %w", err)
	}
	s.info = StreamInfo{Tracks: tracks, Transport: s.c.cfg.Transport}
	for i := range tracks {
		t := &tracks[i]
		switch {
		case t.Codec == CodecH264 && t.Playable && s.info.Video == nil:
			s.info.Video = t
		case (t.Codec == CodecPCMA || t.Codec == CodecPCMU) && t.Playable && s.info.Audio == nil:
			s.info.Audio = t
		}
	}
	if onTracks != nil {
		onTracks(&s.info)
	}
	if s.info.Video == nil {
		var codecs []string
		for _, t := range tracks {
			codecs = append(codecs, t.Media+" "+strings.ToLower(string(t.Codec)))
		}
		return fmt.Errorf("%w: the stream has [%s], no h264 video", ErrNoPlayableTrack, strings.Join(codecs, ", "))
	}
	s.playURL = base
	if v := s.info.Video; len(v.SPS) > 0 {
		s.sps, s.pps = v.SPS, v.PPS
	}

	if err := s.setup(s.info.Video, 0); err != nil {
		return err
	}
	if s.info.Audio != nil {
		if err := s.setup(s.info.Audio, 2); err != nil {
			if !errors.As(err, &se) {
				return err
			}
			s.log.Info("rtsp audio setup refused; playing video only", "err", err)
			s.info.Audio = nil
		}
	}
	// Over TCP a camera may send media before its PLAY response; those first packets
	// are often the keyframe a viewer is waiting for, so they are played, not skipped.
	s.earlyMedia = s.info.Transport == TransportTCP
	_, err = s.do("PLAY", s.playURL, Header{{"Range", "npt=0.000-"}})
	s.earlyMedia = false
	return err
}

// setup sends SETUP for a track; ch is the interleaved channel pair asked for.
func (s *session) setup(t *Track, ch int) error {
	var transport string
	var pair *udpPair
	if s.c.cfg.Transport == TransportUDP {
		var err error
		if pair, err = listenUDPPair(); err != nil {
			return err
		}
		if t.Media == "video" {
			s.udpV = pair
		} else {
			s.udpA = pair
		}
		transport = fmt.Sprintf("RTP/AVP;unicast;client_port=%d-%d", pair.port, pair.port+1)
	} else {
		transport = fmt.Sprintf("RTP/AVP/TCP;unicast;interleaved=%d-%d", ch, ch+1)
	}
	resp, err := s.do("SETUP", t.Control, Header{{"Transport", transport}})
	if err != nil {
		return err
	}
	if s.id == "" {
		sess := resp.Header.Get("Session")
		id, params, _ := strings.Cut(sess, ";")
		s.id = strings.TrimSpace(id)
		if s.id == "" {
			return fmt.Errorf("rtsp: setup: %w: no session id", ErrProtocol)
		}
		s.timeout = 60 * time.Second
		if _, v, ok := strings.Cut(params, "timeout="); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 && n < 3600 {
				s.timeout = time.Duration(n) * time.Second
			}
		}
	}
	tp := parseTransport(resp.Header.Get("Transport"))
	if pair != nil {
		if ip, err := netip.ParseAddr(tp["source"]); err == nil {
			s.sourceIP = ip.Unmap() // RTP may come from the camera's stated source
		}
		a, b, _ := strings.Cut(tp["server_port"], "-")
		rtcpPort, err := strconv.Atoi(b)
		if err != nil {
			rtcpPort, err = strconv.Atoi(a)
			rtcpPort++
		}
		if err == nil && rtcpPort > 0 && rtcpPort < 65536 && s.serverIP.IsValid() {
			pair.serverRTCP = netip.AddrPortFrom(s.serverIP, uint16(rtcpPort))
		}
		return nil
	}
	if v, ok := tp["interleaved"]; ok {
		a, _, _ := strings.Cut(v, "-")
		if n, err := strconv.Atoi(a); err == nil && n >= 0 && n < 255 {
			ch = n
		}
	}
	if t.Media == "video" {
		s.vch = ch
	} else {
		s.ach = ch
	}
	return nil
}

func parseTransport(v string) map[string]string {
	m := make(map[string]string)
	for i, p := range strings.Split(v, ";") {
		if i >= 16 {
			break
		}
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		m[strings.ToLower(k)] = val
	}
	return m
}

// do sends a request and reads its response, answering one authentication challenge
// (two when the camera says the nonce was stale). Used only before PLAY.
func (s *session) do(method, uri string, extra Header) (*Response, error) {
	for attempt := 0; ; attempt++ {
		if err := s.write(method, uri, extra); err != nil {
			return nil, classifyNetErr(strings.ToLower(method), err)
		}
		s.setReadDeadline(time.Now().Add(s.c.cfg.ConnectTimeout))
		resp, err := s.readResponse()
		if err != nil {
			return nil, classifyNetErr(strings.ToLower(method), err)
		}
		if resp.StatusCode == 401 && attempt < 2 && s.c.hasCred {
			s.wmu.Lock()
			retry := s.auth.challenge(resp.Header.Values("WWW-Authenticate"))
			s.wmu.Unlock()
			if retry {
				continue
			}
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return nil, statusErr(strings.ToLower(method), resp.StatusCode, resp.Reason)
		}
		return resp, nil
	}
}

// readResponse reads the next response. Interleaved frames before it are skipped,
// or played while earlyMedia is set.
func (s *session) readResponse() (*Response, error) {
	for {
		resp, ch, frame, err := s.wr.next()
		if err != nil || resp != nil {
			return resp, err
		}
		if s.earlyMedia {
			s.startPlaying()
			s.onFrame(ch, frame)
		}
	}
}

// write sends a request. It is safe for concurrent use (keepalive and teardown).
func (s *session) write(method, uri string, extra Header) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.cseq++
	h := make(Header, 0, 4+len(extra))
	h = append(h, HeaderField{"User-Agent", s.c.cfg.UserAgent})
	if a := s.auth.header(method, uri); a != "" {
		h = append(h, HeaderField{"Authorization", a})
	}
	if s.id != "" {
		h = append(h, HeaderField{"Session", s.id})
	}
	h = append(h, extra...)
	s.wbuf = appendRequest(s.wbuf[:0], method, uri, s.cseq, h, nil)
	s.dmu.Lock()
	if !s.cancelled {
		_ = s.nc.SetWriteDeadline(time.Now().Add(s.c.cfg.ConnectTimeout))
	}
	s.dmu.Unlock()
	_, err := s.nc.Write(s.wbuf)
	return err
}

func (s *session) setReadDeadline(t time.Time) {
	s.dmu.Lock()
	if !s.cancelled {
		_ = s.nc.SetReadDeadline(t)
	}
	s.dmu.Unlock()
}

// keepalive refreshes the RTSP session before the camera's timeout expires and sends
// RTCP receiver reports.
func (s *session) keepalive(ctx context.Context) {
	defer s.wg.Done()
	every := s.c.cfg.KeepaliveInterval
	if every <= 0 {
		every = min(s.timeout/2, 30*time.Second)
	}
	method := "OPTIONS"
	if s.getParam {
		method = "GET_PARAMETER"
	}
	t := time.NewTicker(every)
	defer t.Stop()
	rr := time.NewTicker(s.c.cfg.RTCPInterval)
	defer rr.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.write(method, s.playURL, nil); err != nil {
				s.cancel(classifyNetErr("keepalive", err))
				return
			}
		case <-rr.C:
			if err := s.sendReceiverReports(); err != nil {
				s.cancel(classifyNetErr("rtcp", err))
				return
			}
		}
	}
}

// answerServerRequest replies to a request the camera sent: OPTIONS and
// GET_PARAMETER (camera-side keepalives) get 200, anything else 501.
func (s *session) answerServerRequest(req *Request) {
	code, reason := 501, "Not Implemented"
	if req.Method == "OPTIONS" || req.Method == "GET_PARAMETER" {
		code, reason = 200, "OK"
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.wbuf = fmt.Appendf(s.wbuf[:0], "RTSP/1.0 %d %s\r\nCSeq: %s\r\nUser-Agent: %s\r\n\r\n",
		code, reason, sanitizeHeader(req.Header.Get("CSeq")), s.c.cfg.UserAgent)
	s.dmu.Lock()
	if !s.cancelled {
		_ = s.nc.SetWriteDeadline(time.Now().Add(s.c.cfg.ConnectTimeout))
	}
	s.dmu.Unlock()
	_, _ = s.nc.Write(s.wbuf) // a failed write shows up on the next read
}

// sanitizeHeader keeps a value the camera sent from injecting header lines.
func sanitizeHeader(v string) string {
	if i := strings.IndexAny(v, "\r\n"); i >= 0 {
		v = v[:i]
	}
	if len(v) > 32 {
		v = v[:32]
	}
	return v
}

// checkAsyncResponse handles a response read while playing (to a keepalive).
func (s *session) checkAsyncResponse(resp *Response) error {
	switch resp.StatusCode {
	case 454: // Session Not Found: the camera forgot us
		return statusErr("keepalive", resp.StatusCode, resp.Reason)
	}
	return nil
}

// readInterleaved is the TCP media loop.
func (s *session) readInterleaved() error {
	s.touchMedia(time.Now(), true)
	for {
		resp, ch, frame, err := s.wr.next()
		if err != nil {
			return classifyNetErr("read", err)
		}
		if resp != nil {
			if err := s.checkAsyncResponse(resp); err != nil {
				return err
			}
			continue
		}
		s.onFrame(ch, frame)
	}
}

// onFrame dispatches an interleaved frame by channel.
func (s *session) onFrame(ch uint8, frame []byte) {
	switch int(ch) {
	case s.vch:
		s.onVideoRTP(frame)
		s.touchMedia(time.Now(), false)
	case s.ach:
		s.onAudioRTP(frame)
	case s.vch + 1:
		s.onRTCP(&s.vstats, frame)
	case s.ach + 1:
		if s.ach >= 0 {
			s.onRTCP(&s.astats, frame)
		}
	}
}

// touchMedia pushes the read deadline forward when media arrives; responses to
// keepalives do not, so a camera that answers but sends no video is detected.
func (s *session) touchMedia(now time.Time, force bool) {
	rt := s.c.cfg.ReadTimeout
	if force || now.Sub(s.lastDeadline) > rt/8 {
		s.lastDeadline = now
		s.setReadDeadline(now.Add(rt))
	}
}

func (s *session) onVideoRTP(b []byte) {
	if err := s.vpkt.Unmarshal(b); err != nil || s.vpkt.PayloadType != s.info.Video.PayloadType {
		return
	}
	s.c.cnt.packets.Add(1)
	s.vstats.update(s.vpkt.SSRC, s.vpkt.SequenceNumber)
	s.gotMedia.Store(true)
	s.depack.push(s.vpkt.SequenceNumber, s.vpkt.Timestamp, s.vpkt.Marker, s.vpkt.Payload)
	if n := s.depack.drops; n > 0 {
		s.depack.drops = 0
		s.c.cnt.broken.Add(uint64(n))
	}
}

func (s *session) onAccessUnit(ts uint32, nalus [][]byte, lost bool) {
	for _, n := range nalus {
		switch n[0] & 0x1f {
		case nalSPS:
			if !bytes.Equal(n, s.sps) {
				s.sps = bytes.Clone(n)
			}
		case nalPPS:
			if !bytes.Equal(n, s.pps) {
				s.pps = bytes.Clone(n)
			}
		}
	}
	pts := s.vts.pts(ts, s.info.Video.ClockRate)
	s.d.postVideo(nalus, ts, pts, IsKeyframe(nalus), lost, s.sps, s.pps)
}

func (s *session) onAudioRTP(b []byte) {
	a := s.info.Audio
	if a == nil || s.apkt.Unmarshal(b) != nil || s.apkt.PayloadType != a.PayloadType || len(s.apkt.Payload) == 0 {
		return
	}
	s.c.cnt.packets.Add(1)
	s.astats.update(s.apkt.SSRC, s.apkt.SequenceNumber)
	s.d.postAudio(a, s.apkt.Payload, s.apkt.Timestamp, s.ats.pts(s.apkt.Timestamp, a.ClockRate))
}

// close stops the session's goroutines, sends TEARDOWN when a session was set up and
// closes the connection and sockets. It is safe after a partial start.
func (s *session) close() {
	if s.cancel != nil {
		s.cancel(context.Canceled)
	}
	s.udpV.close()
	s.udpA.close()
	s.wg.Wait()
	if s.id != "" {
		s.dmu.Lock()
		s.cancelled = false
		s.dmu.Unlock()
		_ = s.nc.SetWriteDeadline(time.Now().Add(time.Second))
		s.wmu.Lock()
		s.cseq++
		s.wbuf = appendRequest(s.wbuf[:0], "TEARDOWN", s.playURL, s.cseq, s.teardownHeader(), nil)
		s.wmu.Unlock()
		_, _ = s.nc.Write(s.wbuf)
	}
	_ = s.nc.Close()
}

func (s *session) teardownHeader() Header {
	h := Header{{"User-Agent", s.c.cfg.UserAgent}, {"Session", s.id}}
	if a := s.auth.header("TEARDOWN", s.playURL); a != "" {
		h = append(h, HeaderField{"Authorization", a})
	}
	return h
}
