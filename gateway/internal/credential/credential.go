// Package credential owns device MQTT passwords: generating them, hashing them in Mosquitto's
// password-file format ($7$, PBKDF2-SHA512), so one hash serves the embedded broker and a
// Mosquitto password file alike, and checking a password against a hash in constant time.
package credential

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Iterations is the PBKDF2 iteration count of new hashes. Mosquitto's mosquitto_passwd uses
// 101 for the same format; device passwords are long random strings, so a high count buys
// little and would slow down a reconnect storm of a thousand devices on a small box.
const Iterations = 1000

const saltLen = 12

// ErrMismatch means the password does not match the hash.
var ErrMismatch = errors.New("credential: password does not match")

// Hash returns the Mosquitto $7$ hash of password with a fresh random salt.
func Hash(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("credential: salt: %w", err)
	}
	return hashWith(password, salt, Iterations)
}

func hashWith(password string, salt []byte, iter int) (string, error) {
	key, err := pbkdf2.Key(sha512.New, password, salt, iter, sha512.Size)
	if err != nil {
		return "", fmt.Errorf("credential: %w", err)
	}
	enc := base64.StdEncoding
	return "$7$" + strconv.Itoa(iter) + "$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(key), nil
}

// Verify checks password against a $7$ (PBKDF2-SHA512) or $6$ (salted SHA-512) hash as written
// by mosquitto_passwd. It returns ErrMismatch for a wrong password and another error for a
// hash it cannot read.
func Verify(hash, password string) error {
	parts := strings.Split(hash, "$")
	enc := base64.StdEncoding
	switch {
	case len(parts) == 5 && parts[1] == "7":
		iter, err := strconv.Atoi(parts[2])
		if err != nil || iter < 1 || iter > 10_000_000 {
			return fmt.Errorf("credential: bad iteration count in hash")
		}
		salt, err1 := enc.DecodeString(parts[3])
		want, err2 := enc.DecodeString(parts[4])
		if err1 != nil || err2 != nil || len(want) == 0 {
			return fmt.Errorf("credential: bad base64 in hash")
		}
		got, err := pbkdf2.Key(sha512.New, password, salt, iter, len(want))
		if err != nil {
			return fmt.Errorf("credential: %w", err)
		}
		if subtle.ConstantTimeCompare(got, want) != 1 {
			return ErrMismatch
		}
		return nil
	case len(parts) == 4 && parts[1] == "6":
		salt, err1 := enc.DecodeString(parts[2])
		want, err2 := enc.DecodeString(parts[3])
		if err1 != nil || err2 != nil {
			return fmt.Errorf("credential: bad base64 in hash")
		}
		h := sha512.New()
		h.Write([]byte(password))
		h.Write(salt)
		if subtle.ConstantTimeCompare(h.Sum(nil), want) != 1 {
			return ErrMismatch
		}
		return nil
	}
	return fmt.Errorf("credential: unknown hash format")
}

// NewPassword returns a random password of 24 URL-safe characters (144 bits).
func NewPassword() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("credential: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
