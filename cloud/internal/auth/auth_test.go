package auth

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/community-edge/edge/cloud/api"
)

func TestPassword(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil || !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q %v", h, err)
	}
	if !CheckPassword(h, "correct horse") || CheckPassword(h, "correct horsE") || CheckPassword("plain", "plain") {
		t.Fatal("check gives wrong answers")
	}
	h2, _ := HashPassword("correct horse")
	if h == h2 {
		t.Fatal("same salt twice")
	}
	if _, err := HashPassword("short"); err == nil {
		t.Fatal("short password accepted")
	}
}

func TestLoginLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewLoginLimiter(func() time.Time { return now })
	for i := range 4 {
		l.Fail("li")
		if ok, _ := l.Allow("li"); !ok {
			t.Fatalf("locked after %d failures", i+1)
		}
	}
	l.Fail("li")
	ok, wait := l.Allow("li")
	if ok || wait != 15*time.Minute {
		t.Fatalf("after 5 failures: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := l.Allow("wang"); !ok {
		t.Fatal("other key locked")
	}
	now = now.Add(15 * time.Minute)
	if ok, _ := l.Allow("li"); !ok {
		t.Fatal("still locked after the lockout")
	}
	// Failures spread wider than the window never lock.
	for range 10 {
		l.Fail("zhao")
		now = now.Add(4 * time.Minute)
	}
	if ok, _ := l.Allow("zhao"); !ok {
		t.Fatal("failures spread over more than the window locked the key")
	}
	l.Success("li")
	if _, ok := l.keys["li"]; ok {
		t.Fatal("success did not forget")
	}
}

func TestVerifier(t *testing.T) {
	keys := map[string][]byte{"gw-1": bytes.Repeat([]byte{1}, 32), "gw-2": bytes.Repeat([]byte{2}, 32)}
	now := time.Unix(1_700_000_000, 0)
	v := NewVerifier(func(_ context.Context, id string) ([]byte, error) {
		if k, ok := keys[id]; ok {
			return k, nil
		}
		return nil, errors.New("no such gateway")
	}, func() time.Time { return now })
	body := []byte(`{"alarm_id":"x"}`)
	signed := func(id string, key []byte, at time.Time) *httptestReq {
		r := httptest.NewRequest("POST", "/api/v1/alerts", bytes.NewReader(body))
		api.SignRequest(r, id, key, at, body)
		return &httptestReq{r}
	}
	ok := signed("gw-1", keys["gw-1"], now)
	if id, err := v.Verify(context.Background(), ok.Request, body); err != nil || id != "gw-1" {
		t.Fatalf("good request: %v", err)
	}
	tests := []struct {
		name string
		req  func() *httptestReq
		body []byte
		want error
	}{
		{"unsigned", func() *httptestReq { return &httptestReq{httptest.NewRequest("POST", "/api/v1/alerts", nil)} }, body, ErrUnsigned},
		{"replayed", func() *httptestReq { return ok }, body, ErrReplayed},
		{"body changed", func() *httptestReq { return signed("gw-1", keys["gw-1"], now) }, []byte(`{"alarm_id":"y"}`), ErrBadSignature},
		{"other gateway's key", func() *httptestReq { return signed("gw-1", keys["gw-2"], now) }, body, ErrBadSignature},
		{"unknown gateway", func() *httptestReq { return signed("gw-9", keys["gw-1"], now) }, body, ErrUnknownGateway},
		{"too old", func() *httptestReq { return signed("gw-1", keys["gw-1"], now.Add(-5*time.Minute-time.Second)) }, body, ErrStale},
		{"from the future", func() *httptestReq { return signed("gw-1", keys["gw-1"], now.Add(5*time.Minute+time.Second)) }, body, ErrStale},
		{"path changed", func() *httptestReq {
			r := signed("gw-1", keys["gw-1"], now)
			r.URL.Path = "/api/v1/gateway/heartbeat"
			return r
		}, body, ErrBadSignature},
		{"id swapped", func() *httptestReq {
			r := signed("gw-1", keys["gw-1"], now)
			r.Header.Set(api.HeaderGatewayID, "gw-2")
			return r
		}, body, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tt.req().Request, tt.body)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	// Within the window the edge is accepted; nonces are forgotten only after the window.
	if _, err := v.Verify(context.Background(), signed("gw-1", keys["gw-1"], now.Add(-5*time.Minute)).Request, body); err != nil {
		t.Fatalf("at the edge of the window: %v", err)
	}
	now = now.Add(11 * time.Minute)
	if _, err := v.Verify(context.Background(), signed("gw-1", keys["gw-1"], now).Request, body); err != nil {
		t.Fatal(err)
	}
	if len(v.nonces) != 1 {
		t.Fatalf("%d nonces kept after the sweep", len(v.nonces))
	}
}

type httptestReq struct{ *http.Request }

func TestKeyCache(t *testing.T) {
	now := time.Unix(0, 0)
	calls := 0
	disabled := false
	c := NewKeyCache(func(_ context.Context, id string) ([]byte, error) {
		calls++
		if disabled {
			return nil, errors.New("disabled")
		}
		return []byte("k-" + id), nil
	}, 30*time.Second, func() time.Time { return now })
	for range 3 {
		if k, err := c.Key(context.Background(), "gw"); err != nil || string(k) != "k-gw" {
			t.Fatalf("key %q %v", k, err)
		}
	}
	if calls != 1 {
		t.Fatalf("%d lookups for 3 requests", calls)
	}
	disabled = true
	now = now.Add(29 * time.Second)
	if _, err := c.Key(context.Background(), "gw"); err != nil {
		t.Fatal("cached key not used within the TTL")
	}
	now = now.Add(2 * time.Second)
	if _, err := c.Key(context.Background(), "gw"); err == nil {
		t.Fatal("disabled gateway still accepted after the TTL")
	}
}
