package rtsp

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// authenticator answers Basic and Digest (RFC 2617, MD5, qop "auth" or none) challenges.
// It never logs or formats the password.
type authenticator struct {
	user, pass string

	scheme                          string // "", "basic" or "digest"
	realm, nonce, opaque, algorithm string
	qop                             bool
	nc                              int
}

// challenge takes the WWW-Authenticate values of a 401 response. It prefers Digest.
// It reports whether the challenge is usable and differs from the one already answered
// (a second 401 to the same nonce means wrong credentials).
func (a *authenticator) challenge(values []string) bool {
	var digest string
	basic := false
	for _, v := range values {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
		switch strings.ToLower(scheme) {
		case "digest":
			if digest == "" {
				digest = rest
			}
		case "basic":
			basic = true
		}
	}
	if digest != "" {
		p := parseAuthParams(digest)
		alg := p["algorithm"]
		if alg != "" && !strings.EqualFold(alg, "MD5") {
			return false
		}
		stale := strings.EqualFold(p["stale"], "true")
		if a.scheme == "digest" && p["nonce"] == a.nonce && !stale {
			return false
		}
		a.scheme, a.realm, a.nonce, a.opaque, a.algorithm = "digest", p["realm"], p["nonce"], p["opaque"], alg
		a.qop = false
		for _, q := range strings.Split(p["qop"], ",") {
			if strings.TrimSpace(q) == "auth" {
				a.qop = true
			}
		}
		a.nc = 0
		return true
	}
	if !basic || a.scheme == "basic" {
		return false
	}
	a.scheme = "basic"
	return true
}

// header returns the Authorization header for a request, or "" before any challenge.
func (a *authenticator) header(method, uri string) string {
	switch a.scheme {
	case "basic":
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(a.user+":"+a.pass))
	case "digest":
		ha1 := md5hex(a.user + ":" + a.realm + ":" + a.pass)
		ha2 := md5hex(method + ":" + uri)
		var b strings.Builder
		fmt.Fprintf(&b, `Digest username="%s", realm="%s", nonce="%s", uri="%s"`, a.user, a.realm, a.nonce, uri)
		if a.qop {
			a.nc++
			nc := fmt.Sprintf("%08x", a.nc)
			cnonce := randomHex(8)
			resp := md5hex(ha1 + ":" + a.nonce + ":" + nc + ":" + cnonce + ":auth:" + ha2)
			fmt.Fprintf(&b, `, response="%s", qop=auth, nc=%s, cnonce="%s"`, resp, nc, cnonce)
		} else {
			fmt.Fprintf(&b, `, response="%s"`, md5hex(ha1+":"+a.nonce+":"+ha2))
		}
		if a.opaque != "" {
			fmt.Fprintf(&b, `, opaque="%s"`, a.opaque)
		}
		if a.algorithm != "" {
			fmt.Fprintf(&b, `, algorithm=%s`, a.algorithm)
		}
		return b.String()
	}
	return ""
}

// DigestResponse computes the Digest response without qop, as a server verifies it:
// MD5(MD5(user:realm:pass):nonce:MD5(method:uri)). With qop "auth" pass nc, cnonce and
// qop; otherwise leave them empty. It is exported for the camera simulator.
func DigestResponse(user, realm, pass, method, uri, nonce, nc, cnonce, qop string) string {
	ha1 := md5hex(user + ":" + realm + ":" + pass)
	ha2 := md5hex(method + ":" + uri)
	if qop != "" {
		return md5hex(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":" + qop + ":" + ha2)
	}
	return md5hex(ha1 + ":" + nonce + ":" + ha2)
}

// ParseAuthParams parses the comma-separated key=value (optionally quoted) list after an
// authentication scheme name. Keys are lowercased.
func ParseAuthParams(s string) map[string]string { return parseAuthParams(s) }

func parseAuthParams(s string) map[string]string {
	p := make(map[string]string)
	for len(s) > 0 && len(p) < 32 {
		s = strings.TrimLeft(s, " \t,")
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			break
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val string
		if strings.HasPrefix(s, `"`) {
			end := 1
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			if end > len(s) {
				end = len(s)
			}
			val = strings.ReplaceAll(s[1:end], `\"`, `"`)
			if end < len(s) {
				end++
			}
			s = s[end:]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val = strings.TrimSpace(s[:end])
			s = s[end:]
		}
		p[key] = val
	}
	return p
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
