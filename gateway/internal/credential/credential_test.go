package credential

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestHashVerify(t *testing.T) {
	h, err := Hash("s3cret-password")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$7$1000$") {
		t.Fatalf("hash %q is not a $7$ hash", h)
	}
	if err := Verify(h, "s3cret-password"); err != nil {
		t.Fatalf("right password refused: %v", err)
	}
	if err := Verify(h, "s3cret-passwore"); err != ErrMismatch {
		t.Fatalf("wrong password: got %v, want ErrMismatch", err)
	}
	h2, _ := Hash("s3cret-password")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt is not random")
	}
}

func TestVerifyRejectsBadHashes(t *testing.T) {
	for _, h := range []string{"", "plain", "$7$x$AAAA$AAAA", "$7$1000$!!$AAAA", "$7$1000$AAAA$", "$6$!!$AA", "$2a$10$abc", "$7$99999999999$AAAA$AAAA"} {
		if err := Verify(h, "pw"); err == nil || err == ErrMismatch {
			t.Errorf("Verify(%q) = %v, want a format error", h, err)
		}
	}
}

// TestMosquittoPasswdCompatible checks both directions against the real mosquitto_passwd:
// a hash it writes verifies here, and a password file written here is accepted by Mosquitto's
// own tool when it updates the file (it re-reads and keeps our lines).
func TestMosquittoPasswdCompatible(t *testing.T) {
	bin, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		t.Fatalf("mosquitto_passwd not found (install the mosquitto package; .ci/install-deps does): %v", err)
	}
	f := filepath.Join(t.TempDir(), "passwd")
	if out, err := exec.Command(bin, "-c", "-b", f, "cb-0001", "pendant-pass-1").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v: %s", err, out)
	}
	raw, _ := os.ReadFile(f)
	user, hash, _ := strings.Cut(strings.TrimSpace(string(raw)), ":")
	if user != "cb-0001" {
		t.Fatalf("unexpected passwd line %q", raw)
	}
	if err := Verify(hash, "pendant-pass-1"); err != nil {
		t.Fatalf("hash written by mosquitto_passwd not verified: %v (%s)", err, hash)
	}
	if err := Verify(hash, "pendant-pass-2"); err != ErrMismatch {
		t.Fatalf("wrong password against mosquitto hash: %v", err)
	}
	ours, _ := Hash("locker-pass-22")
	fh, _ := os.OpenFile(f, os.O_APPEND|os.O_WRONLY, 0o600)
	fh.WriteString("lk-01:" + ours + "\n")
	fh.Close()
	// mosquitto_passwd -U would rehash plain lines; adding a user makes it parse every line.
	if out, err := exec.Command(bin, "-b", f, "ch-01", "charger-pass-33").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd refused a file with our hash: %v: %s", err, out)
	}
	fh, _ = os.Open(f)
	defer fh.Close()
	found := false
	for sc := bufio.NewScanner(fh); sc.Scan(); {
		if u, h, _ := strings.Cut(sc.Text(), ":"); u == "lk-01" {
			found = h == ours
		}
	}
	if !found {
		t.Fatal("mosquitto_passwd dropped or changed our hash")
	}
}
