package httpapi

import (
	_ "embed"
	"net/http"
)

// siteView is what GET /api/v1/site shows: what the console needs to label the site and show
// times in its zone.
type siteView struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	TimeZone string `json:"time_zone"`
	GridCode string `json:"grid_code,omitempty"`
}

func (s *Server) siteInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, siteView{Code: s.site.Code, Name: s.site.Name, TimeZone: s.site.TimeZone, GridCode: s.site.GridCode})
}

// openAPI is the OpenAPI 3 description of this API (openapi.yaml); a test keeps it and the
// router in step.
//
//go:embed openapi.yaml
var openAPI []byte

func (s *Server) openAPIDoc(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(openAPI)
}
