package rtsp

import (
	"strings"
	"testing"
)

func TestDigestRFC2617(t *testing.T) {
	// RFC 2617 section 3.5 example.
	got := DigestResponse("Mufasa", "testrealm@host.com", "Circle Of Life", "GET", "/dir/index.html",
		"dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b", "auth")
	if want := "6629fae49393a05397450978507c4ef1"; got != want {
		t.Fatalf("response %s, want %s", got, want)
	}
}

func TestAuthenticator(t *testing.T) {
	tests := []struct {
		name      string
		challenge []string
		ok        bool
		contains  []string
	}{
		{"digest without qop", []string{`Digest realm="cam", nonce="abc"`}, true,
			[]string{`Digest username="u"`, `realm="cam"`, `nonce="abc"`, `uri="rtsp://h/s"`,
				`response="` + DigestResponse("u", "cam", "p", "DESCRIBE", "rtsp://h/s", "abc", "", "", "") + `"`}},
		{"digest preferred over basic", []string{`Basic realm="cam"`, `Digest realm="cam", nonce="n", qop="auth,auth-int", opaque="o"`}, true,
			[]string{"qop=auth", "nc=00000001", `opaque="o"`, "cnonce="}},
		{"basic", []string{`Basic realm="cam"`}, true, []string{"Basic dTpw"}},
		{"unsupported algorithm", []string{`Digest realm="cam", nonce="n", algorithm=SHA-256`}, false, nil},
		{"no challenge", nil, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := authenticator{user: "u", pass: "p"}
			if ok := a.challenge(tc.challenge); ok != tc.ok {
				t.Fatalf("challenge = %v, want %v", ok, tc.ok)
			}
			h := a.header("DESCRIBE", "rtsp://h/s")
			for _, c := range tc.contains {
				if !strings.Contains(h, c) {
					t.Errorf("header %q lacks %q", h, c)
				}
			}
			if tc.ok && a.challenge(tc.challenge) {
				t.Errorf("the same challenge again must be refused (wrong credentials)")
			}
		})
	}
}

func TestAuthenticatorStaleNonce(t *testing.T) {
	a := authenticator{user: "u", pass: "p"}
	a.challenge([]string{`Digest realm="r", nonce="1"`})
	if !a.challenge([]string{`Digest realm="r", nonce="2", stale=TRUE`}) {
		t.Fatal("a stale nonce must be retried")
	}
}

func TestParseAuthParams(t *testing.T) {
	p := parseAuthParams(`realm="a, b", nonce=xyz ,qop="auth", esc="q\"x"`)
	if p["realm"] != "a, b" || p["nonce"] != "xyz" || p["qop"] != "auth" || p["esc"] != `q"x` {
		t.Fatalf("%q", p)
	}
}
