package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			sum := sha256.Sum256([]byte(tok))
			for _, t := range s.tokens {
				if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
					ctx := context.WithValue(r.Context(), ctxKey{}, Principal{Name: t.name, Role: t.role})
					next.ServeHTTP(w, r.WithContext(ctx))
					return
				}
			}
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="gateway"`)
		writeError(w, http.StatusUnauthorized, "login required")
	})
}

func (s *Server) require(roles ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, _ := PrincipalFrom(r.Context())
			for _, role := range roles {
				if p.Role == role {
					next.ServeHTTP(w, r)
					return
				}
			}
			writeError(w, http.StatusForbidden, "your role may not do this")
		})
	}
}
