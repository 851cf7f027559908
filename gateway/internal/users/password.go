package users

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters. They are written into every hash, so they can be raised
// later without breaking stored hashes; a login with an older hash upgrades it.
type Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultParams are OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane): about 50 ms on a
// small ARM box, and bounded in memory by Directory, which runs at most two hashes at once.
func DefaultParams() Params { return Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1} }

const (
	saltLen = 16
	keyLen  = 32
	// MinPasswordLen is the shortest password accepted, in characters.
	MinPasswordLen = 10
	maxPasswordLen = 256
)

// ErrWeakPassword is returned for a password that is too short or otherwise too easy to guess.
var ErrWeakPassword = errors.New("weak password")

// CheckStrength refuses passwords shorter than MinPasswordLen characters, longer than 256
// bytes, or equal to the user's name.
func CheckStrength(name, password string) error {
	switch {
	case utf8.RuneCountInString(password) < MinPasswordLen:
		return fmt.Errorf("users: %w: it must have at least %d characters", ErrWeakPassword, MinPasswordLen)
	case len(password) > maxPasswordLen:
		return fmt.Errorf("users: %w: it may have at most %d bytes", ErrWeakPassword, maxPasswordLen)
	case strings.EqualFold(password, name):
		return fmt.Errorf("users: %w: it must not be the user name", ErrWeakPassword)
	}
	return nil
}

// HashPassword returns the argon2id hash of password in the PHC string format
// ($argon2id$v=19$m=…,t=…,p=…$salt$key) with a fresh random salt.
func HashPassword(password string, p Params) string {
	salt := make([]byte, saltLen)
	rand.Read(salt) // never fails (crypto/rand aborts the program instead)
	return format(p, salt, argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, keyLen))
}

func format(p Params, salt, key []byte) string {
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		enc.EncodeToString(salt), enc.EncodeToString(key))
}

// parseHash reads a PHC argon2id string, refusing costs no sane configuration would set (a
// tampered row must not make one login take a gigabyte).
func parseHash(hash string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, nil, nil, errors.New("users: not an argon2id hash")
	}
	var m, t, th uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &th); err != nil || n != 3 {
		return p, nil, nil, errors.New("users: bad argon2id parameters")
	}
	if m < 8 || m > 256*1024 || t < 1 || t > 16 || th < 1 || th > 16 {
		return p, nil, nil, fmt.Errorf("users: argon2id parameters out of range: m=%d t=%d p=%d", m, t, th)
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	key, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errors.New("users: bad argon2id salt or key")
	}
	return Params{MemoryKiB: m, Time: t, Threads: uint8(th)}, salt, key, nil
}

// VerifyPassword reports whether password matches hash, comparing in constant time. It returns
// an error only for a hash it cannot read.
func VerifyPassword(hash, password string) (bool, error) {
	p, salt, want, err := parseHash(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// hashParams returns the parameters a hash was made with.
func hashParams(hash string) (Params, bool) {
	p, _, _, err := parseHash(hash)
	return p, err == nil
}
