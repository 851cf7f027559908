package rtsp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// ProbeResult is what a camera stream turned out to be.
type ProbeResult struct {
	VideoCodec Codec  // "H264", "H265", ...; "" when the stream has no video
	Profile    string // e.g. "baseline", "main", "high" (from the SPS, else profile-level-id)
	Level      float64
	Width      int
	Height     int
	FrameRate  float64 // measured from RTP timestamps; from the SPS when too few frames
	// GOP is the number of frames from one keyframe to the next, 0 when fewer than two
	// keyframes arrived within the timeout.
	GOP           int
	AudioCodec    Codec // "" when the stream has no audio
	AudioPlayable bool  // false for AAC: WebRTC cannot carry it (not an error)
	Tracks        []Track
}

// Probe connects to url (credentials in the userinfo), plays until it has seen two
// keyframes or timeout passes, and reports what the stream is. Errors wrap
// ErrUnreachable, ErrUnauthorized, ErrNotFound, ErrNoPlayableTrack (with a result
// describing the tracks that are there) or ErrTimeout.
func Probe(ctx context.Context, url string, timeout time.Duration) (*ProbeResult, error) {
	return ProbeConfig(ctx, Config{URL: url}, timeout)
}

// ProbeConfig is Probe with a full client configuration (transport, credentials).
func ProbeConfig(ctx context.Context, cfg Config, timeout time.Duration) (*ProbeResult, error) {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("%w: probe gave up after %s", ErrTimeout, timeout))
	defer cancel()
	if cfg.ConnectTimeout <= 0 || cfg.ConnectTimeout > timeout {
		cfg.ConnectTimeout = timeout
	}
	if cfg.ReadTimeout <= 0 || cfg.ReadTimeout > timeout {
		cfg.ReadTimeout = timeout
	}
	p := &prober{done: cancel}
	c, err := New(cfg, p)
	if err != nil {
		return nil, err
	}
	d := newDispatcher(p, 8, &c.cnt)
	d.start()
	_, err = c.runSession(ctx, d, p.onTracks)
	d.stop()

	p.mu.Lock()
	defer p.mu.Unlock()
	res := p.res
	if res == nil {
		return nil, err
	}
	if p.finished {
		return res, nil
	}
	if errors.Is(err, ErrNoPlayableTrack) {
		return res, err
	}
	if p.keyframes > 0 && (errors.Is(err, ErrTimeout) || errors.Is(err, context.DeadlineExceeded)) {
		return res, nil // a keyframe arrived but the GOP is longer than the timeout
	}
	if err == nil {
		err = fmt.Errorf("%w: probe saw no keyframe", ErrTimeout)
	}
	return res, err
}

// prober is the Sink Probe plays into.
type prober struct {
	mu        sync.Mutex
	done      context.CancelFunc
	res       *ProbeResult
	keyframes int
	frames    int // since the first keyframe
	firstTS   uint32
	lastTS    uint32
	finished  bool
}

func (p *prober) onTracks(info *StreamInfo) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := &ProbeResult{Tracks: info.Tracks}
	for _, t := range info.Tracks {
		switch {
		case t.Media == "video" && r.VideoCodec == "":
			r.VideoCodec = t.Codec
		case t.Media == "audio" && r.AudioCodec == "":
			r.AudioCodec, r.AudioPlayable = t.Codec, t.Playable
		}
	}
	if v := info.Video; v != nil {
		r.VideoCodec = v.Codec
		p.applySPS(r, v.SPS)
		if r.Profile == "" && len(v.ProfileLevelID) == 6 {
			var b [3]byte
			fmt.Sscanf(v.ProfileLevelID, "%02x%02x%02x", &b[0], &b[1], &b[2])
			si := SPSInfo{Profile: b[0], Constraints: b[1], Level: b[2]}
			r.Profile, r.Level = si.ProfileName(), float64(b[2])/10
		}
	}
	if a := info.Audio; a != nil {
		r.AudioCodec, r.AudioPlayable = a.Codec, true
	}
	p.res = r
}

func (p *prober) applySPS(r *ProbeResult, sps []byte) {
	if len(sps) == 0 {
		return
	}
	si, err := ParseSPS(sps)
	if err != nil {
		return
	}
	r.Profile, r.Level = si.ProfileName(), float64(si.Level)/10
	r.Width, r.Height = si.Width, si.Height
	if r.FrameRate == 0 {
		r.FrameRate = si.FrameRate
	}
}

func (p *prober) OnState(StateEvent)   {}
func (p *prober) OnAudio(*AudioPacket) {}

func (p *prober) OnAccessUnit(au *AccessUnit) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished || p.res == nil {
		return
	}
	if au.Keyframe {
		p.keyframes++
		for _, n := range au.NALUs {
			if n[0]&0x1f == nalSPS {
				p.applySPS(p.res, n)
			}
		}
		if p.keyframes == 1 {
			p.firstTS = au.RTPTime
		} else {
			p.res.GOP = p.frames
			p.finished = true
		}
	}
	if p.keyframes == 0 {
		return
	}
	if p.frames > 0 && au.RTPTime != p.lastTS {
		if span := au.RTPTime - p.firstTS; span > 0 {
			p.res.FrameRate = float64(p.frames) * 90000 / float64(span)
		}
	}
	p.frames++
	p.lastTS = au.RTPTime
	if p.finished {
		p.res.FrameRate = roundRate(p.res.FrameRate)
		p.done()
	}
}

// roundRate rounds a measured frame rate to two decimals.
func roundRate(r float64) float64 { return float64(int(r*100+0.5)) / 100 }

// String is a one-line summary for logs and the installer's page.
func (r *ProbeResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %dx%d %.2f fps gop %d", strings.ToLower(string(r.VideoCodec)), r.Profile, r.Width, r.Height, r.FrameRate, r.GOP)
	if r.AudioCodec != "" {
		fmt.Fprintf(&b, ", audio %s", strings.ToLower(string(r.AudioCodec)))
		if !r.AudioPlayable {
			b.WriteString(" (not playable in webrtc)")
		}
	}
	return b.String()
}
