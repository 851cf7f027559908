package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/community-edge/edge/cloud/api"
	"github.com/community-edge/edge/cloud/internal/auth"
	"github.com/community-edge/edge/cloud/internal/cases"
	"github.com/community-edge/edge/cloud/internal/store"
)

// CookieName is the session cookie.
const CookieName = "grid_session"

// CSRFHeader carries the session's CSRF token on every state-changing request.
const CSRFHeader = "X-CSRF-Token"

const uiBodyLimit = 64 << 10

type principal struct {
	user    store.User
	session store.Session
}

func (p principal) role() cases.Role { return cases.Role(p.user.Role) }

func userOf(r *http.Request) principal {
	p, _ := r.Context().Value(userKey).(principal)
	return p
}

// sameOrigin refuses cross-site requests: a browser sends Origin on every POST and DELETE
// and Sec-Fetch-Site on all requests.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

// userAuth requires a valid session; for state-changing methods also the session's CSRF token
// and a same-origin request.
func (s *Server) userAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(CookieName)
		if err != nil || c.Value == "" {
			writeError(w, http.StatusUnauthorized, "login_required", "login required")
			return
		}
		ss, u, err := s.store.SessionUser(r.Context(), auth.HashToken(c.Value), s.now())
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusUnauthorized, "login_required", "session expired; log in again")
			return
		}
		if err != nil {
			s.writeErr(w, r, err)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !sameOrigin(r) || !auth.Equal(r.Header.Get(CSRFHeader), ss.CSRF) {
				writeError(w, http.StatusForbidden, "csrf", "missing or wrong CSRF token")
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey, principal{user: u, session: ss})))
	})
}

func requireRole(roles ...cases.Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !slices.Contains(roles, userOf(r).role()) {
				writeError(w, http.StatusForbidden, "forbidden", "your role may not do this")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// UserView is a user as the API shows it.
type UserView struct {
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	Role        string `json:"role"`
	Department  string `json:"department"`
	Disabled    bool   `json:"disabled,omitempty"`
}

func viewUser(u store.User) UserView {
	return UserView{Username: u.Username, DisplayName: u.DisplayName, Role: u.Role, Department: u.Department, Disabled: u.Disabled}
}

// SessionView answers login and GET /api/v1/session.
type SessionView struct {
	User        UserView `json:"user"`
	CSRF        string   `json:"csrf"`
	TimeZone    string   `json:"time_zone"`
	Language    string   `json:"language"`
	Departments []string `json:"departments"`
}

func (s *Server) sessionView(u store.User, csrf string) SessionView {
	return SessionView{User: viewUser(u), CSRF: csrf, TimeZone: s.opts.TimeZone, Language: s.opts.Language, Departments: s.opts.Departments}
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "csrf", "cross-site login refused")
		return
	}
	body, ok := readBody(w, r, uiBodyLimit)
	if !ok {
		return
	}
	var in struct{ Username, Password string }
	if !decodeJSON(w, body, &in) {
		return
	}
	keys := []string{"user:" + strings.ToLower(in.Username), "ip:" + clientIP(r)}
	for _, k := range keys {
		if ok, wait := s.limiter.Allow(k); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			writeError(w, http.StatusTooManyRequests, "rate_limited", "too many failed logins; try again later")
			return
		}
	}
	u, err := s.store.UserByName(r.Context(), in.Username)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.writeErr(w, r, err)
		return
	}
	if err != nil {
		auth.DummyCheck(in.Password)
	}
	if err != nil || u.Disabled || !auth.CheckPassword(u.PasswordHash, in.Password) {
		for _, k := range keys {
			s.limiter.Fail(k)
		}
		s.log.Warn("login failed", "username", in.Username, "remote", r.RemoteAddr)
		writeError(w, http.StatusUnauthorized, "bad_login", "wrong username or password")
		return
	}
	s.limiter.Success(keys[0])
	token, hash := auth.NewToken()
	csrf, _ := auth.NewToken()
	now := s.now()
	if err := s.store.CreateSession(r.Context(), store.Session{TokenHash: hash, UserID: u.ID, CSRF: csrf, Created: now, Expires: now.Add(s.opts.SessionTTL)}); err != nil {
		s.writeErr(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: token, Path: "/", HttpOnly: true, Secure: s.opts.CookieSecure,
		SameSite: http.SameSiteStrictMode, MaxAge: int(s.opts.SessionTTL.Seconds())})
	s.log.Info("login", "username", u.Username, "role", u.Role)
	writeJSON(w, http.StatusOK, s.sessionView(u, csrf))
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	p := userOf(r)
	writeJSON(w, http.StatusOK, s.sessionView(p.user, p.session.CSRF))
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if err := s.store.DeleteSession(r.Context(), userOf(r).session.TokenHash); err != nil {
		s.writeErr(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", HttpOnly: true, Secure: s.opts.CookieSecure, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listCases(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.CaseFilter{
		State: api.State(q.Get("state")), Priority: api.Priority(q.Get("priority")), Class: q.Get("class"),
		GridPrefix: q.Get("grid"), GatewayID: q.Get("gateway"), Department: q.Get("department"),
		Overdue: q.Get("overdue") == "1", Active: q.Get("active") == "1", Now: s.now(),
	}
	if f.State != "" && !f.State.Valid() || f.Priority != "" && !f.Priority.Valid() {
		writeError(w, http.StatusBadRequest, "invalid", "state or priority: unknown value")
		return
	}
	f.BeforeID, _ = strconv.ParseInt(q.Get("before"), 10, 64)
	f.Limit, _ = strconv.Atoi(q.Get("limit"))
	// A handler sees the cases of their own department.
	if p := userOf(r); p.role() == cases.Handler {
		f.Department = p.user.Department
	}
	list, err := s.store.Cases(r.Context(), f)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	now := s.now()
	for i := range list {
		list[i] = cases.WithOverdue(list[i], now)
	}
	writeJSON(w, http.StatusOK, map[string]any{"cases": list})
}

// CaseView is a case with its timeline and the steps the viewer may take.
type CaseView struct {
	Case     api.Case        `json:"case"`
	Timeline []api.CaseEvent `json:"timeline"`
	Actions  []cases.Action  `json:"actions"`
}

func (s *Server) caseView(r *http.Request, c api.Case) (CaseView, error) {
	tl, err := s.store.Timeline(r.Context(), c.ID)
	if err != nil {
		return CaseView{}, err
	}
	p := userOf(r)
	acts := cases.Allowed(c, p.role(), p.user.Department)
	if acts == nil {
		acts = []cases.Action{}
	}
	return CaseView{Case: cases.WithOverdue(c, s.now()), Timeline: tl, Actions: acts}, nil
}

func caseID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	return id, err == nil && id > 0
}

func (s *Server) getCase(w http.ResponseWriter, r *http.Request) {
	id, ok := caseID(r)
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "not found")
		return
	}
	c, err := s.store.Case(r.Context(), id)
	if err == nil && userOf(r).role() == cases.Handler && c.Department != userOf(r).user.Department {
		err = store.ErrNotFound
	}
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	v, err := s.caseView(r, c)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// ActionRequest is the body of POST /api/v1/cases/{id}/actions/{action}.
type ActionRequest struct {
	Target   string `json:"target,omitempty"`
	Assignee string `json:"assignee,omitempty"`
	Note     string `json:"note,omitempty"`
	Score    int    `json:"score,omitempty"`
	// Version, when given, must be the case's current version (the one the user looked at).
	Version int64 `json:"version,omitempty"`
}

func (s *Server) postAction(w http.ResponseWriter, r *http.Request) {
	id, ok := caseID(r)
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "not found")
		return
	}
	body, ok := readBody(w, r, uiBodyLimit)
	if !ok {
		return
	}
	var in ActionRequest
	if len(body) > 0 && !decodeJSON(w, body, &in) {
		return
	}
	p := userOf(r)
	cmd := cases.Command{Action: cases.Action(chi.URLParam(r, "action")), Actor: p.user.Username, Role: p.role(),
		Department: p.user.Department, Target: in.Target, Assignee: in.Assignee, Note: in.Note, Score: in.Score}
	if cmd.Action == cases.Dispatch && len(s.opts.Departments) > 0 && !slices.Contains(s.opts.Departments, strings.TrimSpace(in.Target)) {
		writeError(w, http.StatusBadRequest, "invalid", "dispatch: unknown department "+strconv.Quote(in.Target))
		return
	}
	ch, err := s.store.Transition(r.Context(), id, func(c api.Case) (store.Change, error) {
		if in.Version != 0 && in.Version != c.Version {
			return store.Change{}, store.ErrConflict
		}
		if p.role() == cases.Handler && c.Department != p.user.Department {
			return store.Change{}, store.ErrNotFound
		}
		c, ev, err := s.machine.Apply(c, cmd, s.now())
		return store.Change{Case: c, Event: ev}, err
	})
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.updates.notify(ch.Case.GatewayID)
	s.log.Info("case step", "case", id, "action", cmd.Action, "by", cmd.Actor, "state", ch.Case.State, "late", ch.Event.Late)
	v, err := s.caseView(r, ch.Case)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// GatewayView is a gateway as the grid centre sees it.
type GatewayView struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	Link          string     `json:"link"` // never, online, offline
	LastContact   *time.Time `json:"last_contact,omitempty"`
	HeartbeatS    int        `json:"heartbeat_s"`
	Version       string     `json:"version,omitempty"`
	OutboxPending int        `json:"outbox_pending"`
	Disabled      bool       `json:"disabled,omitempty"`
}

func (s *Server) listGateways(w http.ResponseWriter, r *http.Request) {
	gws, err := s.store.Gateways(r.Context())
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	out := make([]GatewayView, 0, len(gws))
	for _, g := range gws {
		v := GatewayView{ID: g.ID, Name: g.Name, Link: g.Link, HeartbeatS: g.HeartbeatS, Version: g.Version, OutboxPending: g.OutboxPending, Disabled: g.Disabled}
		if !g.LastSeen.IsZero() {
			t := g.LastSeen
			v.LastContact = &t
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"gateways": out})
}

func (s *Server) timeliness(w http.ResponseWriter, r *http.Request) {
	to := s.now().Add(time.Second) // include what closed just now
	from := to.AddDate(0, 0, -30)
	if v, err := time.Parse(time.DateOnly, r.URL.Query().Get("from")); err == nil {
		from = v
	}
	if v, err := time.Parse(time.DateOnly, r.URL.Query().Get("to")); err == nil {
		to = v.AddDate(0, 0, 1)
	}
	rep, err := s.store.Timeliness(r.Context(), from, to)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"from": from, "to": to, "departments": rep})
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	us, err := s.store.Users(r.Context())
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	out := make([]UserView, 0, len(us))
	for _, u := range us {
		out = append(out, viewUser(u))
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
}
