package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/community-edge/edge/gateway/internal/users"
)

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	if !s.needUsers(w) {
		return
	}
	us, err := s.users.List(r.Context())
	if err != nil {
		s.userError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": us})
}

// createUserRequest is the body of POST /api/v1/users.
type createUserRequest struct {
	Name     string `json:"name"`
	Display  string `json:"display"`
	Role     string `json:"role"`
	Password string `json:"password"` // the initial password, at least 10 characters
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	if !s.needUsers(w) {
		return
	}
	var req createUserRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	u, err := s.users.Add(r.Context(), actor(r), users.User{Name: req.Name, Display: req.Display, Role: req.Role}, req.Password)
	if err != nil {
		s.userError(w, err)
		return
	}
	w.Header().Set("Location", "/api/v1/users/"+u.Name)
	writeJSON(w, http.StatusCreated, map[string]any{"user": u})
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	if !s.needUsers(w) {
		return
	}
	u, err := s.users.Get(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		s.userError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": u})
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) {
	if !s.needUsers(w) {
		return
	}
	var c users.Change
	if !decodeJSON(w, r, &c) {
		return
	}
	u, err := s.users.Update(r.Context(), actor(r), chi.URLParam(r, "name"), c)
	if err != nil {
		s.userError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": u})
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	if !s.needUsers(w) {
		return
	}
	if err := s.users.Remove(r.Context(), actor(r), chi.URLParam(r, "name")); err != nil {
		s.userError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// passwordRequest is the body of POST /api/v1/users/{name}/password: old_password is required
// when users change their own password, and not used when an admin resets another's.
type passwordRequest struct {
	OldPassword string `json:"old_password"`
	Password    string `json:"password"`
}

func (s *Server) setPassword(w http.ResponseWriter, r *http.Request) {
	if !s.needUsers(w) {
		return
	}
	var req passwordRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	p, _ := PrincipalFrom(r.Context())
	name := users.NormalizeName(chi.URLParam(r, "name"))
	var err error
	switch {
	case isUser(r) && p.Name == name:
		err = s.users.ChangePassword(r.Context(), actor(r), name, req.OldPassword, req.Password, loginFrom(r.Context()).cookie)
	case p.Role == RoleAdmin:
		err = s.users.SetPassword(r.Context(), actor(r), name, req.Password)
	default:
		writeError(w, http.StatusForbidden, "you may change only your own password")
		return
	}
	if err != nil {
		s.userError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
