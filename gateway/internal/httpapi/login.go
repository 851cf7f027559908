package httpapi

import (
	"encoding/json"
	"errors"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/community-edge/edge/gateway/internal/users"
)

// accessRoutes registers the login-related routes under /api/v1 that need a login (logout,
// me, personal tokens, users). POST /api/v1/login is registered outside the login group.
func (s *Server) accessRoutes(r chi.Router) {
	everyone := s.require(RoleAdmin, RoleInstaller, RoleDuty, RoleSecurity)
	r.With(everyone).Post("/logout", s.logout)
	r.With(everyone).Get("/me", s.me)
	r.With(everyone).Get("/me/tokens", s.listTokens)
	r.With(everyone).Post("/me/tokens", s.createToken)
	r.With(everyone).Delete("/me/tokens/{id}", s.revokeToken)
	admin := s.require(RoleAdmin)
	r.With(admin).Get("/users", s.listUsers)
	r.With(admin).Post("/users", s.createUser)
	r.With(admin).Get("/users/{name}", s.getUser)
	r.With(admin).Patch("/users/{name}", s.updateUser)
	r.With(admin).Delete("/users/{name}", s.deleteUser)
	// A user changes their own password here with the old one; an admin resets anyone's.
	r.With(everyone).Post("/users/{name}/password", s.setPassword)
}

// decodeJSON reads a JSON body strictly: application/json only (so a cross-site form cannot
// post it), no unknown fields.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "send the body as Content-Type: application/json")
		return false
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return false
	}
	return true
}

// loginRequest is the body of POST /api/v1/login.
type loginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// sessionView is what login and me return.
type sessionView struct {
	User      string `json:"user"`
	Display   string `json:"display,omitempty"`
	Role      string `json:"role"`
	Auth      string `json:"auth"`                 // session, token or api_token
	CSRFToken string `json:"csrf_token,omitempty"` // sessions: send it as X-CSRF-Token
	ExpiresAt int64  `json:"expires_at,omitempty"` // sessions: Unix ms of the absolute expiry
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if s.users == nil {
		writeError(w, http.StatusServiceUnavailable, "user logins are not set up on this gateway")
		return
	}
	var req loginRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.User == "" || req.Password == "" {
		writeError(w, http.StatusBadRequest, "user and password are required")
		return
	}
	token, sess, err := s.users.Login(r.Context(), req.User, req.Password, r.RemoteAddr)
	var limited *users.RateLimitedError
	switch {
	case errors.As(err, &limited):
		secs := int(math.Ceil(limited.RetryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": "too many failed logins: try again later", "retry_after_s": secs})
		return
	case errors.Is(err, users.ErrBadLogin):
		writeError(w, http.StatusUnauthorized, "wrong user name or password")
		return
	case err != nil:
		s.log.Error("login", "err", err)
		writeError(w, http.StatusInternalServerError, "login failed on the gateway's side")
		return
	}
	setSessionCookie(w, r, token)
	writeJSON(w, http.StatusOK, sessionView{User: sess.User.Name, Display: sess.User.Display, Role: sess.User.Role,
		Auth: viaSession, CSRFToken: sess.CSRF, ExpiresAt: sess.ExpiresMS})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	l := loginFrom(r.Context())
	if l.via != viaSession {
		writeError(w, http.StatusBadRequest, "logout ends a browser session; this request has none (bearer tokens are revoked instead)")
		return
	}
	if err := s.users.Logout(r.Context(), l.cookie, r.RemoteAddr); err != nil && !errors.Is(err, users.ErrNoSession) {
		s.log.Error("logout", "err", err)
		writeError(w, http.StatusInternalServerError, "logout failed on the gateway's side")
		return
	}
	clearSessionCookie(w, r)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	l := loginFrom(r.Context())
	v := sessionView{User: p.Name, Role: p.Role, Auth: l.via}
	if l.via == viaSession {
		v.Display, v.CSRFToken, v.ExpiresAt = l.session.User.Display, l.session.CSRF, l.session.ExpiresMS
	}
	writeJSON(w, http.StatusOK, v)
}

// actor is who a request acts as, for the audit log.
func actor(r *http.Request) users.Actor {
	p, _ := PrincipalFrom(r.Context())
	return users.Actor{Name: p.Name, Remote: r.RemoteAddr}
}

// isUser reports whether the request's principal is a user account (not a configured token).
func isUser(r *http.Request) bool {
	via := loginFrom(r.Context()).via
	return via == viaSession || via == viaToken
}

// userError answers a users error with its status.
func (s *Server) userError(w http.ResponseWriter, err error) {
	msg := strings.TrimPrefix(err.Error(), "users: ")
	switch {
	case errors.Is(err, users.ErrNotFound):
		writeError(w, http.StatusNotFound, msg)
	case errors.Is(err, users.ErrExists), errors.Is(err, users.ErrLastAdmin):
		writeError(w, http.StatusConflict, msg)
	case errors.Is(err, users.ErrInvalid), errors.Is(err, users.ErrWeakPassword):
		writeError(w, http.StatusBadRequest, msg)
	case errors.Is(err, users.ErrBadLogin):
		writeError(w, http.StatusForbidden, msg)
	default:
		s.log.Error("users", "err", err)
		writeError(w, http.StatusInternalServerError, "the change failed on the gateway's side")
	}
}

// needUsers answers 503 when no user directory is set up.
func (s *Server) needUsers(w http.ResponseWriter) bool {
	if s.users == nil {
		writeError(w, http.StatusServiceUnavailable, "user accounts are not set up on this gateway")
		return false
	}
	return true
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	if !s.needUsers(w) {
		return
	}
	if !isUser(r) {
		writeError(w, http.StatusBadRequest, "configured API tokens have no personal tokens")
		return
	}
	p, _ := PrincipalFrom(r.Context())
	ts, err := s.users.Tokens(r.Context(), p.Name)
	if err != nil {
		s.userError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": ts})
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	if !s.needUsers(w) {
		return
	}
	if loginFrom(r.Context()).via != viaSession {
		writeError(w, http.StatusForbidden, "personal tokens are made from a logged-in browser session")
		return
	}
	var req struct {
		Label string `json:"label"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	p, _ := PrincipalFrom(r.Context())
	secret, t, err := s.users.NewToken(r.Context(), actor(r), p.Name, req.Label)
	if err != nil {
		s.userError(w, err)
		return
	}
	w.Header().Set("Location", "/api/v1/me/tokens/"+strconv.FormatInt(t.ID, 10))
	writeJSON(w, http.StatusCreated, map[string]any{"token": t, "secret": secret,
		"note": "the token is shown once; send it as Authorization: Bearer <secret>"})
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	if !s.needUsers(w) {
		return
	}
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || !isUser(r) {
		writeError(w, http.StatusNotFound, "no such token")
		return
	}
	p, _ := PrincipalFrom(r.Context())
	if err := s.users.RevokeToken(r.Context(), actor(r), p.Name, id); err != nil {
		s.userError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
