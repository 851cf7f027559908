// Package setup is the gateway's first run: while no admin account exists, a person on the
// box's local network sets the admin account and the site's name, code, time zone and grid
// code, once. The site settings are kept in the gateway's database (a settings table) and
// override the configuration file's site section from then on; the configuration stays the
// default for whatever the database does not set.
package setup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/community-edge/edge/gateway/internal/audit"
	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/store"
	"github.com/community-edge/edge/gateway/internal/users"
)

// Migrations creates the settings table: one row per key.
var Migrations = store.Migrator{Name: "settings", Steps: []string{`
	CREATE TABLE settings (
		key        TEXT PRIMARY KEY,
		value      TEXT NOT NULL,
		updated_ms INTEGER NOT NULL
	);`}}

// The settings keys this package keeps.
const (
	keySiteCode     = "site.code"
	keySiteName     = "site.name"
	keySiteTimeZone = "site.time_zone"
	keySiteGridCode = "site.grid_code"
	keyDone         = "setup.done_ms" // when the first-run setup completed; its presence ends it for good
)

// Errors callers tell apart with errors.Is.
var (
	// ErrDone: the setup has been completed (or an admin was made another way): never again.
	ErrDone = errors.New("setup: the first-run setup is done")
	// ErrRace: another request completed the setup while this one was being checked.
	ErrRace = errors.New("setup: the first-run setup was just completed by another request")
)

// maxSiteName is the longest site name accepted, in characters.
const maxSiteName = 64

// LoadSite returns base with the site settings the database holds applied over it, and
// whether any were. Settings that do not validate are an error naming their key: the gateway
// must not run with a site it cannot use.
func LoadSite(ctx context.Context, db *sql.DB, base config.Site) (config.Site, bool, error) {
	rows, err := db.QueryContext(ctx, `SELECT key, value FROM settings WHERE key IN (?, ?, ?, ?)`,
		keySiteCode, keySiteName, keySiteTimeZone, keySiteGridCode)
	if err != nil {
		return base, false, fmt.Errorf("setup: read site settings: %w", err)
	}
	defer rows.Close()
	site, found := base, false
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return base, false, fmt.Errorf("setup: read site settings: %w", err)
		}
		found = true
		switch k {
		case keySiteCode:
			site.Code = v
		case keySiteName:
			site.Name = v
		case keySiteTimeZone:
			site.TimeZone = v
		case keySiteGridCode:
			site.GridCode = v
		}
	}
	if err := rows.Err(); err != nil {
		return base, false, fmt.Errorf("setup: read site settings: %w", err)
	}
	if found {
		if errs := site.Validate(); len(errs) > 0 {
			return base, false, fmt.Errorf("setup: the site settings stored in the database (table settings) are invalid: %s",
				strings.Join(errs, "; "))
		}
	}
	return site, found, nil
}

// IsLAN reports whether a is an address of a local network: loopback, private IPv4 (RFC 1918),
// IPv6 unique local (fc00::/7) or link-local (169.254.0.0/16, fe80::/10; a laptop cabled
// straight to the box without DHCP has one). IPv4-mapped IPv6 addresses count as their IPv4.
func IsLAN(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast()
}

// RemoteIsLAN reports whether a request's remote address (host:port, as net/http gives it) is
// on a local network; anything unparsable is not.
func RemoteIsLAN(remote string) bool {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		a, err2 := netip.ParseAddr(remote)
		if err2 != nil {
			return false
		}
		return IsLAN(a)
	}
	return IsLAN(ap.Addr())
}

// Request is what the person setting the gateway up enters.
type Request struct {
	Admin           string `json:"admin"` // the admin's user name
	Password        string `json:"password"`
	PasswordConfirm string `json:"password_confirm"`
	SiteName        string `json:"site_name"`
	SiteCode        string `json:"site_code"`
	TimeZone        string `json:"time_zone"`
	GridCode        string `json:"grid_code"`
}

// site is the request's site settings, trimmed.
func (r Request) site() config.Site {
	return config.Site{Code: strings.TrimSpace(r.SiteCode), Name: strings.TrimSpace(r.SiteName),
		TimeZone: strings.TrimSpace(r.TimeZone), GridCode: strings.TrimSpace(r.GridCode)}
}

// FieldErrors are a request's problems by field (the JSON names: admin, password, site_code, …).
type FieldErrors map[string]string

func (e FieldErrors) Error() string {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e[k]
	}
	return "setup: " + strings.Join(parts, "; ")
}

// Validate checks every field and returns all problems at once (nil if none). Passwords follow
// the same rules as every user's; the site follows the configuration's rules, except that the
// name and the grid code are required here.
func (r Request) Validate() FieldErrors {
	p := FieldErrors{}
	name := users.NormalizeName(r.Admin)
	if err := users.CheckName(name); err != nil {
		p["admin"] = msg(err)
	}
	if err := users.CheckStrength(name, r.Password); err != nil {
		p["password"] = msg(err)
	}
	if r.PasswordConfirm != r.Password {
		p["password_confirm"] = "the two passwords differ"
	}
	s := r.site()
	switch n := utf8.RuneCountInString(s.Name); {
	case n == 0:
		p["site_name"] = "required"
	case n > maxSiteName || !utf8.ValidString(s.Name) || strings.ContainsFunc(s.Name, unicode.IsControl):
		p["site_name"] = fmt.Sprintf("at most %d characters, no control characters", maxSiteName)
	}
	if s.GridCode == "" {
		p["grid_code"] = "required: 15 digits (division 6, street 3, community 3, grid 3)"
	}
	field := map[string]string{"site.code": "site_code", "site.time_zone": "time_zone", "site.grid_code": "grid_code"}
	for _, e := range s.Validate() {
		k, m, _ := strings.Cut(e, ": ")
		if f, ok := field[k]; ok {
			p[f] = m
		}
	}
	if len(p) == 0 {
		return nil
	}
	return p
}

// msg is an error's text without the package prefix, for a person.
func msg(err error) string {
	s := err.Error()
	if _, rest, ok := strings.Cut(s, ": "); ok && !strings.Contains(s[:len(s)-len(rest)], " ") {
		return rest
	}
	return s
}

// Setup completes the first run over the gateway's database.
type Setup struct {
	db    *sql.DB
	users *users.Directory
	log   *slog.Logger
	now   func() time.Time
}

// New returns the first-run setup over db (migrated with Migrations and users.Migrations).
func New(db *sql.DB, dir *users.Directory, log *slog.Logger) *Setup {
	return &Setup{db: db, users: dir, log: log, now: time.Now}
}

// Needed reports whether the first-run setup is still to be done: it has never completed and
// no enabled admin account exists (one made with `gateway user add` ends it too).
func (s *Setup) Needed(ctx context.Context) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM settings WHERE key = ?`, keyDone).Scan(&n); err != nil {
		return false, fmt.Errorf("setup: %w", err)
	}
	if n > 0 {
		return false, nil
	}
	has, err := s.users.HasAdmin(ctx)
	if err != nil {
		return false, fmt.Errorf("setup: %w", err)
	}
	return !has, nil
}

// Complete validates r and, in one transaction, creates the admin account, stores the site
// settings and the mark that ends the setup, and writes the audit log. It returns FieldErrors
// for bad input (every field at once), ErrDone when the setup was done before it started and
// ErrRace when another request completed it meanwhile.
func (s *Setup) Complete(ctx context.Context, r Request, remote string) (users.User, config.Site, error) {
	if errs := r.Validate(); errs != nil {
		return users.User{}, config.Site{}, errs
	}
	if need, err := s.Needed(ctx); err != nil {
		return users.User{}, config.Site{}, err
	} else if !need {
		return users.User{}, config.Site{}, ErrDone
	}
	site := r.site()
	name := users.NormalizeName(r.Admin)
	by := users.Actor{Name: name, Remote: remote}
	u, err := s.users.AddFirstAdmin(ctx, by, users.User{Name: name}, r.Password, func(tx *sql.Tx) error {
		var done int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM settings WHERE key = ?`, keyDone).Scan(&done); err != nil {
			return err
		}
		if done > 0 {
			return ErrRace
		}
		now := s.now().UnixMilli()
		for k, v := range map[string]string{keySiteCode: site.Code, keySiteName: site.Name, keySiteTimeZone: site.TimeZone,
			keySiteGridCode: site.GridCode, keyDone: strconv.FormatInt(now, 10)} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO settings(key, value, updated_ms) VALUES(?, ?, ?)
				ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms`, k, v, now); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, audit.Entry{AtMS: now, Actor: name, Action: "setup.complete", Target: site.Code,
			Detail: fmt.Sprintf("first-run setup: admin %s, site %q (%s), time zone %s, grid code %s", name, site.Name, site.Code,
				site.TimeZone, site.GridCode), Remote: remote})
	})
	switch {
	case errors.Is(err, users.ErrAdminExists), errors.Is(err, ErrRace):
		return users.User{}, config.Site{}, ErrRace
	case err != nil:
		return users.User{}, config.Site{}, fmt.Errorf("setup: %w", err)
	}
	s.log.Info("first-run setup completed", "admin", u.Name, "site", site.Code, "name", site.Name,
		"time_zone", site.TimeZone, "remote", remote)
	return u, site, nil
}
