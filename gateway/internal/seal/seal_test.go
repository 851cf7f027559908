package seal

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	key, _ := ParseKey(NewKey())
	s, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ParseKey(NewKey())
	o, _ := New(other)
	plain := []byte(`{"medical_notes":"高血压，心脏支架"}`)
	sealed := s.Seal(plain, "cb-1")
	if !IsSealed(sealed) || strings.Contains(sealed, "高血压") || sealed == s.Seal(plain, "cb-1") {
		t.Fatalf("sealed value %q: not marked, not encrypted, or the nonce repeats", sealed)
	}
	flip := []byte(sealed)
	flip[len(flip)-3] ^= 1
	for _, tc := range []struct {
		name    string
		s       *Sealer
		value   string
		boundTo string
		ok      bool
	}{
		{"same key, same record", s, sealed, "cb-1", true},
		{"another record", s, sealed, "cb-2", false},
		{"another key", o, sealed, "cb-1", false},
		{"altered", s, string(flip), "cb-1", false},
		{"truncated", s, sealed[:12], "cb-1", false},
		{"not sealed", s, "plain text", "cb-1", false},
		{"not base64", s, prefix + "!!!", "cb-1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.s.Open(tc.value, tc.boundTo)
			if (err == nil) != tc.ok || (tc.ok && !bytes.Equal(got, plain)) {
				t.Fatalf("Open = %q, %v; want ok=%v", got, err, tc.ok)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	k := bytes.Repeat([]byte{0xfb}, 32)
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"standard", base64.StdEncoding.EncodeToString(k), true},
		{"url, unpadded", base64.RawURLEncoding.EncodeToString(k), true},
		{"with a newline", base64.StdEncoding.EncodeToString(k) + "\n", true},
		{"16 bytes", base64.StdEncoding.EncodeToString(k[:16]), false},
		{"not base64", "this is not a key", false},
		{"empty", "", false},
	} {
		got, err := ParseKey(tc.in)
		if (err == nil) != tc.ok || (tc.ok && !bytes.Equal(got, k)) {
			t.Errorf("%s: %x, %v", tc.name, got, err)
		}
	}
	if _, err := New(k[:16]); err == nil {
		t.Error("New accepted a 16-byte key")
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.key")
	k1, created, err := LoadOrCreateKeyFile(path)
	if err != nil || !created || len(k1) != KeyLen {
		t.Fatalf("first: %v created=%v len=%d", err, created, len(k1))
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", st.Mode().Perm())
	}
	k2, created, err := LoadOrCreateKeyFile(path)
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("second start made a new key or failed: %v created=%v", err, created)
	}
	os.Chmod(path, 0o644)
	if _, _, err := LoadOrCreateKeyFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable key file was accepted: %v", err)
	}
	os.WriteFile(path, []byte("garbage"), 0o600)
	if _, _, err := LoadOrCreateKeyFile(path); err == nil {
		t.Fatal("a garbage key file was accepted")
	}
}
