// Package httpapi owns the gateway's HTTP interface: health, Prometheus metrics and the REST
// API under /api/v1, each endpoint behind a login with a role check. People log in with a
// session cookie (and repeat its CSRF token on every change), scripts with a bearer token.
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/community-edge/edge/gateway/internal/alarm"
	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/devices"
	"github.com/community-edge/edge/gateway/internal/setup"
	"github.com/community-edge/edge/gateway/internal/store"
	"github.com/community-edge/edge/gateway/internal/users"
)

// Roles.
const (
	RoleAdmin     = "admin"
	RoleInstaller = "installer"
	RoleDuty      = "duty"
	RoleSecurity  = "security"
)

// Principal is who made a request.
type Principal struct {
	Name string
	Role string
}

type ctxKey struct{}

// PrincipalFrom returns the request's principal.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// Server is the HTTP server.
type Server struct {
	listen  string
	tokens  []token
	devs    *devices.Registry
	alarms  *alarm.Engine
	st      *store.Store
	site    config.Site
	broker  config.DeviceEndpoint // where devices reach the broker, for new devices' settings
	users   *users.Directory      // nil: only configured API tokens log in
	tls     *tls.Config           // nil: plain HTTP
	gather  prometheus.Gatherer
	log     *slog.Logger
	ready   func() error
	router  chi.Router
	addr    chan string
	started time.Time
	doctor  DoctorFunc // GET /api/v1/doctor (doctor.go)

	setup      *setup.Setup // nil: no first-run setup (SetSetup)
	restart    func()       // asks the daemon to rebuild itself after the setup
	restarting atomic.Bool  // set once the setup asked for the restart (setup.go)
}

type token struct {
	sum  [32]byte
	name string
	role string
}

// Deps are what the server serves.
type Deps struct {
	Devices  *devices.Registry
	Store    *store.Store
	Gatherer prometheus.Gatherer
	Users    *users.Directory // user accounts and sessions; nil allows only http.api_tokens
	TLS      *tls.Config      // serve HTTPS with this; nil for plain HTTP
	Alarms   *alarm.Engine
	Site     config.Site // the site, as GET /api/v1/site shows it
	// DeviceBroker is where devices reach the broker, shown in new devices' connection settings.
	DeviceBroker config.DeviceEndpoint
	// Ready reports whether the gateway is fit to serve (for /healthz).
	Ready func() error
}

// New makes the server and its routes; it listens on nothing until Run.
func New(listen string, tokens []config.APIToken, d Deps, log *slog.Logger) *Server {
	s := &Server{listen: listen, devs: d.Devices, alarms: d.Alarms, st: d.Store, users: d.Users, tls: d.TLS, site: d.Site, broker: d.DeviceBroker, gather: d.Gatherer, log: log, ready: d.Ready,
		addr: make(chan string, 1), started: time.Now()}
	for _, t := range tokens {
		s.tokens = append(s.tokens, token{sum: sha256.Sum256([]byte(t.Token)), name: t.Name, role: t.Role})
	}
	s.router = s.routes(d)
	return s
}

// Router is the server's handler, for adding routes before Run and for tests.
func (s *Server) Router() chi.Router { return s.router }

// Addr returns the bound address once the server listens.
func (s *Server) Addr() <-chan string { return s.addr }

// Run serves until ctx is done, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.listen)
	if err != nil {
		return errors.New("httpapi: listen " + s.listen + ": " + err.Error())
	}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	s.addr <- ln.Addr().String()
	srv := &http.Server{Handler: s.router, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
		IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("HTTP server listening", "addr", ln.Addr().String(), "https", s.tls != nil)
	select {
	case err := <-errc:
		return errors.New("httpapi: " + err.Error())
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	<-errc
	return nil
}

func limitBody(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if s.ready != nil {
		if err := s.ready(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "uptime_s": int(time.Since(s.started).Seconds())})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
