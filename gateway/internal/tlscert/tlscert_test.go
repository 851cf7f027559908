package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSelfSigned(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	now := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	c, err := SelfSigned(dir, []string{"gw.community.local", "192.168.10.2"}, now)
	if err != nil {
		t.Fatal(err)
	}
	leaf := c.Config.Certificates[0].Leaf
	if !c.Generated || leaf.PublicKeyAlgorithm != x509.ECDSA || leaf.PublicKey.(*ecdsa.PublicKey).Curve != elliptic.P256() {
		t.Fatalf("not a fresh ECDSA P-256 certificate: %+v", leaf)
	}
	for _, h := range []string{"gw.community.local", "192.168.10.2", "localhost", "127.0.0.1"} {
		if err := leaf.VerifyHostname(h); err != nil {
			t.Errorf("certificate does not cover %s: %v", h, err)
		}
	}
	if st, _ := os.Stat(filepath.Join(dir, "self-signed.key")); st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", st.Mode().Perm())
	}
	for _, tc := range []struct {
		name    string
		hosts   []string
		at      time.Time
		renewed bool
	}{
		{"same hosts, later", []string{"192.168.10.2"}, now.Add(365 * 24 * time.Hour), false},
		{"a new host name", []string{"gw.community.local", "gw2.local"}, now, true},
		{"near expiry", []string{"gw.community.local"}, now.Add(Validity - 10*24*time.Hour), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := SelfSigned(dir, []string{"gw.community.local", "192.168.10.2"}, now)
			got, err := SelfSigned(dir, tc.hosts, tc.at)
			if err != nil {
				t.Fatal(err)
			}
			if got.Generated != tc.renewed || (got.Fingerprint != before.Fingerprint) != tc.renewed {
				t.Fatalf("renewed=%v (fingerprint %s → %s), want %v", got.Generated, before.Fingerprint, got.Fingerprint, tc.renewed)
			}
		})
	}
}

func TestServesAndLoads(t *testing.T) {
	dir := t.TempDir()
	c, err := SelfSigned(dir, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(filepath.Join(dir, "self-signed.crt"), filepath.Join(dir, "self-signed.key"))
	if err != nil || loaded.Fingerprint != c.Fingerprint {
		t.Fatalf("Load: %v", err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = loaded.Config
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(c.Config.Certificates[0].Leaf)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := cl.Get("https://localhost:" + port + "/")
	if err != nil {
		t.Fatalf("a client trusting the certificate cannot connect: %v", err)
	}
	resp.Body.Close()
	if _, err := Load(filepath.Join(dir, "self-signed.crt"), filepath.Join(dir, "missing.key")); err == nil {
		t.Fatal("Load without a key succeeded")
	}
}
