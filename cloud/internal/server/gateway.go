package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/community-edge/edge/cloud/api"
	"github.com/community-edge/edge/cloud/internal/auth"
	"github.com/community-edge/edge/cloud/internal/cases"
)

type ctxKey int

const (
	gatewayKey ctxKey = iota
	bodyKey
	userKey
)

const gatewayBodyLimit = 256 << 10

// gatewayAuth verifies the request signature; the handler finds the gateway id and the body
// in the context.
func (s *Server) gatewayAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := readBody(w, r, gatewayBodyLimit)
		if !ok {
			return
		}
		id, err := s.verifier.Verify(r.Context(), r, body)
		if err != nil {
			code := "bad_signature"
			switch {
			case errors.Is(err, auth.ErrUnsigned):
				code = "unsigned"
			case errors.Is(err, auth.ErrStale):
				code = "stale_timestamp"
			case errors.Is(err, auth.ErrReplayed):
				code = "replayed"
			case errors.Is(err, auth.ErrUnknownGateway):
				code = "unknown_gateway"
			}
			s.log.Warn("gateway request refused", "remote", r.RemoteAddr, "path", r.URL.Path, "err", err)
			writeError(w, http.StatusUnauthorized, code, "gateway authentication failed: "+code)
			return
		}
		ctx := context.WithValue(context.WithValue(r.Context(), gatewayKey, id), bodyKey, body)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func gatewayOf(r *http.Request) (string, []byte) {
	id, _ := r.Context().Value(gatewayKey).(string)
	body, _ := r.Context().Value(bodyKey).([]byte)
	return id, body
}

// postAlert creates the case of an alert, or returns the case already made for its alarm id.
func (s *Server) postAlert(w http.ResponseWriter, r *http.Request) {
	gw, body := gatewayOf(r)
	var a api.Alert
	if !decodeJSON(w, body, &a) {
		return
	}
	c, err := s.classifier.FromAlert(gw, a)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	c = s.machine.Open(c, s.now())
	stored, created, err := s.store.CreateCase(r.Context(), c, cases.OpenEvent(c))
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		s.updates.notify(gw)
		s.log.Info("case reported", "case", stored.ID, "gateway", gw, "alarm", a.AlarmID, "category", stored.Category.SubclassName, "priority", stored.Priority)
	}
	writeJSON(w, status, cases.WithOverdue(stored, s.now()))
}

func (s *Server) getAlert(w http.ResponseWriter, r *http.Request) {
	gw, _ := gatewayOf(r)
	c, err := s.store.CaseByAlarm(r.Context(), gw, chi.URLParam(r, "alarm"))
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cases.WithOverdue(c, s.now()))
}

func (s *Server) postHeartbeat(w http.ResponseWriter, r *http.Request) {
	gw, body := gatewayOf(r)
	var h api.Heartbeat
	if len(body) > 0 && !decodeJSON(w, body, &h) {
		return
	}
	if h.IntervalS <= 0 {
		h.IntervalS = int(s.opts.Heartbeat / time.Second)
	}
	h.IntervalS = min(max(h.IntervalS, 1), 3600)
	came, err := s.store.Heartbeat(r.Context(), gw, s.now(), h)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	if came {
		s.log.Info("gateway online", "gateway", gw, "version", h.Version)
	}
	writeJSON(w, http.StatusOK, api.HeartbeatReply{ServerTime: s.now().UTC(), OfflineAfterS: 3 * h.IntervalS})
}

// getUpdates is the long poll: it answers at once when there are updates after the cursor,
// else waits for one (or for the wait to end, or the server to stop).
func (s *Server) getUpdates(w http.ResponseWriter, r *http.Request) {
	gw, _ := gatewayOf(r)
	after, err := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	if err != nil && r.URL.Query().Get("after") != "" || after < 0 {
		writeError(w, http.StatusBadRequest, "invalid", "after: must be a non-negative integer")
		return
	}
	wait := s.opts.LongPoll
	if ws := r.URL.Query().Get("wait"); ws != "" {
		d, err := time.ParseDuration(ws)
		if err != nil || d < 0 {
			writeError(w, http.StatusBadRequest, "invalid", "wait: must be a duration such as 25s")
			return
		}
		wait = min(d, s.opts.LongPoll)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	// Another cloud instance on the same PostgreSQL may change cases too: look again now and then.
	recheck := time.NewTicker(5 * time.Second)
	defer recheck.Stop()
	for {
		woken := s.updates.wait(gw)
		ups, err := s.store.Updates(r.Context(), gw, after, 100)
		if err != nil {
			s.writeErr(w, r, err)
			return
		}
		if len(ups) > 0 {
			writeJSON(w, http.StatusOK, api.Updates{Updates: ups, Next: ups[len(ups)-1].Seq})
			return
		}
		select {
		case <-woken:
		case <-recheck.C:
		case <-timer.C:
			writeJSON(w, http.StatusOK, api.Updates{Updates: ups, Next: after})
			return
		case <-r.Context().Done():
			writeJSON(w, http.StatusOK, api.Updates{Updates: ups, Next: after})
			return
		}
	}
}
