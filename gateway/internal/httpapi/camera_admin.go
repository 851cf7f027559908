package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/community-edge/edge/drivers/onvif"
	"github.com/community-edge/edge/gateway/internal/cameras"
	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/video"
)

// CameraAdmin is what the installer's camera endpoints need.
type CameraAdmin struct {
	Hub   *video.Hub
	Store *cameras.Store
	// Discovery is the base of every discovery (group, default interfaces); a request may
	// name the interface and the time to wait.
	Discovery onvif.Config
	// Added is called after a camera was added (the daemon opens the WebRTC port then if it
	// had no camera before); may be nil.
	Added func()
}

// AddCameraAdmin serves the installer's camera endpoints: POST /api/v1/cameras/discover
// (ONVIF WS-Discovery), POST /api/v1/cameras (probe, then store and relay a camera at
// once) and DELETE /api/v1/cameras/{id} for cameras added that way. Call before Run.
func (s *Server) AddCameraAdmin(a CameraAdmin) {
	installers := s.require(RoleAdmin, RoleInstaller)
	var discovering sync.Mutex // one discovery at a time: each holds a socket for its whole wait
	s.router.With(s.authenticate, installers).Post("/api/v1/cameras/discover", func(w http.ResponseWriter, r *http.Request) {
		if !discovering.TryLock() {
			writeError(w, http.StatusTooManyRequests, "a camera search is already running; try again in a few seconds")
			return
		}
		defer discovering.Unlock()
		s.discoverCameras(w, r, a)
	})
	s.router.With(s.authenticate, installers).Post("/api/v1/cameras", func(w http.ResponseWriter, r *http.Request) {
		s.addCamera(w, r, a)
	})
	s.router.With(s.authenticate, installers).Delete("/api/v1/cameras/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.removeCamera(w, r, a)
	})
}

// discoveredCamera is one responder with the RTSP URL the console offers to start from.
type discoveredCamera struct {
	onvif.Device
	RTSPURL string `json:"rtsp_url"`
}

func (s *Server) discoverCameras(w http.ResponseWriter, r *http.Request, a CameraAdmin) {
	var req struct {
		Interface string `json:"interface"`
		TimeoutMS int    `json:"timeout_ms"`
	}
	if r.ContentLength != 0 {
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			writeError(w, http.StatusBadRequest, "body must be {\"interface\": \"eth0\", \"timeout_ms\": 2000} (both optional): "+err.Error())
			return
		}
	}
	cfg := a.Discovery
	if req.Interface != "" {
		cfg.Interfaces = []string{req.Interface}
	}
	if req.TimeoutMS > 0 {
		cfg.Timeout = min(max(time.Duration(req.TimeoutMS)*time.Millisecond, 500*time.Millisecond), 10*time.Second)
	}
	cfg.Logger = s.log
	res, err := onvif.Discover(r.Context(), cfg)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	out := make([]discoveredCamera, 0, len(res.Devices))
	for _, d := range res.Devices {
		out = append(out, discoveredCamera{Device: d, RTSPURL: onvif.SuggestRTSP(d)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": out, "interfaces": res.Interfaces, "ignored": res.Ignored + res.Unrelated,
		"duration_ms": res.DurationMS})
}

// addCameraRequest is the body of POST /api/v1/cameras.
type addCameraRequest struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Building  string `json:"building"`
	URL       string `json:"url"`
	Username  string `json:"username"`
	Password  string `json:"password"`
	AlwaysOn  bool   `json:"always_on"`
	Force     bool   `json:"force"` // store it even when the probe fails (a camera not installed yet)
	TimeoutMS int    `json:"timeout_ms"`
}

func (s *Server) addCamera(w http.ResponseWriter, r *http.Request, a CameraAdmin) {
	p, _ := PrincipalFrom(r.Context())
	if a.Store == nil {
		writeError(w, http.StatusServiceUnavailable, "cameras cannot be added on this gateway")
		return
	}
	var req addCameraRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return
	}
	var problems []string
	clean, user, pass, err := cameras.SplitURL(req.URL)
	switch {
	case err != nil:
		problems = append(problems, "url: must be an rtsp://host[:port]/path URL")
	case user != "" && req.Username != "":
		problems = append(problems, "url: give the credentials in the URL or as username and password, not both")
	case user == "":
		user, pass = req.Username, req.Password
	}
	if err == nil {
		req.URL = clean
	}
	cam := config.Camera{ID: req.ID, Name: req.Name, URL: req.URL, Username: user, Password: pass, Building: req.Building}
	if err == nil {
		problems = append(problems, config.ValidateCamera(cam)...)
	} else {
		problems = append(problems, config.ValidateCamera(config.Camera{ID: req.ID, URL: "rtsp://"})...)
	}
	if strings.TrimSpace(req.Name) == "" {
		problems = append(problems, "name: required")
	}
	if len(problems) > 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid camera", "problems": problems})
		return
	}
	if _, ok := a.Hub.Camera(req.ID); ok {
		writeError(w, http.StatusConflict, "a camera with id "+req.ID+" exists")
		return
	}
	timeout := time.Duration(req.TimeoutMS) * time.Millisecond
	if timeout <= 0 || timeout > 30*time.Second {
		timeout = 10 * time.Second
	}
	rep := Probe(r.Context(), cam.URL, user, pass, timeout)
	if !rep.OK && !req.Force {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "the camera cannot be played (" + rep.Reason + "): " + rep.Error +
			"; correct it, or add it with force to keep it anyway", "reason": rep.Reason, "probe": rep})
		return
	}
	vc := video.Camera{ID: cam.ID, Name: cam.Name, Building: cam.Building, URL: cam.URL, Username: user, Password: pass, AlwaysOn: req.AlwaysOn}
	if err := a.Hub.AddCamera(vc); err != nil {
		writeError(w, http.StatusConflict, "a camera with id "+req.ID+" exists")
		return
	}
	detail := map[string]any{"name": cam.Name, "building": cam.Building, "url": cam.URL, "probe": rep.Summary, "probe_ok": rep.OK, "forced": !rep.OK}
	if err := a.Store.Add(r.Context(), cameras.Camera{ID: cam.ID, Name: cam.Name, Building: cam.Building, URL: cam.URL, Username: user,
		Password: pass, AlwaysOn: req.AlwaysOn}, p.Name, r.RemoteAddr, detail); err != nil {
		a.Hub.RemoveCamera(context.WithoutCancel(r.Context()), cam.ID)
		if errors.Is(err, cameras.ErrExists) {
			writeError(w, http.StatusConflict, "a camera with id "+req.ID+" exists")
			return
		}
		s.log.Error("storing a camera", "camera", cam.ID, "err", err)
		writeError(w, http.StatusInternalServerError, "could not store the camera")
		return
	}
	if a.Added != nil {
		a.Added()
	}
	s.log.Info("camera added", "camera", cam.ID, "by", p.Name, "probe_ok", rep.OK)
	st, _ := a.Hub.Camera(cam.ID)
	w.Header().Set("Location", "/api/v1/cameras/"+cam.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"camera": st, "probe": rep})
}

func (s *Server) removeCamera(w http.ResponseWriter, r *http.Request, a CameraAdmin) {
	p, _ := PrincipalFrom(r.Context())
	id := chi.URLParam(r, "id")
	st, ok := a.Hub.Camera(id)
	if !ok {
		writeError(w, http.StatusNotFound, "no such camera")
		return
	}
	if st.Origin != "runtime" || a.Store == nil {
		writeError(w, http.StatusConflict, "this camera is in the configuration file: remove it there")
		return
	}
	if err := a.Store.Remove(r.Context(), id, p.Name, r.RemoteAddr); err != nil && !errors.Is(err, cameras.ErrNotFound) {
		s.log.Error("removing a camera", "camera", id, "err", err)
		writeError(w, http.StatusInternalServerError, "could not remove the camera")
		return
	}
	if err := a.Hub.RemoveCamera(r.Context(), id); err != nil && !errors.Is(err, video.ErrNoCamera) {
		s.log.Error("removing a camera", "camera", id, "err", err)
	}
	s.log.Info("camera removed", "camera", id, "by", p.Name)
	w.WriteHeader(http.StatusNoContent)
}
