// Package tlscert owns the certificate the gateway's web server presents: a configured
// certificate and key, or a self-signed ECDSA P-256 certificate for the box's host names and
// addresses that the gateway makes once, keeps under its data directory and renews when it
// nears expiry or the configured names change.
package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Validity of a generated certificate, and how long before expiry it is renewed.
const (
	Validity   = 825 * 24 * time.Hour
	RenewAhead = 30 * 24 * time.Hour
)

// Cert is a certificate ready to serve.
type Cert struct {
	Config      *tls.Config
	Fingerprint string // SHA-256 of the leaf, hex, for installers to compare with the browser's
	NotAfter    time.Time
	Generated   bool // made by this call (self-signed)
	CertFile    string
}

func serverConfig(pair tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
}

func describe(pair tls.Certificate, certFile string, generated bool) (*Cert, error) {
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("tlscert: %s: %w", certFile, err)
	}
	pair.Leaf = leaf
	sum := sha256.Sum256(leaf.Raw)
	return &Cert{Config: serverConfig(pair), Fingerprint: hex.EncodeToString(sum[:]), NotAfter: leaf.NotAfter,
		Generated: generated, CertFile: certFile}, nil
}

// Load reads a configured PEM certificate (chain) and key.
func Load(certFile, keyFile string) (*Cert, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tlscert: %w", err)
	}
	return describe(pair, certFile, false)
}

// Hosts returns the names a self-signed certificate covers: hosts plus localhost and 127.0.0.1.
func Hosts(hosts []string) []string {
	out := []string{"localhost", "127.0.0.1"}
	for _, h := range hosts {
		if h = strings.TrimSpace(h); h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// SelfSigned returns the self-signed certificate kept in dir (self-signed.crt and .key),
// making a new one when there is none, it expires within RenewAhead of now, or it does not
// cover every one of Hosts(hosts).
func SelfSigned(dir string, hosts []string, now time.Time) (*Cert, error) {
	certFile, keyFile := filepath.Join(dir, "self-signed.crt"), filepath.Join(dir, "self-signed.key")
	want := Hosts(hosts)
	// A missing, unreadable or mismatched pair is replaced below.
	if pair, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil {
		if c, err := describe(pair, certFile, false); err == nil && now.Add(RenewAhead).Before(c.NotAfter) &&
			covers(c.Config.Certificates[0].Leaf, want) {
			return c, nil
		}
	}
	certPEM, keyPEM, err := generate(want, now)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tlscert: %w", err)
	}
	if err := writeFile(keyFile, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeFile(certFile, certPEM, 0o644); err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tlscert: %w", err)
	}
	return describe(pair, certFile, true)
}

func covers(leaf *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
				return false
			}
		} else if !slices.Contains(leaf.DNSNames, h) {
			return false
		}
	}
	return true
}

func generate(hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tlscert: key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("tlscert: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "community edge gateway " + hosts[len(hosts)-1], Organization: []string{"community edge gateway"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(Validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlscert: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlscert: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// writeFile replaces path atomically.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("tlscert: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("tlscert: %w", err)
	}
	return nil
}
