package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/community-edge/edge/gateway/internal/users"
)

// The session cookie and the header that must repeat the session's CSRF token.
const (
	SessionCookie = "gw_session"
	CSRFHeader    = "X-CSRF-Token"
)

// How a request logged in.
const (
	viaAPIToken = "api_token" // a token from the configuration (http.api_tokens)
	viaToken    = "token"     // a user's personal bearer token
	viaSession  = "session"   // a browser session cookie
)

// login is how the request's principal logged in.
type login struct {
	via     string
	session users.Session // viaSession
	cookie  string        // viaSession: the session token
}

type loginKey struct{}

func loginFrom(ctx context.Context) login {
	l, _ := ctx.Value(loginKey{}).(login)
	return l
}

// safeMethod reports whether a method changes nothing, so needs no CSRF token.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// authenticate lets a request through with its principal when it carries a configured API
// token, a user's personal token, or a live session cookie; a session request that changes
// state must also carry the session's CSRF token in X-CSRF-Token. Bearer requests need no CSRF
// token: a browser never adds an Authorization header on its own.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, l, status, msg := s.identify(r)
		if status != 0 {
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="gateway"`)
				if l.via == viaSession {
					clearSessionCookie(w, r)
				}
			}
			writeError(w, status, msg)
			return
		}
		ctx := context.WithValue(r.Context(), ctxKey{}, p)
		ctx = context.WithValue(ctx, loginKey{}, l)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// identify finds who a request is from; a non-zero status refuses it with msg.
func (s *Server) identify(r *http.Request) (Principal, login, int, string) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return Principal{}, login{}, http.StatusUnauthorized, "login required"
		}
		sum := sha256.Sum256([]byte(tok))
		for _, t := range s.tokens {
			if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
				return Principal{Name: t.name, Role: t.role}, login{via: viaAPIToken}, 0, ""
			}
		}
		if s.users != nil && strings.HasPrefix(tok, users.TokenPrefix) {
			u, err := s.users.TokenUser(r.Context(), tok)
			if err == nil {
				return Principal{Name: u.Name, Role: u.Role}, login{via: viaToken}, 0, ""
			}
			if !errors.Is(err, users.ErrNoSession) {
				s.log.Error("checking a personal token", "err", err)
				return Principal{}, login{}, http.StatusServiceUnavailable, "cannot check logins right now"
			}
		}
		return Principal{}, login{}, http.StatusUnauthorized, "login required"
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" || s.users == nil {
		return Principal{}, login{}, http.StatusUnauthorized, "login required"
	}
	sess, err := s.users.Session(r.Context(), c.Value)
	if errors.Is(err, users.ErrNoSession) {
		return Principal{}, login{via: viaSession}, http.StatusUnauthorized, "login required: the session has ended"
	}
	if err != nil {
		s.log.Error("checking a session", "err", err)
		return Principal{}, login{}, http.StatusServiceUnavailable, "cannot check logins right now"
	}
	if !safeMethod(r.Method) {
		got := r.Header.Get(CSRFHeader)
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) != 1 {
			return Principal{}, login{}, http.StatusForbidden,
				"missing or wrong " + CSRFHeader + " header: send the csrf_token from login or GET /api/v1/me"
		}
	}
	return Principal{Name: sess.User.Name, Role: sess.User.Role}, login{via: viaSession, session: sess, cookie: c.Value}, 0, ""
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

// setSessionCookie sets the session cookie: HttpOnly, SameSite=Strict, and Secure when the
// request came over TLS.
func setSessionCookie(w http.ResponseWriter, r *http.Request, token string) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

func clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}
