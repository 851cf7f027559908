package users

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/community-edge/edge/gateway/internal/audit"
	"github.com/community-edge/edge/gateway/internal/store"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// cheap are argon2id parameters that keep tests fast; the format is the same.
var cheap = Params{MemoryKiB: 64, Time: 1, Threads: 1}

func newDirectory(t *testing.T) (*Directory, *clock, *store.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, m := range []store.Migrator{audit.Migrations, Migrations} {
		if err := st.Migrate(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	c := &clock{t: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)}
	d := New(st.DB(), Options{SessionLifetime: 12 * time.Hour, SessionIdle: 30 * time.Minute, Params: cheap, Now: c.Now},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	return d, c, st
}

var cli = Actor{Name: "test"}

func mustAdd(t *testing.T, d *Directory, name, role, pw string) User {
	t.Helper()
	u, err := d.Add(context.Background(), cli, User{Name: name, Role: role}, pw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestCheckStrength(t *testing.T) {
	for _, tc := range []struct {
		name, pw string
		ok       bool
	}{
		{"li", "short", false},
		{"li", "123456789", false},
		{"li", "1234567890", true},
		{"li", "值班密码值班密码值班密", true}, // 11 characters, counted as characters not bytes
		{"li", "值班密码值班密码值", false},
		{"zhangwei01", "ZhangWei01", false}, // the user name
		{"li", strings.Repeat("a", 257), false},
	} {
		err := CheckStrength(tc.name, tc.pw)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrWeakPassword)) {
			t.Errorf("CheckStrength(%q, %q) = %v, want ok=%v", tc.name, tc.pw, err, tc.ok)
		}
	}
}

func TestHashPassword(t *testing.T) {
	h1 := HashPassword("correct horse battery", cheap)
	h2 := HashPassword("correct horse battery", cheap)
	if h1 == h2 {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q does not carry its parameters", h1)
	}
	if p, ok := hashParams(HashPassword("x", DefaultParams())); !ok || p != DefaultParams() {
		t.Fatalf("default parameters not recorded: %+v", p)
	}
	for _, tc := range []struct {
		name, hash, pw string
		ok, err        bool
	}{
		{"right password", h1, "correct horse battery", true, false},
		{"wrong password", h1, "correct horse battery!", false, false},
		{"empty password", h1, "", false, false},
		{"other salt, same password", h2, "correct horse battery", true, false},
		{"bcrypt hash", "$2a$10$abcdefghijklmnopqrstuu", "x", false, true},
		{"truncated", h1[:len(h1)-20], "correct horse battery", false, false},
		{"memory too large", strings.Replace(h1, "m=64", "m=4194304", 1), "x", false, true},
		{"bad version", strings.Replace(h1, "v=19", "v=16", 1), "x", false, true},
		{"empty", "", "x", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := VerifyPassword(tc.hash, tc.pw)
			if ok != tc.ok || (err != nil) != tc.err {
				t.Fatalf("VerifyPassword = %v, %v; want %v, error %v", ok, err, tc.ok, tc.err)
			}
		})
	}
}

func TestLimiter(t *testing.T) {
	type step struct {
		advance time.Duration
		op      string // fail, reset, wait
		want    time.Duration
	}
	fails := func(n int) []step {
		var s []step
		for range n {
			s = append(s, step{op: "fail"})
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"under the threshold no lockout", append(fails(4), step{op: "wait", want: 0})},
		{"threshold locks for base", append(fails(4), step{op: "fail", want: 30 * time.Second}, step{op: "wait", want: 30 * time.Second})},
		{"each further failure doubles", append(fails(5), step{op: "fail", want: time.Minute}, step{op: "fail", want: 2 * time.Minute})},
		{"capped at max", append(fails(20), step{op: "fail", want: 15 * time.Minute})},
		{"lockout runs out", append(fails(5), step{advance: 31 * time.Second, op: "wait", want: 0})},
		{"wait counts down", append(fails(5), step{advance: 10 * time.Second, op: "wait", want: 20 * time.Second})},
		{"success forgets", append(fails(4), step{op: "reset"}, step{op: "fail", want: 0}, step{op: "wait", want: 0})},
		{"forgotten after an hour quiet", append(fails(4), step{advance: 61 * time.Minute, op: "fail", want: 0})},
		{"not forgotten within the hour", append(fails(4), step{advance: 59 * time.Minute, op: "fail", want: 30 * time.Second})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: time.Unix(1e9, 0)}
			l := NewLimiter(5, 30*time.Second, 15*time.Minute, time.Hour, c.Now)
			for i, s := range tc.steps {
				c.Advance(s.advance)
				var got time.Duration
				switch s.op {
				case "fail":
					got = l.Fail("k")
				case "reset":
					l.Reset("k")
					continue
				case "wait":
					got = l.Wait("k")
				}
				if (s.op == "wait" || i == len(tc.steps)-1 || s.want != 0) && got != s.want {
					t.Fatalf("step %d (%s): got %s, want %s", i, s.op, got, s.want)
				}
			}
			if l.Wait("other") != 0 {
				t.Fatal("keys are not independent")
			}
		})
	}
}

func TestLimiterStaysBounded(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	l := NewLimiter(5, time.Second, time.Minute, time.Minute, c.Now)
	for i := range maxKeys + 1000 {
		l.Fail(strings.Repeat("x", i%7) + string(rune('a'+i%26)) + time.Duration(i).String())
	}
	if n := len(l.keys); n > maxKeys {
		t.Fatalf("limiter holds %d keys, more than %d", n, maxKeys)
	}
}

func TestLoginAnswersUnknownUsersLikeWrongPasswords(t *testing.T) {
	d, _, st := newDirectory(t)
	ctx := context.Background()
	mustAdd(t, d, "duty1", "duty", "duty-password-1")
	u := mustAdd(t, d, "gone", "duty", "gone-password-1")
	if _, err := d.Update(ctx, cli, u.Name, Change{Disabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, user, pw string }{
		{"wrong password", "duty1", "not-the-password"},
		{"unknown user", "nobody", "not-the-password"},
		{"disabled user, right password", "gone", "gone-password-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := d.Login(ctx, tc.user, tc.pw, "10.0.0.1:5000")
			if !errors.Is(err, ErrBadLogin) || err.Error() != "users: wrong user name or password" {
				t.Fatalf("got %v, want exactly ErrBadLogin", err)
			}
		})
	}
	es, err := audit.List(ctx, st.DB(), audit.Filter{ActionPrefix: "user.login_failed"})
	if err != nil || len(es) != 3 {
		t.Fatalf("want 3 failed logins audited, got %d (%v)", len(es), err)
	}
	if _, _, err := d.Login(ctx, " DUTY1 ", "duty-password-1", "10.0.0.1:5000"); err != nil {
		t.Fatalf("login with the name in another case: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestLoginRateLimits(t *testing.T) {
	d, c, _ := newDirectory(t)
	ctx := context.Background()
	mustAdd(t, d, "duty1", "duty", "duty-password-1")
	login := func(user, pw, remote string) error { _, _, err := d.Login(ctx, user, pw, remote); return err }

	// Per user name: the 5th failure locks, whatever the address.
	for i := range 5 {
		err := login("duty1", "wrong-password", "10.0.0."+string(rune('1'+i))+":1")
		var rl *RateLimitedError
		if i < 4 && !errors.Is(err, ErrBadLogin) || i == 4 && !errors.As(err, &rl) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	var rl *RateLimitedError
	if err := login("duty1", "duty-password-1", "10.9.9.9:1"); !errors.As(err, &rl) || rl.RetryAfter != 30*time.Second {
		t.Fatalf("the right password during the lockout: %v", err)
	}
	c.Advance(31 * time.Second)
	if err := login("duty1", "duty-password-1", "10.9.9.9:1"); err != nil {
		t.Fatalf("after the lockout: %v", err)
	}

	// Per address: 10 failures over different names lock the address for everyone there.
	for i := range 10 {
		err := login("guess"+string(rune('a'+i)), "wrong-password", "192.168.1.50:4000")
		if i < 9 && !errors.Is(err, ErrBadLogin) || i == 9 && !errors.As(err, &rl) {
			t.Fatalf("address failure %d: %v", i+1, err)
		}
	}
	if err := login("duty1", "duty-password-1", "192.168.1.50:4001"); !errors.As(err, &rl) {
		t.Fatalf("a locked address logged in: %v", err)
	}
	if err := login("duty1", "duty-password-1", "192.168.1.51:4001"); err != nil {
		t.Fatalf("another address is locked too: %v", err)
	}
}

func TestSessions(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		steps   []time.Duration // advance the clock, then use the session
		wantErr bool            // on the last step
	}{
		{"fresh", []time.Duration{0}, false},
		{"used within the idle timeout", []time.Duration{29 * time.Minute}, false},
		{"idle too long", []time.Duration{30 * time.Minute}, true},
		{"kept alive by use", []time.Duration{20 * time.Minute, 20 * time.Minute, 20 * time.Minute}, false},
		{"expires however active", []time.Duration{25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute,
			25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute,
			25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute,
			25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute,
			25 * time.Minute, 25 * time.Minute, 25 * time.Minute}, true}, // 29 × 25 min > 12 h
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, c, _ := newDirectory(t)
			mustAdd(t, d, "duty1", "duty", "duty-password-1")
			tok, s, err := d.Login(ctx, "duty1", "duty-password-1", "10.0.0.1:1")
			if err != nil {
				t.Fatal(err)
			}
			if len(tok) < 43 || len(s.CSRF) < 43 || tok == s.CSRF {
				t.Fatalf("session token %q / csrf %q are not two 256-bit secrets", tok, s.CSRF)
			}
			for i, adv := range tc.steps {
				c.Advance(adv)
				got, err := d.Session(ctx, tok)
				last := i == len(tc.steps)-1
				if last && tc.wantErr {
					if !errors.Is(err, ErrNoSession) {
						t.Fatalf("step %d: got %v, want ErrNoSession", i, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if got.User.Name != "duty1" || got.User.Role != "duty" || got.CSRF != s.CSRF {
					t.Fatalf("step %d: session %+v", i, got)
				}
			}
		})
	}
}

func TestSessionEnds(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		end  func(d *Directory, tok string) error
	}{
		{"logout", func(d *Directory, tok string) error { return d.Logout(ctx, tok, "") }},
		{"disabled", func(d *Directory, _ string) error {
			_, err := d.Update(ctx, cli, "duty1", Change{Disabled: ptr(true)})
			return err
		}},
		{"removed", func(d *Directory, _ string) error { return d.Remove(ctx, cli, "duty1") }},
		{"password reset by an admin", func(d *Directory, _ string) error {
			return d.SetPassword(ctx, cli, "duty1", "a-new-password-2")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _, _ := newDirectory(t)
			mustAdd(t, d, "admin", "admin", "admin-password-1")
			mustAdd(t, d, "duty1", "duty", "duty-password-1")
			tok, _, err := d.Login(ctx, "duty1", "duty-password-1", "")
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.end(d, tok); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Session(ctx, tok); !errors.Is(err, ErrNoSession) {
				t.Fatalf("session still live: %v", err)
			}
		})
	}
}

func TestChangeOwnPassword(t *testing.T) {
	d, _, _ := newDirectory(t)
	ctx := context.Background()
	mustAdd(t, d, "duty1", "duty", "duty-password-1")
	here, _, _ := d.Login(ctx, "duty1", "duty-password-1", "")
	other, _, _ := d.Login(ctx, "duty1", "duty-password-1", "")
	if err := d.ChangePassword(ctx, cli, "duty1", "wrong-old-password", "duty-password-2", here); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("wrong old password: %v", err)
	}
	if err := d.ChangePassword(ctx, cli, "duty1", "duty-password-1", "short", here); !errors.Is(err, ErrWeakPassword) {
		t.Fatalf("weak new password: %v", err)
	}
	if err := d.ChangePassword(ctx, cli, "duty1", "duty-password-1", "duty-password-2", here); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Session(ctx, here); err != nil {
		t.Fatalf("the session that changed the password ended: %v", err)
	}
	if _, err := d.Session(ctx, other); !errors.Is(err, ErrNoSession) {
		t.Fatalf("another session survived the change: %v", err)
	}
	if _, _, err := d.Login(ctx, "duty1", "duty-password-2", ""); err != nil {
		t.Fatalf("new password: %v", err)
	}
}

func TestLastAdminIsKept(t *testing.T) {
	d, _, _ := newDirectory(t)
	ctx := context.Background()
	mustAdd(t, d, "root", "admin", "admin-password-1")
	for _, tc := range []struct {
		name string
		do   func() error
	}{
		{"remove", func() error { return d.Remove(ctx, cli, "root") }},
		{"disable", func() error { _, err := d.Update(ctx, cli, "root", Change{Disabled: ptr(true)}); return err }},
		{"demote", func() error { _, err := d.Update(ctx, cli, "root", Change{Role: ptr("duty")}); return err }},
	} {
		if err := tc.do(); !errors.Is(err, ErrLastAdmin) {
			t.Errorf("%s the last admin: %v", tc.name, err)
		}
	}
	mustAdd(t, d, "root2", "admin", "admin-password-2")
	if err := d.Remove(ctx, cli, "root"); err != nil {
		t.Fatalf("remove an admin with another left: %v", err)
	}
}

func TestAddValidates(t *testing.T) {
	d, _, st := newDirectory(t)
	ctx := context.Background()
	mustAdd(t, d, "duty1", "duty", "duty-password-1")
	for _, tc := range []struct {
		name string
		u    User
		pw   string
		want error
	}{
		{"duplicate", User{Name: "duty1", Role: "duty"}, "duty-password-1", ErrExists},
		{"duplicate in another case", User{Name: "Duty1", Role: "duty"}, "duty-password-1", ErrExists},
		{"bad role", User{Name: "x", Role: "root"}, "duty-password-1", ErrInvalid},
		{"bad name", User{Name: "a b", Role: "duty"}, "duty-password-1", ErrInvalid},
		{"weak password", User{Name: "y", Role: "duty"}, "123", ErrWeakPassword},
	} {
		if _, err := d.Add(ctx, cli, tc.u, tc.pw); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	es, _ := audit.List(ctx, st.DB(), audit.Filter{ActionPrefix: "user.add"})
	if len(es) != 1 || es[0].Target != "duty1" || es[0].Actor != "test" {
		t.Fatalf("audit: %+v", es)
	}
}

func TestLoginUpgradesOldHashes(t *testing.T) {
	d, _, st := newDirectory(t)
	ctx := context.Background()
	mustAdd(t, d, "duty1", "duty", "duty-password-1")
	old := HashPassword("duty-password-1", Params{MemoryKiB: 32, Time: 1, Threads: 1})
	if _, err := st.DB().Exec(`UPDATE users SET password_hash = ? WHERE name = 'duty1'`, old); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Login(ctx, "duty1", "duty-password-1", ""); err != nil {
		t.Fatal(err)
	}
	var h string
	st.DB().QueryRow(`SELECT password_hash FROM users WHERE name = 'duty1'`).Scan(&h)
	if p, _ := hashParams(h); p != cheap {
		t.Fatalf("hash not upgraded: %s", h)
	}
}

func TestPersonalTokens(t *testing.T) {
	d, _, _ := newDirectory(t)
	ctx := context.Background()
	mustAdd(t, d, "inst", "installer", "installer-pass-1")
	secret, tok, err := d.NewToken(ctx, cli, "inst", "nightly export")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, TokenPrefix) {
		t.Fatalf("token %q", secret)
	}
	if u, err := d.TokenUser(ctx, secret); err != nil || u.Name != "inst" || u.Role != "installer" {
		t.Fatalf("TokenUser: %+v %v", u, err)
	}
	for _, bad := range []string{"", secret + "x", TokenPrefix, "Bearer " + secret} {
		if _, err := d.TokenUser(ctx, bad); !errors.Is(err, ErrNoSession) {
			t.Errorf("TokenUser(%q) = %v", bad, err)
		}
	}
	if _, err := d.Update(ctx, cli, "inst", Change{Role: ptr("security")}); err != nil {
		t.Fatal(err)
	}
	if u, _ := d.TokenUser(ctx, secret); u.Role != "security" {
		t.Fatalf("a role change did not reach the token: %+v", u)
	}
	if err := d.RevokeToken(ctx, cli, "someone-else", tok.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoked another user's token: %v", err)
	}
	if err := d.RevokeToken(ctx, cli, "inst", tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.TokenUser(ctx, secret); !errors.Is(err, ErrNoSession) {
		t.Fatalf("revoked token still works: %v", err)
	}
}
