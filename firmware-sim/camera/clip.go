// Package camera is a simulated IP camera: an RTSP 1.0 server that loops an H.264
// clip (and optional G.711 A-law audio) on several paths, with Digest or Basic
// authentication, RTP over TCP interleaved or UDP, RTCP sender reports and per-client
// sessions. Tests start, stop and restart it on a free port (Start, Instance.Stop).
package camera

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// Frame is one access unit of the clip: NAL units without start codes.
type Frame struct {
	NALUs [][]byte
	Key   bool // contains an IDR slice
}

// Clip is a looping H.264 elementary stream with optional A-law audio.
type Clip struct {
	FPS      int
	Frames   []Frame
	SPS, PPS []byte
	// Audio is raw G.711 A-law, 8 kHz mono; nil for a video-only camera.
	Audio []byte
}

// LoadClip reads an Annex-B H.264 file and, if audioPath is not empty, a raw A-law
// file. The clip must begin with a keyframe carrying SPS and PPS.
func LoadClip(videoPath, audioPath string, fps int) (*Clip, error) {
	data, err := os.ReadFile(videoPath)
	if err != nil {
		return nil, fmt.Errorf("camera: clip: %w", err)
	}
	c, err := ParseAnnexB(data, fps)
	if err != nil {
		return nil, err
	}
	if audioPath != "" {
		if c.Audio, err = os.ReadFile(audioPath); err != nil {
			return nil, fmt.Errorf("camera: clip audio: %w", err)
		}
	}
	return c, nil
}

// ParseAnnexB splits an Annex-B stream into access units.
func ParseAnnexB(data []byte, fps int) (*Clip, error) {
	if fps <= 0 || fps > 120 {
		return nil, fmt.Errorf("camera: clip: frame rate %d out of range", fps)
	}
	c := &Clip{FPS: fps}
	var cur Frame
	hasVCL := false
	flush := func() {
		if len(cur.NALUs) > 0 && hasVCL {
			c.Frames = append(c.Frames, cur)
		}
		cur, hasVCL = Frame{}, false
	}
	for _, n := range splitAnnexB(data) {
		typ := n[0] & 0x1f
		vcl := typ >= 1 && typ <= 5
		firstSlice := vcl && len(n) > 1 && n[1]&0x80 != 0 // first_mb_in_slice == 0
		if hasVCL && (!vcl || firstSlice) {
			flush()
		}
		switch typ {
		case 7:
			if c.SPS == nil {
				c.SPS = n
			}
		case 8:
			if c.PPS == nil {
				c.PPS = n
			}
		case 5:
			cur.Key = true
		}
		cur.NALUs = append(cur.NALUs, n)
		hasVCL = hasVCL || vcl
	}
	flush()
	switch {
	case len(c.Frames) == 0:
		return nil, errors.New("camera: clip: no frames")
	case c.SPS == nil || c.PPS == nil:
		return nil, errors.New("camera: clip: no sps/pps")
	case !c.Frames[0].Key:
		return nil, errors.New("camera: clip: does not start with a keyframe")
	}
	return c, nil
}

func splitAnnexB(b []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i+2 < len(b); {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				out = appendNAL(out, b[start:i])
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 && start < len(b) {
		out = appendNAL(out, b[start:])
	}
	return out
}

func appendNAL(out [][]byte, n []byte) [][]byte {
	n = bytes.TrimRight(n, "\x00") // trailing zero of a 4-byte start code
	if len(n) > 0 {
		out = append(out, n)
	}
	return out
}

// ClipSpec describes a test clip to generate with ffmpeg.
type ClipSpec struct {
	Width, Height int
	FPS           int
	GOP           int     // frames from one keyframe to the next
	Seconds       float64 // clip length; the camera loops it
	Bitrate       string  // e.g. "2M"
	Audio         bool    // also write 8 kHz A-law audio of the same length
}

// GenerateClip writes <dir>/<W>x<H>.h264 (Annex-B, baseline, no B-frames) and, with
// Audio, <dir>/<W>x<H>.alaw, using the ffmpeg found in PATH.
func GenerateClip(ctx context.Context, dir string, s ClipSpec) (videoPath, audioPath string, err error) {
	if s.FPS <= 0 || s.GOP <= 0 || s.Width <= 0 || s.Height <= 0 || s.Seconds <= 0 {
		return "", "", errors.New("camera: clip spec: width, height, fps, gop and seconds must be positive")
	}
	if s.Bitrate == "" {
		s.Bitrate = "2M"
	}
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return "", "", fmt.Errorf("camera: clip: ffmpeg is required: %w", err)
	}
	base := filepath.Join(dir, fmt.Sprintf("%dx%d", s.Width, s.Height))
	videoPath = base + ".h264"
	secs := strconv.FormatFloat(s.Seconds, 'f', -1, 64)
	args := []string{"-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", s.Width, s.Height, s.FPS),
		"-t", secs, "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline", "-pix_fmt", "yuv420p",
		"-g", strconv.Itoa(s.GOP), "-keyint_min", strconv.Itoa(s.GOP), "-sc_threshold", "0", "-bf", "0",
		"-b:v", s.Bitrate, "-threads", "1", "-f", "h264", videoPath}
	if out, err := exec.CommandContext(ctx, ffmpeg, args...).CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("camera: clip: ffmpeg: %w: %s", err, out)
	}
	if s.Audio {
		audioPath = base + ".alaw"
		args := []string{"-hide_banner", "-loglevel", "error", "-y",
			"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000", "-t", secs,
			"-ar", "8000", "-ac", "1", "-f", "alaw", audioPath}
		if out, err := exec.CommandContext(ctx, ffmpeg, args...).CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("camera: clip audio: ffmpeg: %w: %s", err, out)
		}
	}
	return videoPath, audioPath, nil
}

// GenerateAndLoad generates a clip with ffmpeg into dir and loads it.
func GenerateAndLoad(ctx context.Context, dir string, s ClipSpec) (*Clip, error) {
	v, a, err := GenerateClip(ctx, dir, s)
	if err != nil {
		return nil, err
	}
	return LoadClip(v, a, s.FPS)
}
