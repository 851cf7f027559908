package api

import (
	"bytes"
	"flag"
	"net/http"
	"os"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestSignGolden pins the signing scheme: a gateway written in another language can check
// its implementation against testdata/sign.golden.
func TestSignGolden(t *testing.T) {
	key := bytes.Repeat([]byte{0x42}, KeySize)
	body := []byte(`{"alarm_id":"a-1"}`)
	sts := StringToSign("POST", "/api/v1/alerts", 1740816000, "bm9uY2Utbm9uY2U", "gw-0001", body)
	sig := Sign(key, "POST", "/api/v1/alerts", 1740816000, "bm9uY2Utbm9uY2U", "gw-0001", body)
	got := []byte("key: " + EncodeKey(key) + "\n--- string to sign ---\n" + sts + "\n--- signature ---\n" + sig + "\n")
	golden := "testdata/sign.golden"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestSignCoversEveryPart(t *testing.T) {
	key := bytes.Repeat([]byte{1}, KeySize)
	base := Sign(key, "POST", "/a?x=1", 10, "n", "gw", []byte("b"))
	variants := []string{
		Sign(bytes.Repeat([]byte{2}, KeySize), "POST", "/a?x=1", 10, "n", "gw", []byte("b")),
		Sign(key, "GET", "/a?x=1", 10, "n", "gw", []byte("b")),
		Sign(key, "POST", "/a?x=2", 10, "n", "gw", []byte("b")),
		Sign(key, "POST", "/a?x=1", 11, "n", "gw", []byte("b")),
		Sign(key, "POST", "/a?x=1", 10, "m", "gw", []byte("b")),
		Sign(key, "POST", "/a?x=1", 10, "n", "gw2", []byte("b")),
		Sign(key, "POST", "/a?x=1", 10, "n", "gw", []byte("c")),
	}
	for i, v := range variants {
		if v == base {
			t.Errorf("variant %d has the same signature", i)
		}
	}
}

func TestSignRequest(t *testing.T) {
	key := bytes.Repeat([]byte{3}, KeySize)
	req, _ := http.NewRequest("GET", "http://cloud/api/v1/gateway/updates?after=5", nil)
	now := time.Unix(1700000000, 0)
	SignRequest(req, "gw-9", key, now, nil)
	h := req.Header
	if h.Get(HeaderGatewayID) != "gw-9" || h.Get(HeaderTimestamp) != "1700000000" || len(h.Get(HeaderNonce)) < 16 {
		t.Fatalf("headers %v", h)
	}
	want := Sign(key, "GET", "/api/v1/gateway/updates?after=5", 1700000000, h.Get(HeaderNonce), "gw-9", nil)
	if h.Get(HeaderSignature) != want {
		t.Fatal("signature does not cover the request URI with its query")
	}
}

func TestKeyEncoding(t *testing.T) {
	k := bytes.Repeat([]byte{0xfe}, KeySize)
	got, err := DecodeKey(EncodeKey(k))
	if err != nil || !bytes.Equal(got, k) {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := DecodeKey("c2hvcnQ"); err == nil {
		t.Fatal("short key accepted")
	}
	if _, err := DecodeKey("!!"); err == nil {
		t.Fatal("bad base64 accepted")
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&Error{Status: 500}, true},
		{&Error{Status: 503}, true},
		{&Error{Status: 429}, true},
		{&Error{Status: 401}, false},
		{&Error{Status: 400}, false},
		{os.ErrDeadlineExceeded, true},
		{nil, false},
	}
	for _, tt := range tests {
		if Retryable(tt.err) != tt.want {
			t.Errorf("Retryable(%v) != %v", tt.err, tt.want)
		}
	}
}
