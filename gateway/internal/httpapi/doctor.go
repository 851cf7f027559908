package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/community-edge/edge/gateway/internal/doctor"
)

// DoctorFunc runs the installation checks in a language (zh or en).
type DoctorFunc func(ctx context.Context, lang string) doctor.Report

// SetDoctor makes GET /api/v1/doctor run f (the route answers 503 until it is set). Call
// before Run.
func (s *Server) SetDoctor(f DoctorFunc) { s.doctor = f }

// runDoctor serves GET /api/v1/doctor?lang=zh|en: every check's result with its fix, for the
// installer's check page. It answers 200 whether or not checks fail; see the report's ok.
func (s *Server) runDoctor(w http.ResponseWriter, r *http.Request) {
	if s.doctor == nil {
		writeError(w, http.StatusServiceUnavailable, "checks not available")
		return
	}
	lang := r.URL.Query().Get("lang")
	if lang == "" {
		lang = "zh"
	}
	if !doctor.ValidLang(lang) {
		writeError(w, http.StatusBadRequest, "lang must be zh or en")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	writeJSON(w, http.StatusOK, s.doctor(ctx, lang))
}
