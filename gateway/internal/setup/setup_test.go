package setup

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/community-edge/edge/gateway/internal/audit"
	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/store"
	"github.com/community-edge/edge/gateway/internal/users"
)

func TestIsLAN(t *testing.T) {
	for _, tc := range []struct {
		addr string
		lan  bool
	}{
		{"127.0.0.1", true},
		{"127.8.9.10", true},
		{"::1", true},
		{"10.0.0.7", true},
		{"172.16.0.1", true},
		{"172.31.255.254", true},
		{"192.168.1.20", true},
		{"169.254.10.20", true}, // a laptop cabled straight to the box, no DHCP
		{"fd12:3456:789a::1", true},
		{"fc00::1", true},
		{"fe80::1%eth0", true},
		{"::ffff:192.168.1.20", true}, // IPv4-mapped
		{"::ffff:8.8.8.8", false},
		{"8.8.8.8", false},
		{"172.32.0.1", false},
		{"172.15.255.255", false},
		{"192.169.0.1", false},
		{"100.64.0.1", false}, // carrier-grade NAT is not the box's LAN
		{"11.0.0.1", false},
		{"2001:db8::1", false},
		{"2400:3200::1", false},
		{"0.0.0.0", false},
		{"::", false},
		{"224.0.0.1", false},
		{"ff02::1", false},
		{"255.255.255.255", false},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			if got := IsLAN(netip.MustParseAddr(tc.addr)); got != tc.lan {
				t.Fatalf("IsLAN(%s) = %v, want %v", tc.addr, got, tc.lan)
			}
		})
	}
}

func TestRemoteIsLAN(t *testing.T) {
	for _, tc := range []struct {
		remote string
		lan    bool
	}{
		{"127.0.0.1:5123", true},
		{"[::1]:5123", true},
		{"[fe80::1%eth0]:5123", true},
		{"192.168.1.5:40000", true},
		{"10.1.2.3", true}, // no port
		{"203.0.113.9:40000", false},
		{"[2001:db8::1]:443", false},
		{"", false},
		{"localhost:80", false}, // a name is not an address
		{"192.168.1.5:notaport", false},
		{"@", false},
	} {
		t.Run(tc.remote, func(t *testing.T) {
			if got := RemoteIsLAN(tc.remote); got != tc.lan {
				t.Fatalf("RemoteIsLAN(%q) = %v, want %v", tc.remote, got, tc.lan)
			}
		})
	}
}

func FuzzRemoteIsLAN(f *testing.F) {
	for _, s := range []string{"127.0.0.1:1", "[fe80::1%eth0]:2", "::ffff:10.0.0.1", "", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if RemoteIsLAN(s) {
			// whatever was accepted must be an address that parses and is local
			a, err := netip.ParseAddr(s)
			if err != nil {
				ap, err2 := netip.ParseAddrPort(s)
				if err2 != nil {
					t.Fatalf("accepted %q, which is no address", s)
				}
				a = ap.Addr()
			}
			if !IsLAN(a) {
				t.Fatalf("accepted %q", s)
			}
		}
	})
}

func good() Request {
	return Request{Admin: "zhang.admin", Password: "a-good-password", PasswordConfirm: "a-good-password",
		SiteName: "幸福里社区", SiteCode: "xingfuli", TimeZone: "Asia/Urumqi", GridCode: "650102003004005"}
}

func TestRequestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Request)
		want []string // fields reported
	}{
		{"good", func(*Request) {}, nil},
		{"names are trimmed and lower-cased", func(r *Request) { r.Admin = "  Zhang.Admin "; r.SiteCode = " xingfuli " }, nil},
		{"empty", func(r *Request) { *r = Request{} },
			[]string{"admin", "grid_code", "password", "site_code", "site_name", "time_zone"}},
		{"everything wrong at once", func(r *Request) {
			*r = Request{Admin: "张三", Password: "short", PasswordConfirm: "shorter", SiteName: strings.Repeat("名", 65),
				SiteCode: "Bad Code", TimeZone: "Asia/Nowhere", GridCode: "12345"}
		}, []string{"admin", "grid_code", "password", "password_confirm", "site_code", "site_name", "time_zone"}},
		{"password equal to the name", func(r *Request) { r.Password, r.PasswordConfirm = "zhang.admin", "zhang.admin" }, []string{"password"}},
		{"passwords differ", func(r *Request) { r.PasswordConfirm = "a-good-passwore" }, []string{"password_confirm"}},
		{"time zone Local is not IANA", func(r *Request) { r.TimeZone = "Local" }, []string{"time_zone"}},
		{"time zone UTC", func(r *Request) { r.TimeZone = "UTC" }, nil},
		{"grid code with a letter", func(r *Request) { r.GridCode = "65010200300400A" }, []string{"grid_code"}},
		{"grid code of 16 digits", func(r *Request) { r.GridCode = "6501020030040051" }, []string{"grid_code"}},
		{"site name with a control character", func(r *Request) { r.SiteName = "幸福\x00社区" }, []string{"site_name"}},
		{"site name of 64 characters", func(r *Request) { r.SiteName = strings.Repeat("名", 64) }, nil},
		{"site code with a slash (an MQTT level)", func(r *Request) { r.SiteCode = "a/b" }, []string{"site_code"}},
		{"site code with a wildcard", func(r *Request) { r.SiteCode = "a+" }, []string{"site_code"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := good()
			tc.edit(&r)
			errs := r.Validate()
			var got []string
			for k, v := range errs {
				got = append(got, k)
				if v == "" {
					t.Errorf("%s: empty message", k)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("fields %v, want %v (%v)", got, tc.want, errs)
			}
		})
	}
}

// newSetup is a setup over a fresh database; params keep argon2 cheap in tests.
func newSetup(t *testing.T) (*Setup, *users.Directory, *store.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, m := range []store.Migrator{audit.Migrations, users.Migrations, Migrations} {
		if err := st.Migrate(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	dir := users.New(st.DB(), users.Options{Params: users.Params{MemoryKiB: 64, Time: 1, Threads: 1}}, slog.New(slog.DiscardHandler))
	return New(st.DB(), dir, slog.New(slog.DiscardHandler)), dir, st
}

func TestCompleteOnceAndSiteOverrides(t *testing.T) {
	ctx := context.Background()
	s, dir, st := newSetup(t)
	base := config.Site{Code: "from-config", Name: "配置里的社区", TimeZone: "Asia/Shanghai", GridCode: "110105001002003"}
	if site, found, err := LoadSite(ctx, st.DB(), base); err != nil || found || site != base {
		t.Fatalf("before setup: %+v %v %v", site, found, err)
	}
	if need, err := s.Needed(ctx); err != nil || !need {
		t.Fatalf("needed before: %v %v", need, err)
	}
	bad := good()
	bad.GridCode = "1"
	if _, _, err := s.Complete(ctx, bad, "127.0.0.1:1"); !errors.As(err, new(FieldErrors)) {
		t.Fatalf("bad request: %v", err)
	}
	if us, _ := dir.List(ctx); len(us) != 0 {
		t.Fatalf("a refused setup made users: %v", us)
	}
	u, site, err := s.Complete(ctx, good(), "127.0.0.1:1")
	if err != nil || u.Name != "zhang.admin" || u.Role != "admin" || site.Code != "xingfuli" {
		t.Fatalf("complete: %+v %+v %v", u, site, err)
	}
	if _, _, err := s.Complete(ctx, good(), "127.0.0.1:1"); !errors.Is(err, ErrDone) {
		t.Fatalf("second setup: %v", err)
	}
	got, found, err := LoadSite(ctx, st.DB(), base)
	want := config.Site{Code: "xingfuli", Name: "幸福里社区", TimeZone: "Asia/Urumqi", GridCode: "650102003004005"}
	if err != nil || !found || got != want {
		t.Fatalf("after setup: %+v %v %v", got, found, err)
	}
	// never again, even with no admin left (here removed behind the directory's back)
	if _, err := st.DB().Exec(`DELETE FROM users`); err != nil {
		t.Fatal(err)
	}
	if need, err := s.Needed(ctx); err != nil || need {
		t.Fatalf("needed after: %v %v", need, err)
	}
	es, err := audit.List(ctx, st.DB(), audit.Filter{ActionPrefix: "setup."})
	if err != nil || len(es) != 1 || es[0].Actor != "zhang.admin" || !strings.Contains(es[0].Detail, "xingfuli") {
		t.Fatalf("audit: %+v %v", es, err)
	}
	// a tampered setting stops the gateway with the key named
	if _, err := st.DB().Exec(`UPDATE settings SET value = 'Mars/Olympus' WHERE key = 'site.time_zone'`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadSite(ctx, st.DB(), base); err == nil || !strings.Contains(err.Error(), "site.time_zone") {
		t.Fatalf("tampered setting: %v", err)
	}
}

func TestAdminFromTheCommandLineEndsSetup(t *testing.T) {
	ctx := context.Background()
	s, dir, _ := newSetup(t)
	if _, err := dir.Add(ctx, users.Actor{Name: "cli"}, users.User{Name: "duty1", Role: "duty"}, "duty-password-1"); err != nil {
		t.Fatal(err)
	}
	if need, _ := s.Needed(ctx); !need {
		t.Fatal("a duty account ended the setup")
	}
	if _, err := dir.Add(ctx, users.Actor{Name: "cli"}, users.User{Name: "root1", Role: "admin"}, "admin-password-1"); err != nil {
		t.Fatal(err)
	}
	if need, _ := s.Needed(ctx); need {
		t.Fatal("setup still needed with an admin")
	}
	if _, _, err := s.Complete(ctx, good(), "127.0.0.1:1"); !errors.Is(err, ErrDone) {
		t.Fatalf("setup over an existing admin: %v", err)
	}
}

func TestConcurrentCompleteMakesOneAdmin(t *testing.T) {
	ctx := context.Background()
	s, dir, _ := newSetup(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := good()
			r.Admin = "admin" + string(rune('a'+i))
			_, _, errs[i] = s.Complete(ctx, r, "127.0.0.1:1")
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrRace), errors.Is(err, ErrDone):
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	us, _ := dir.List(ctx)
	if ok != 1 || len(us) != 1 || us[0].Role != "admin" {
		t.Fatalf("%d setups succeeded, users %+v (errors %v)", ok, us, errs)
	}
}

// FuzzRequestValidate feeds the setup form's fields (from the network): Validate never panics,
// and what it accepts is what the configuration and the users package accept.
func FuzzRequestValidate(f *testing.F) {
	g := good()
	f.Add(g.Admin, g.Password, g.PasswordConfirm, g.SiteName, g.SiteCode, g.TimeZone, g.GridCode)
	f.Add("", "", "", "", "", "", "")
	f.Add("Ａdmin", "密码密码密码密码密码", "密码密码密码密码密码", "名\x00", "a_b", "../../etc/passwd", "000000000000000")
	f.Fuzz(func(t *testing.T, admin, pw, pw2, name, code, tz, grid string) {
		r := Request{Admin: admin, Password: pw, PasswordConfirm: pw2, SiteName: name, SiteCode: code, TimeZone: tz, GridCode: grid}
		if errs := r.Validate(); errs == nil {
			s := r.site()
			if len(s.Validate()) > 0 || s.Name == "" || s.GridCode == "" || users.CheckName(admin) != nil ||
				users.CheckStrength(users.NormalizeName(admin), pw) != nil || pw != pw2 {
				t.Fatalf("accepted %+v", r)
			}
		}
	})
}
