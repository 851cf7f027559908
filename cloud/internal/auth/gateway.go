package auth

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/community-edge/edge/cloud/api"
)

// Reasons a gateway request is refused. All are answered 401.
var (
	ErrUnsigned       = errors.New("request is not signed")
	ErrUnknownGateway = errors.New("unknown or disabled gateway")
	ErrBadSignature   = errors.New("signature does not match")
	ErrStale          = errors.New("timestamp outside the replay window")
	ErrReplayed       = errors.New("nonce already used")
)

// KeyFunc returns the HMAC key of an enabled gateway.
type KeyFunc func(ctx context.Context, gatewayID string) ([]byte, error)

// Verifier checks signed gateway requests. It remembers every nonce it accepted for twice the
// replay window, so a captured request cannot be sent again. It is safe for concurrent use.
type Verifier struct {
	keys   KeyFunc
	window time.Duration
	now    func() time.Time

	mu     sync.Mutex
	nonces map[string]time.Time // gateway id + nonce → when it may be forgotten
	sweep  time.Time
}

// NewVerifier returns a verifier with api.ReplayWindow.
func NewVerifier(keys KeyFunc, now func() time.Time) *Verifier {
	return &Verifier{keys: keys, window: api.ReplayWindow, now: now, nonces: map[string]time.Time{}}
}

// Verify checks the signature of r, whose body the caller has read into body, and returns the
// gateway id. Errors wrap one of the Err values above.
func (v *Verifier) Verify(ctx context.Context, r *http.Request, body []byte) (string, error) {
	id := r.Header.Get(api.HeaderGatewayID)
	tsText := r.Header.Get(api.HeaderTimestamp)
	nonce := r.Header.Get(api.HeaderNonce)
	sig := r.Header.Get(api.HeaderSignature)
	if id == "" || tsText == "" || nonce == "" || sig == "" {
		return "", fmt.Errorf("auth: %w", ErrUnsigned)
	}
	if len(nonce) < 16 || len(nonce) > 64 || len(id) > 64 {
		return "", fmt.Errorf("auth: bad nonce or gateway id: %w", ErrUnsigned)
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return "", fmt.Errorf("auth: timestamp %q: %w", tsText, ErrUnsigned)
	}
	now := v.now()
	if d := now.Sub(time.Unix(ts, 0)); d > v.window || d < -v.window {
		return "", fmt.Errorf("auth: gateway %s: %w (%v off)", id, ErrStale, d.Round(time.Second))
	}
	key, err := v.keys(ctx, id)
	if err != nil {
		return "", fmt.Errorf("auth: gateway %s: %w", id, errors.Join(ErrUnknownGateway, err))
	}
	want := api.Sign(key, r.Method, r.URL.RequestURI(), ts, nonce, id, body)
	got, err := hex.DecodeString(sig)
	wantRaw, _ := hex.DecodeString(want)
	if err != nil || !hmac.Equal(got, wantRaw) {
		return "", fmt.Errorf("auth: gateway %s: %w", id, ErrBadSignature)
	}
	if !v.remember(id+"\x00"+nonce, now) {
		return "", fmt.Errorf("auth: gateway %s: %w", id, ErrReplayed)
	}
	return id, nil
}

// remember records a nonce; false if it was already seen.
func (v *Verifier) remember(key string, now time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if now.After(v.sweep) {
		for k, exp := range v.nonces {
			if now.After(exp) {
				delete(v.nonces, k)
			}
		}
		v.sweep = now.Add(v.window / 5)
	}
	if _, seen := v.nonces[key]; seen {
		return false
	}
	v.nonces[key] = now.Add(2 * v.window)
	return true
}
