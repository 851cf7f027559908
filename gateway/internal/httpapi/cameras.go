package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/community-edge/edge/drivers/rtsp"
	"github.com/community-edge/edge/gateway/internal/video"
)

// AddCameras serves the camera wall: GET /api/v1/cameras (id, name, building, state and
// last-frame age, never URLs or passwords), WHEP at POST /api/v1/cameras/{id}/whep with
// DELETE on the returned Location, and the installer's POST /api/v1/cameras/probe.
// Call before Run.
func (s *Server) AddCameras(hub *video.Hub, relay *video.Relay) {
	anyRole := s.require(RoleAdmin, RoleInstaller, RoleDuty, RoleSecurity)
	viewers := s.require(RoleAdmin, RoleSecurity, RoleDuty)
	s.router.With(s.authenticate, anyRole).Get("/api/v1/cameras", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"cameras": hub.Cameras()})
	})
	s.router.With(s.authenticate, anyRole).Get("/api/v1/cameras/{id}", func(w http.ResponseWriter, r *http.Request) {
		st, ok := hub.Camera(chi.URLParam(r, "id"))
		if !ok {
			writeError(w, http.StatusNotFound, "no such camera")
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	s.router.With(s.authenticate, viewers).Post("/api/v1/cameras/{id}/whep", func(w http.ResponseWriter, r *http.Request) {
		s.whepOffer(w, r, relay)
	})
	s.router.With(s.authenticate, viewers).Delete("/api/v1/cameras/{id}/whep/{session}", func(w http.ResponseWriter, r *http.Request) {
		p, _ := PrincipalFrom(r.Context())
		sid := chi.URLParam(r, "session")
		if cam, ok := relay.SessionCamera(sid); !ok || cam != chi.URLParam(r, "id") {
			writeError(w, http.StatusNotFound, "no such session")
			return
		}
		switch err := relay.End(sid, p.Name, p.Role == RoleAdmin); {
		case errors.Is(err, video.ErrNoSession):
			writeError(w, http.StatusNotFound, "no such session")
		case errors.Is(err, video.ErrNotYours):
			writeError(w, http.StatusForbidden, "session belongs to another user")
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
	s.router.With(s.authenticate, s.require(RoleAdmin, RoleInstaller)).Post("/api/v1/cameras/probe", s.probeCamera)
}

func (s *Server) whepOffer(w http.ResponseWriter, r *http.Request, relay *video.Relay) {
	p, _ := PrincipalFrom(r.Context())
	id := chi.URLParam(r, "id")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/sdp") {
		writeError(w, http.StatusUnsupportedMediaType, "the offer must be Content-Type: application/sdp")
		return
	}
	offer, err := io.ReadAll(r.Body)
	if err != nil || len(offer) == 0 {
		writeError(w, http.StatusBadRequest, "an SDP offer is required")
		return
	}
	sid, answer, err := relay.Offer(r.Context(), id, p.Name, r.RemoteAddr, string(offer))
	switch {
	case errors.Is(err, video.ErrNoCamera):
		writeError(w, http.StatusNotFound, "no such camera")
	case errors.Is(err, video.ErrBadOffer):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, video.ErrTooMany):
		writeError(w, http.StatusServiceUnavailable, "too many viewers")
	case errors.Is(err, video.ErrUnreachable):
		writeError(w, http.StatusBadGateway, "camera unreachable")
	case err != nil:
		s.log.Error("whep offer", "camera", id, "err", err)
		writeError(w, http.StatusServiceUnavailable, "video unavailable")
	default:
		w.Header().Set("Location", "/api/v1/cameras/"+id+"/whep/"+sid)
		w.Header().Set("Content-Type", "application/sdp")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, answer)
	}
}

// probeRequest is the body of POST /api/v1/cameras/probe.
type probeRequest struct {
	URL       string `json:"url"`
	Username  string `json:"username"`
	Password  string `json:"password"`
	TimeoutMS int    `json:"timeout_ms"`
}

// ProbeReport is a camera probe's answer, for people (also printed by `gateway camera probe`).
type ProbeReport struct {
	OK         bool    `json:"ok"`
	Reason     string  `json:"reason,omitempty"` // unreachable, unauthorized, not_found, no_playable_track, timeout, error
	Error      string  `json:"error,omitempty"`
	Summary    string  `json:"summary,omitempty"`
	Codec      string  `json:"codec,omitempty"`
	Profile    string  `json:"profile,omitempty"`
	Width      int     `json:"width,omitempty"`
	Height     int     `json:"height,omitempty"`
	FrameRate  float64 `json:"frame_rate,omitempty"`
	GOP        int     `json:"gop,omitempty"`
	Audio      string  `json:"audio,omitempty"`
	AudioOK    bool    `json:"audio_playable,omitempty"`
	DurationMS int64   `json:"duration_ms"`
}

// Probe connects to a camera and reports what it streams, or why it cannot be played.
func Probe(ctx context.Context, url, user, pass string, timeout time.Duration) ProbeReport {
	start := time.Now()
	res, err := rtsp.ProbeConfig(ctx, rtsp.Config{URL: url, Username: user, Password: pass}, timeout)
	rep := ProbeReport{OK: err == nil, DurationMS: time.Since(start).Milliseconds()}
	if res != nil {
		rep.Summary, rep.Codec, rep.Profile, rep.Width, rep.Height = res.String(), string(res.VideoCodec), res.Profile, res.Width, res.Height
		rep.FrameRate, rep.GOP, rep.Audio, rep.AudioOK = res.FrameRate, res.GOP, string(res.AudioCodec), res.AudioPlayable
	}
	if err != nil {
		rep.Error = err.Error()
		switch {
		case errors.Is(err, rtsp.ErrUnauthorized):
			rep.Reason = "unauthorized"
		case errors.Is(err, rtsp.ErrNotFound):
			rep.Reason = "not_found"
		case errors.Is(err, rtsp.ErrUnreachable):
			rep.Reason = "unreachable"
		case errors.Is(err, rtsp.ErrNoPlayableTrack):
			rep.Reason = "no_playable_track"
		case errors.Is(err, rtsp.ErrTimeout):
			rep.Reason = "timeout"
		default:
			rep.Reason = "error"
		}
	}
	return rep
}

func (s *Server) probeCamera(w http.ResponseWriter, r *http.Request) {
	var req probeRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || !strings.HasPrefix(req.URL, "rtsp://") {
		writeError(w, http.StatusBadRequest, "body must be {\"url\": \"rtsp://…\", \"username\", \"password\", \"timeout_ms\"}")
		return
	}
	timeout := time.Duration(req.TimeoutMS) * time.Millisecond
	if timeout <= 0 || timeout > 30*time.Second {
		timeout = 10 * time.Second
	}
	writeJSON(w, http.StatusOK, Probe(r.Context(), req.URL, req.Username, req.Password, timeout))
}
