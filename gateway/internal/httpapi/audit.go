package httpapi

import (
	"net/http"
	"strconv"

	"github.com/community-edge/edge/gateway/internal/audit"
)

// listAudit serves the audit log, newest first: who handled which alarm, who logged in, who
// changed a user or watched a camera. Filters: from, to (Unix ms or RFC 3339), actor, action
// (a prefix such as "alarm." or "camera."), target, limit, before (a seq, for paging).
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := audit.Filter{Actor: q.Get("actor"), ActionPrefix: q.Get("action"), Target: q.Get("target")}
	var err error
	if f.FromMS, err = parseMS(r, "from"); err == nil {
		f.ToMS, err = parseMS(r, "to")
	}
	for _, p := range []struct {
		key string
		dst *int64
	}{{"before", &f.BeforeSeq}} {
		if v := q.Get(p.key); v != "" && err == nil {
			*p.dst, err = strconv.ParseInt(v, 10, 64)
		}
	}
	if v := q.Get("limit"); v != "" && err == nil {
		f.Limit, err = strconv.Atoi(v)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	es, err := audit.List(r.Context(), s.st.DB(), f)
	if err != nil {
		s.log.Error("reading the audit log", "err", err)
		writeError(w, http.StatusInternalServerError, "could not read the audit log")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": es})
}
