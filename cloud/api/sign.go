package api

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Signing headers. Every gateway request carries all four.
const (
	HeaderGatewayID = "X-Gateway-ID"
	HeaderTimestamp = "X-Timestamp" // Unix seconds, decimal
	HeaderNonce     = "X-Nonce"     // random, 16–64 characters of [A-Za-z0-9_-]; never reused
	HeaderSignature = "X-Signature" // lowercase hex HMAC-SHA256
)

// SignatureScheme names the signing scheme; it is the first line of the string to sign.
const SignatureScheme = "EDGE-HMAC-SHA256"

// ReplayWindow is how far a request's timestamp may be from the cloud's clock.
const ReplayWindow = 5 * time.Minute

// KeySize is the size of a gateway key in bytes.
const KeySize = 32

// StringToSign builds the canonical string a request signature covers:
//
//	EDGE-HMAC-SHA256 \n METHOD \n request-URI (path and raw query) \n timestamp \n nonce \n
//	gateway id \n lowercase hex SHA-256 of the body
func StringToSign(method, requestURI string, ts int64, nonce, gatewayID string, body []byte) string {
	sum := sha256.Sum256(body)
	return SignatureScheme + "\n" + method + "\n" + requestURI + "\n" + strconv.FormatInt(ts, 10) + "\n" +
		nonce + "\n" + gatewayID + "\n" + hex.EncodeToString(sum[:])
}

// Sign returns the lowercase hex HMAC-SHA256 of the string to sign under key.
func Sign(key []byte, method, requestURI string, ts int64, nonce, gatewayID string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(StringToSign(method, requestURI, ts, nonce, gatewayID, body)))
	return hex.EncodeToString(m.Sum(nil))
}

// NewNonce returns a fresh random nonce.
func NewNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// SignRequest sets the four signing headers on req for a body of body (which the caller
// also sets as the request's body).
func SignRequest(req *http.Request, gatewayID string, key []byte, now time.Time, body []byte) {
	ts := now.Unix()
	nonce := NewNonce()
	req.Header.Set(HeaderGatewayID, gatewayID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set(HeaderSignature, Sign(key, req.Method, req.URL.RequestURI(), ts, nonce, gatewayID, body))
}

// EncodeKey renders a gateway key as printed by `cloud gateway add`.
func EncodeKey(key []byte) string { return base64.RawURLEncoding.EncodeToString(key) }

// DecodeKey parses a key printed by `cloud gateway add`.
func DecodeKey(s string) ([]byte, error) {
	k, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("api: gateway key: %w", err)
	}
	if len(k) != KeySize {
		return nil, fmt.Errorf("api: gateway key: %d bytes, want %d", len(k), KeySize)
	}
	return k, nil
}
