package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/devices"
	"github.com/community-edge/edge/gateway/internal/store"
)

// deviceView is a device as the API shows it.
type deviceView struct {
	ID                string           `json:"id"`
	Family            string           `json:"family"`
	Site              string           `json:"site"`
	Name              string           `json:"name"`
	ProductKey        string           `json:"product_key,omitempty"`
	Location          config.Location  `json:"location"`
	GridCode          string           `json:"grid_code,omitempty"`
	HeartbeatInterval string           `json:"heartbeat_interval"`
	Resident          *config.Resident `json:"resident,omitempty"`
	Origin            string           `json:"origin"`
	Health            devices.Health   `json:"health"`
}

type eventView struct {
	Seq      int64           `json:"seq"`
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	TS       int64           `json:"ts"`
	Received int64           `json:"received"`
	Data     json.RawMessage `json:"data"`
}

// mayReadMedical: residents' medical notes and contacts are for duty staff and admins only.
func mayReadMedical(role string) bool { return role == RoleAdmin || role == RoleDuty }

func viewOf(d *devices.Device, role string) deviceView {
	v := deviceView{ID: d.ID, Family: string(d.Family), Site: d.Site, Name: d.Name, ProductKey: d.ProductKey,
		Location: d.Location, GridCode: d.GridCode, HeartbeatInterval: d.Heartbeat.String(), Origin: d.Origin,
		Health: d.Health()}
	if d.Resident != nil {
		r := *d.Resident
		if !mayReadMedical(role) {
			r.MedicalNotes, r.EmergencyContacts = "", nil
		}
		v.Resident = &r
	}
	return v
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	fam, state := r.URL.Query().Get("family"), r.URL.Query().Get("state")
	out := []deviceView{}
	for _, d := range s.devs.All() {
		if (fam != "" && string(d.Family) != fam) || (state != "" && d.State() != state) {
			continue
		}
		out = append(out, viewOf(d, p.Role))
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": out})
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	d, ok := s.devs.Lookup(chi.URLParam(r, "id"))
	if !ok {
		writeError(w, http.StatusNotFound, "no such device")
		return
	}
	evs, err := s.st.DeviceEvents(r.Context(), d.ID, 50)
	if err != nil {
		s.log.Error("reading device events", "device", d.ID, "err", err)
		writeError(w, http.StatusInternalServerError, "could not read the device's events")
		return
	}
	views := make([]eventView, 0, len(evs))
	for _, e := range evs {
		views = append(views, eventView{Seq: e.Seq, ID: e.EventID, Type: e.Type, TS: e.TSMS, Received: e.ReceivedMS, Data: json.RawMessage(e.Data)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"device": viewOf(d, p.Role), "events": views})
}

// createRequest is the body of POST /api/v1/devices.
type createRequest struct {
	ID                string           `json:"id"`
	Family            string           `json:"family"`
	Name              string           `json:"name"`
	ProductKey        string           `json:"product_key"`
	Location          config.Location  `json:"location"`
	GridCode          string           `json:"grid_code"`
	HeartbeatInterval string           `json:"heartbeat_interval"`
	Resident          *config.Resident `json:"resident"`
}

func (s *Server) createDevice(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	var req createRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return
	}
	c := config.Device{ID: req.ID, Family: req.Family, Name: req.Name, ProductKey: req.ProductKey, Location: req.Location,
		GridCode: req.GridCode, Resident: req.Resident}
	var problems []string
	if req.HeartbeatInterval != "" {
		hb, err := time.ParseDuration(req.HeartbeatInterval)
		if err != nil {
			problems = append(problems, "heartbeat_interval: "+err.Error())
		}
		c.HeartbeatInterval = hb
	}
	problems = append(problems, config.ValidateDevice(c)...)
	if len(problems) > 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid device", "problems": problems})
		return
	}
	by := actor(r)
	added, err := s.devs.AddAll(r.Context(), []config.Device{c}, by.Name, by.Remote, "")
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, devices.ErrExists) {
			code = http.StatusConflict
		}
		writeError(w, code, err.Error())
		return
	}
	d := added[0].Device
	v, err := s.newDeviceView(r, p.Role, added[0])
	if err != nil {
		s.log.Error("device connection settings", "device", d.ID, "err", err)
	}
	s.log.Info("device added", "device", d.ID, "by", p.Name)
	w.Header().Set("Location", "/api/v1/devices/"+d.ID)
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) deleteDevice(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	id := chi.URLParam(r, "id")
	by := actor(r)
	if err := s.devs.Remove(r.Context(), id, by.Name, by.Remote); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, "no such device")
			return
		}
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.log.Info("device removed; login revoked", "device", id, "by", p.Name)
	w.WriteHeader(http.StatusNoContent)
}
