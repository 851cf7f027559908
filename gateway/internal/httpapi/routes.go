package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/community-edge/edge/gateway/internal/console"
)

// routes registers every endpoint. Each one but /healthz sits behind authenticate and names
// the roles that may use it.
func (s *Server) routes(d Deps) chi.Router {
	r := chi.NewRouter()
	r.Use(limitBody(1<<20), s.restartGate)
	r.Get("/healthz", s.healthz)
	r.Post("/api/v1/login", s.login) // users and access: the one API route without a login (login.go)
	s.setupRoutes(r)                 // the first-run setup: no login, only until an admin exists (setup.go)
	r.Group(func(r chi.Router) {
		r.Use(s.authenticate)
		r.With(s.require(RoleAdmin, RoleInstaller)).Handle("/metrics", promhttp.HandlerFor(d.Gatherer, promhttp.HandlerOpts{}))
		r.Route("/api/v1", func(r chi.Router) {
			r.With(s.require(RoleAdmin, RoleInstaller, RoleDuty, RoleSecurity)).Get("/devices", s.listDevices)
			r.With(s.require(RoleAdmin, RoleInstaller)).Post("/devices", s.createDevice)
			r.With(s.require(RoleAdmin, RoleInstaller, RoleDuty, RoleSecurity)).Get("/devices/{id}", s.getDevice)
			r.With(s.require(RoleAdmin, RoleInstaller)).Delete("/devices/{id}", s.deleteDevice)
			// provisioning: CSV import and the installer page's live view of devices (provision.go)
			r.With(s.require(RoleAdmin, RoleInstaller)).Post("/devices/import", s.importDevices)
			r.With(s.require(RoleAdmin, RoleInstaller)).Get("/stream/devices", s.deviceStream)

			// users and access: logout, me, personal tokens, users (login.go, users.go)
			s.accessRoutes(r)

			// alarms: the duty staff's work; security staff see them too
			r.With(s.require(RoleAdmin, RoleDuty, RoleSecurity)).Get("/alarms", s.listAlarms)
			r.With(s.require(RoleAdmin, RoleDuty, RoleSecurity)).Get("/alarms/{id}", s.getAlarm)
			r.With(s.require(RoleAdmin, RoleDuty)).Post("/alarms/{id}/ack", s.ackAlarm)
			r.With(s.require(RoleAdmin, RoleDuty)).Post("/alarms/{id}/resolve", s.resolveAlarm)
			r.With(s.require(RoleAdmin, RoleDuty, RoleSecurity)).Get("/stream", s.stream)
			r.With(s.require(RoleAdmin)).Get("/audit", s.listAudit)
			r.With(s.require(RoleAdmin, RoleInstaller)).Get("/doctor", s.runDoctor) // the installer's checks (doctor.go)

			// the site (for the console's labels and time zone) and this API's description (site.go)
			r.With(s.require(RoleAdmin, RoleInstaller, RoleDuty, RoleSecurity)).Get("/site", s.siteInfo)
			r.With(s.require(RoleAdmin, RoleInstaller, RoleDuty, RoleSecurity)).Get("/openapi.yaml", s.openAPIDoc)
		})
	})
	// the duty console's static assets: no data, no login; all data comes from /api/v1
	r.Get("/*", console.Handler().ServeHTTP)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) { writeError(w, http.StatusNotFound, "not found") })
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	})
	return r
}
