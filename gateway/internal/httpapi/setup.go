package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/community-edge/edge/gateway/internal/setup"
)

// setupRoutes registers the first-run setup: without a login, and only while no admin account
// exists (package setup). After it, both answer 410 for good.
func (s *Server) setupRoutes(r chi.Router) {
	r.Get("/api/v1/setup", s.setupStatus)
	r.Post("/api/v1/setup", s.completeSetup)
}

// SetSetup enables the first-run setup (call it before Run); restart is called once the setup
// completed, to have the daemon rebuild itself with the new site settings.
func (s *Server) SetSetup(st *setup.Setup, restart func()) { s.setup, s.restart = st, restart }

const setupDone = "the first-run setup is done: log in"

// setupStatus says whether the setup is needed, and whether this client may do it (is on the
// box's local network); nothing else.
func (s *Server) setupStatus(w http.ResponseWriter, r *http.Request) {
	need, ok := s.setupNeeded(w, r)
	if !ok {
		return
	}
	if !need {
		writeJSON(w, http.StatusGone, map[string]any{"needed": false, "error": setupDone})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"needed": true, "lan": setup.RemoteIsLAN(r.RemoteAddr)})
}

// setupNeeded answers the request itself when it cannot tell (ok false).
func (s *Server) setupNeeded(w http.ResponseWriter, r *http.Request) (need, ok bool) {
	if s.setup == nil || s.users == nil {
		return false, true
	}
	need, err := s.setup.Needed(r.Context())
	if err != nil {
		s.log.Error("first-run setup", "err", err)
		writeError(w, http.StatusInternalServerError, "cannot tell whether the setup is done")
		return false, false
	}
	return need, true
}

// setupResult is what a completed setup returns: the new admin's session and the site.
type setupResult struct {
	sessionView
	Site siteView `json:"site"`
}

// completeSetup creates the first admin and stores the site settings, then logs the admin in
// and has the gateway restart with the new site. It is refused from outside the box's local
// network (the connection's address: X-Forwarded-For is not trusted), from another origin, and
// for any body but JSON (so no cross-site form can post it).
func (s *Server) completeSetup(w http.ResponseWriter, r *http.Request) {
	need, ok := s.setupNeeded(w, r)
	if !ok {
		return
	}
	if !need {
		writeError(w, http.StatusGone, setupDone)
		return
	}
	if !setup.RemoteIsLAN(r.RemoteAddr) {
		s.log.Warn("first-run setup refused from outside the local network", "remote", r.RemoteAddr)
		writeError(w, http.StatusForbidden, "the first-run setup is allowed only from the gateway's local network "+
			"(loopback, 10/8, 172.16/12, 192.168/16, fc00::/7, link-local); or add an admin on the box: gateway user add NAME -role admin")
		return
	}
	if why := crossOrigin(r); why != "" {
		writeError(w, http.StatusForbidden, "cross-origin request refused: "+why)
		return
	}
	var req setup.Request
	if !decodeJSON(w, r, &req) {
		return
	}
	u, site, err := s.setup.Complete(r.Context(), req, r.RemoteAddr)
	var fields setup.FieldErrors
	switch {
	case errors.As(err, &fields):
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid setup: " + strings.TrimPrefix(err.Error(), "setup: "),
			"fields": fields})
		return
	case errors.Is(err, setup.ErrDone):
		writeError(w, http.StatusGone, setupDone)
		return
	case errors.Is(err, setup.ErrRace):
		writeError(w, http.StatusConflict, "another request completed the setup just now: log in")
		return
	case err != nil:
		s.log.Error("first-run setup", "err", err)
		writeError(w, http.StatusInternalServerError, "the setup failed on the gateway's side")
		return
	}
	res := setupResult{sessionView: sessionView{User: u.Name, Role: u.Role}, Site: siteView{Code: site.Code, Name: site.Name,
		TimeZone: site.TimeZone, GridCode: site.GridCode}}
	token, sess, err := s.users.Login(r.Context(), u.Name, req.Password, r.RemoteAddr)
	if err != nil { // the account exists: the person logs in on the login page instead
		s.log.Error("first-run setup: logging the new admin in", "err", err)
	} else {
		setSessionCookie(w, r, token)
		res.Auth, res.CSRFToken, res.ExpiresAt = viaSession, sess.CSRF, sess.ExpiresMS
	}
	if s.restart != nil {
		s.restarting.Store(true)
		s.restart()
	}
	writeJSON(w, http.StatusCreated, res)
}

// crossOrigin returns why a request comes from another origin than this server's, or "" when it
// does not: a browser names the page's origin in Origin (and Sec-Fetch-Site); clients that are
// not browsers send neither and cannot be forged into a request by a web page.
func crossOrigin(r *http.Request) string {
	if sf := r.Header.Get("Sec-Fetch-Site"); sf != "" && sf != "same-origin" && sf != "none" {
		return "Sec-Fetch-Site " + sf
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return ""
	}
	u, err := url.Parse(o)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if err != nil || u.Scheme != scheme || !strings.EqualFold(u.Host, r.Host) {
		return "Origin " + o
	}
	return ""
}

// restartGate answers 503 to API requests (and /healthz) while the gateway restarts after the
// first-run setup, so a client knows that an answer after that comes from the restarted one.
func (s *Server) restartGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.restarting.Load() && (strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/healthz") {
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, "the gateway is restarting with the new site settings")
			return
		}
		next.ServeHTTP(w, r)
	})
}
