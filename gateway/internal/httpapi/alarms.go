package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/community-edge/edge/gateway/internal/alarm"
)

// alarmView is an alarm with the device and resident card a person needs to act on it.
type alarmView struct {
	alarm.Alarm
	Device *deviceView `json:"device_info,omitempty"`
}

func (s *Server) alarmView(a alarm.Alarm, role string) alarmView {
	v := alarmView{Alarm: a}
	if d, ok := s.devs.Lookup(a.DeviceID); ok {
		dv := viewOf(d, role)
		v.Device = &dv
	}
	return v
}

func parseMS(r *http.Request, key string) (int64, error) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return 0, nil
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return 0, fmt.Errorf("%s: want Unix milliseconds or RFC 3339, got %q", key, v)
	}
	return t.UnixMilli(), nil
}

func (s *Server) listAlarms(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	q := r.URL.Query()
	f := alarm.Filter{Type: q.Get("type"), Device: q.Get("device"), Building: q.Get("building")}
	switch q.Get("state") {
	case "", "all":
	case "open":
		t := true
		f.Open = &t
	case "resolved":
		t := false
		f.Open = &t
	default:
		writeError(w, http.StatusBadRequest, "state: want open, resolved or all")
		return
	}
	var err error
	if f.FromMS, err = parseMS(r, "from"); err == nil {
		f.ToMS, err = parseMS(r, "to")
	}
	if err == nil && q.Get("limit") != "" {
		f.Limit, err = strconv.Atoi(q.Get("limit"))
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	as, err := s.alarms.List(r.Context(), f)
	if err != nil {
		s.log.Error("listing alarms", "err", err)
		writeError(w, http.StatusInternalServerError, "could not list alarms")
		return
	}
	out := make([]alarmView, 0, len(as))
	for _, a := range as {
		out = append(out, s.alarmView(a, p.Role))
	}
	writeJSON(w, http.StatusOK, map[string]any{"alarms": out, "outcomes": alarm.Outcomes})
}

func (s *Server) getAlarm(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	a, tl, err := s.alarms.Get(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.alarmError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"alarm": s.alarmView(a, p.Role), "timeline": tl})
}

func (s *Server) alarmError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, alarm.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such alarm")
	case errors.Is(err, alarm.ErrState):
		writeError(w, http.StatusConflict, err.Error())
	default:
		s.log.Error("alarm request failed", "err", err)
		writeError(w, http.StatusInternalServerError, "the alarm could not be changed")
	}
}

func (s *Server) ackAlarm(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	a, err := s.alarms.Acknowledge(r.Context(), chi.URLParam(r, "id"), p.Name)
	if err != nil {
		s.alarmError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"alarm": s.alarmView(a, p.Role)})
}

type resolveRequest struct {
	Outcome string `json:"outcome"`
	Note    string `json:"note"`
}

func (s *Server) resolveAlarm(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	var req resolveRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return
	}
	if !alarm.ValidOutcome(req.Outcome) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "outcome: unknown outcome", "outcomes": alarm.Outcomes})
		return
	}
	if len(req.Note) > 2000 {
		writeError(w, http.StatusBadRequest, "note: at most 2000 bytes")
		return
	}
	a, err := s.alarms.Resolve(r.Context(), chi.URLParam(r, "id"), p.Name, req.Outcome, req.Note)
	if err != nil {
		s.alarmError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"alarm": s.alarmView(a, p.Role)})
}

// stream is the live Server-Sent Events stream of alarm changes. Each event's id is the
// change's sequence number; a console that reconnects with Last-Event-ID (or ?after=) first
// gets every change it missed, then live ones. Device changes follow as "device" events.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	after, _ := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64)
	if v := r.URL.Query().Get("after"); v != "" {
		after, _ = strconv.ParseInt(v, 10, 64)
	}
	sub := s.alarms.Subscribe(1024) // before catching up, so nothing falls between the two
	defer sub.Close()
	fl, ok := openEventStream(w)
	if !ok {
		return
	}
	last := after
	send := func(c alarm.Change) error {
		if c.Seq <= last {
			return nil
		}
		last = c.Seq
		b, _ := json.Marshal(struct {
			alarm.Change
			Alarm alarmView `json:"alarm"`
		}{c, s.alarmView(c.Alarm, p.Role)})
		_, err := fmt.Fprintf(w, "id: %d\nevent: alarm\ndata: %s\n\n", c.Seq, b)
		return err
	}
	if after > 0 {
		for {
			missed, err := s.alarms.ChangesSince(r.Context(), last, 500)
			if err != nil {
				return
			}
			for _, c := range missed {
				if send(c) != nil {
					return
				}
			}
			if len(missed) < 500 {
				break
			}
		}
	}
	fmt.Fprintf(w, "event: ready\ndata: {\"last\":%d}\n\n", last)
	fl.Flush()
	devSub := s.devs.Subscribe(256)
	defer devSub.Close()
	ping := time.NewTicker(streamPing)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case c, ok := <-sub.C:
			if !ok {
				// fell behind or shutting down: the console reconnects and catches up
				fmt.Fprintf(w, "event: resync\ndata: {}\n\n")
				fl.Flush()
				return
			}
			if send(c) != nil {
				return
			}
			fl.Flush()
		case d, ok := <-devSub.C:
			if !ok {
				return
			}
			b, _ := json.Marshal(viewOf(d, p.Role))
			fmt.Fprintf(w, "event: device\ndata: %s\n\n", b)
			fl.Flush()
		case <-ping.C:
			fmt.Fprintf(w, ": ping\n\n")
			fl.Flush()
		}
	}
}

// streamPing is how often a quiet event stream sends a comment, so proxies and browsers keep it.
const streamPing = 15 * time.Second

// openEventStream starts a Server-Sent Events answer, or answers 500 if w cannot stream.
func openEventStream(w http.ResponseWriter) (http.Flusher, bool) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming unsupported")
		return nil, false
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return fl, true
}
