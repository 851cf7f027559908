package auth

import (
	"bytes"
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/community-edge/edge/cloud/api"
)

// FuzzVerify feeds arbitrary signing headers and bodies: no panic, and nothing verifies
// without the key.
func FuzzVerify(f *testing.F) {
	key := bytes.Repeat([]byte{7}, api.KeySize)
	now := time.Unix(1_700_000_000, 0)
	f.Add("gw-1", "1700000000", "bm9uY2Utbm9uY2UtMTIz", "00ff", []byte("{}"))
	f.Add("", "", "", "", []byte(nil))
	f.Add("gw-1", "-99999999999999999999", "n", "zz", []byte("x"))
	f.Fuzz(func(t *testing.T, id, ts, nonce, sig string, body []byte) {
		v := NewVerifier(func(context.Context, string) ([]byte, error) { return key, nil }, func() time.Time { return now })
		r := httptest.NewRequest("POST", "/api/v1/alerts", bytes.NewReader(body))
		for h, val := range map[string]string{api.HeaderGatewayID: id, api.HeaderTimestamp: ts, api.HeaderNonce: nonce, api.HeaderSignature: sig} {
			r.Header[h] = []string{val}
		}
		if _, err := v.Verify(context.Background(), r, body); err == nil {
			t.Fatalf("verified without the key: id=%q ts=%q nonce=%q sig=%q", id, ts, nonce, sig)
		}
	})
}
