// Package server is the cloud's HTTP side: the signed gateway API (alert intake with
// idempotency, heartbeats, the long poll of case updates), the grid centre's JSON API behind a
// login (session cookie, CSRF token, roles), the embedded web UI, and the supervisor that marks
// gateways offline after three missed heartbeats.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/community-edge/edge/cloud/internal/auth"
	"github.com/community-edge/edge/cloud/internal/cases"
	"github.com/community-edge/edge/cloud/internal/store"
)

// Options configure a Server. Zero values take the defaults given.
type Options struct {
	Listen       string // default 127.0.0.1:8480
	CertFile     string // TLS; with KeyFile
	KeyFile      string
	CookieSecure bool          // Secure cookies (always on with TLS)
	SessionTTL   time.Duration // default 12 h
	Heartbeat    time.Duration // expected gateway heartbeat interval when a gateway gives none; default 30 s
	LongPoll     time.Duration // longest wait of the updates long poll; default 25 s
	TimeZone     string        // IANA name shown in the UI; default Asia/Shanghai
	Language     string        // UI default: zh-CN or en
	Departments  []string      // offered as dispatch targets
	KeyCacheTTL  time.Duration // how long a gateway key is cached (a disabled gateway is refused after at most this); default 30 s
}

// Server serves the cloud. Construct it with New, then call Run.
type Server struct {
	opts       Options
	store      *store.Store
	machine    *cases.Machine
	classifier cases.Classifier
	now        func() time.Time
	log        *slog.Logger

	verifier *auth.Verifier
	limiter  *auth.LoginLimiter
	updates  *notifier
	handler  http.Handler
}

// New returns a server. It does no I/O.
func New(o Options, st *store.Store, m *cases.Machine, cl cases.Classifier, now func() time.Time, log *slog.Logger) *Server {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:8480"
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 30 * time.Second
	}
	if o.LongPoll <= 0 {
		o.LongPoll = 25 * time.Second
	}
	if o.KeyCacheTTL <= 0 {
		o.KeyCacheTTL = 30 * time.Second
	}
	if o.TimeZone == "" {
		o.TimeZone = "Asia/Shanghai"
	}
	if o.Language == "" {
		o.Language = "zh-CN"
	}
	if o.CertFile != "" {
		o.CookieSecure = true
	}
	s := &Server{opts: o, store: st, machine: m, classifier: cl, now: now, log: log,
		limiter: auth.NewLoginLimiter(now), updates: newNotifier()}
	s.verifier = auth.NewVerifier(auth.NewKeyCache(st.GatewayKey, o.KeyCacheTTL, now).Key, now)
	s.handler = s.routes()
	return s
}

// Handler is the server's HTTP handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(securityHeaders)
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })

	// Gateways: every request signed.
	r.Group(func(r chi.Router) {
		r.Use(s.gatewayAuth)
		r.Post("/api/v1/alerts", s.postAlert)
		r.Get("/api/v1/alerts/{alarm}", s.getAlert)
		r.Post("/api/v1/gateway/heartbeat", s.postHeartbeat)
		r.Get("/api/v1/gateway/updates", s.getUpdates)
	})

	// People.
	r.Post("/api/v1/session", s.login)
	r.Group(func(r chi.Router) {
		r.Use(s.userAuth)
		r.Get("/api/v1/session", s.getSession)
		r.Delete("/api/v1/session", s.logout)
		r.Get("/api/v1/cases", s.listCases)
		r.Get("/api/v1/cases/{id}", s.getCase)
		r.Post("/api/v1/cases/{id}/actions/{action}", s.postAction)
		r.Get("/api/v1/gateways", s.listGateways)
		r.Get("/api/v1/reports/timeliness", s.timeliness)
		r.With(requireRole(cases.Admin)).Get("/api/v1/users", s.listUsers)
	})
	r.Handle("/*", uiHandler(s.opts.Language))
	return r
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// Run listens on Options.Listen and serves until ctx ends, then shuts down: long polls are
// ended, requests in flight get 10 s, the supervisor stops.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("server: listen: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on a listener the caller opened; it closes it.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	reqCtx, cancelReqs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelReqs()
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      s.opts.LongPoll + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	var wg sync.WaitGroup
	supCtx, stopSup := context.WithCancel(ctx)
	defer stopSup()
	wg.Go(func() { s.supervise(supCtx) })

	errc := make(chan error, 1)
	wg.Go(func() {
		var err error
		if s.opts.CertFile != "" {
			err = hs.ServeTLS(ln, s.opts.CertFile, s.opts.KeyFile)
		} else {
			err = hs.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	})
	s.log.Info("cloud listening", "addr", ln.Addr().String(), "tls", s.opts.CertFile != "")

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	cancelReqs() // long polls return now
	shCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shCtx); err != nil && runErr == nil {
		runErr = err
	}
	stopSup()
	wg.Wait()
	s.log.Info("cloud stopped")
	if runErr != nil {
		return fmt.Errorf("server: %w", runErr)
	}
	return nil
}

// supervise marks gateways offline after three missed heartbeats and drops expired sessions.
func (s *Server) supervise(ctx context.Context) {
	tick := time.NewTicker(max(s.opts.Heartbeat/3, time.Second))
	defer tick.Stop()
	lastSweep := s.now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.checkLinks(ctx)
		if now := s.now(); now.Sub(lastSweep) > time.Hour {
			lastSweep = now
			if err := s.store.DeleteExpiredSessions(ctx, now); err != nil {
				s.log.Warn("session sweep failed", "err", err)
			}
		}
	}
}

// checkLinks is one round of link supervision.
func (s *Server) checkLinks(ctx context.Context) {
	ids, err := s.store.MarkOffline(ctx, s.now(), int(s.opts.Heartbeat/time.Second))
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("link supervision failed", "err", err)
		}
		return
	}
	for _, id := range ids {
		s.log.Warn("gateway offline: three heartbeats missed", "gateway", id)
	}
}

// notifier wakes the long polls of a gateway when its cases change.
type notifier struct {
	mu    sync.Mutex
	chans map[string]chan struct{}
}

func newNotifier() *notifier { return &notifier{chans: map[string]chan struct{}{}} }

// wait returns a channel closed at the gateway's next change. Take it before reading the
// store, so that no change between the read and the wait is missed.
func (n *notifier) wait(gw string) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	ch, ok := n.chans[gw]
	if !ok {
		ch = make(chan struct{})
		n.chans[gw] = ch
	}
	return ch
}

func (n *notifier) notify(gw string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ch, ok := n.chans[gw]; ok {
		close(ch)
		delete(n.chans, gw)
	}
}
