// Package seal owns the encryption at rest of residents' private data (medical notes,
// emergency contacts): AES-256-GCM under the site's data key, bound to the record it belongs
// to, with the key taken from the configuration, the environment, or a key file the gateway
// generates in its data directory on first start.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// KeyLen is the data key's length in bytes (AES-256).
const KeyLen = 32

// prefix marks a sealed value and its format version.
const prefix = "seal1:"

// Sealer encrypts and decrypts values with one data key.
type Sealer struct {
	aead cipher.AEAD
}

// New returns a sealer for a 32-byte key.
func New(key []byte) (*Sealer, error) {
	if len(key) != KeyLen {
		return nil, fmt.Errorf("seal: data key must be %d bytes, got %d", KeyLen, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plain with a fresh random nonce. boundTo (e.g. the device id) is authenticated
// but not stored: the value opens only for the same boundTo, so a sealed value copied onto
// another record is refused.
func (s *Sealer) Seal(plain []byte, boundTo string) string {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	rand.Read(nonce) // never fails
	return prefix + base64.RawStdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(boundTo)))
}

// IsSealed reports whether v looks like a value made by Seal.
func IsSealed(v string) bool { return strings.HasPrefix(v, prefix) }

// Open decrypts a value made by Seal for the same boundTo.
func (s *Sealer) Open(sealed, boundTo string) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return nil, errors.New("seal: not a sealed value")
	}
	raw, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil || len(raw) < s.aead.NonceSize()+s.aead.Overhead() {
		return nil, errors.New("seal: malformed sealed value")
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(boundTo))
	if err != nil {
		return nil, errors.New("seal: cannot decrypt: the data key is not the one this value was sealed with, or the value was altered")
	}
	return plain, nil
}

// ParseKey decodes a base64 (standard or URL alphabet, padded or not) 32-byte key.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != KeyLen {
				return nil, fmt.Errorf("seal: data key must decode to %d bytes, got %d", KeyLen, len(k))
			}
			return k, nil
		}
	}
	return nil, errors.New("seal: data key is not base64")
}

// NewKey returns a fresh random key, base64-encoded.
func NewKey() string {
	k := make([]byte, KeyLen)
	rand.Read(k) // never fails
	return base64.StdEncoding.EncodeToString(k)
}

// LoadOrCreateKeyFile reads the key file at path, creating it (mode 0600) with a fresh key if
// it does not exist; created says which happened. A key file that others may read is refused.
func LoadOrCreateKeyFile(path string) (key []byte, created bool, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		_, werr := f.WriteString(NewKey() + "\n")
		if werr == nil {
			werr = f.Sync()
		}
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(path)
			return nil, false, fmt.Errorf("seal: writing key file: %w", werr)
		}
		created = true
	case !errors.Is(err, fs.ErrExist):
		return nil, false, fmt.Errorf("seal: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, false, fmt.Errorf("seal: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, false, fmt.Errorf("seal: key file %s has mode %v: others may read it; chmod 600 it", path, st.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, false, fmt.Errorf("seal: %w", err)
	}
	key, err = ParseKey(string(raw))
	if err != nil {
		return nil, false, fmt.Errorf("%w (in %s)", err, path)
	}
	return key, created, nil
}
