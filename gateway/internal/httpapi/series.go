package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/community-edge/edge/gateway/internal/tsdb"
)

// SeriesSource answers time series queries (tsdb.Writer).
type SeriesSource interface {
	Series(ctx context.Context, q tsdb.SeriesQuery) (tsdb.Series, error)
}

// maxSeriesRange is the longest range a series query may ask for.
const maxSeriesRange = 400 * 24 * time.Hour

// AddSeries serves GET /api/v1/devices/{id}/series?metric=…&from=…&to=… from src: from and to
// are RFC 3339 times or Unix milliseconds (default: the last hour). Call before Run.
func (s *Server) AddSeries(src SeriesSource) {
	s.router.With(s.authenticate, s.require(RoleAdmin, RoleInstaller, RoleDuty, RoleSecurity)).
		Get("/api/v1/devices/{id}/series", func(w http.ResponseWriter, r *http.Request) { s.series(w, r, src) })
}

func (s *Server) series(w http.ResponseWriter, r *http.Request, src SeriesSource) {
	d, ok := s.devs.Lookup(chi.URLParam(r, "id"))
	if !ok {
		writeError(w, http.StatusNotFound, "no such device")
		return
	}
	q := r.URL.Query()
	metric := q.Get("metric")
	if !tsdb.ValidMetric(metric) {
		writeError(w, http.StatusBadRequest, "metric must be a metric name such as battery_pct")
		return
	}
	now := time.Now()
	to, err := parseTime(q.Get("to"), now)
	if err != nil {
		writeError(w, http.StatusBadRequest, "to: "+err.Error())
		return
	}
	from, err := parseTime(q.Get("from"), to.Add(-time.Hour))
	if err != nil {
		writeError(w, http.StatusBadRequest, "from: "+err.Error())
		return
	}
	if !from.Before(to) || to.Sub(from) > maxSeriesRange {
		writeError(w, http.StatusBadRequest, "from must be before to, and the range at most 400 days")
		return
	}
	res, err := src.Series(r.Context(), tsdb.SeriesQuery{Site: d.Site, Family: string(d.Family), Device: d.ID,
		Metric: metric, From: from, To: to})
	if err != nil {
		s.log.Warn("series query failed", "device", d.ID, "metric", metric, "err", err)
		writeError(w, http.StatusBadGateway, "time series unavailable")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"device": d.ID, "metric": metric, "from": from.UnixMilli(),
		"to": to.UnixMilli(), "every": res.Every, "series": res.Lines})
}

// parseTime reads an RFC 3339 time or Unix milliseconds; empty gives def.
func parseTime(v string, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	return time.Parse(time.RFC3339, v)
}
