// Package config reads the cloud's YAML configuration strictly: unknown keys are errors, and
// every error — of decoding and of validation — is reported at once, naming its key. The
// database DSN may come from the environment (database.dsn_env) so that no secret sits in the
// file.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	_ "time/tzdata" // time zones without the system database (static binaries)

	"gopkg.in/yaml.v3"

	"github.com/community-edge/edge/cloud/api"
	"github.com/community-edge/edge/cloud/internal/cases"
)

// Config is the cloud's configuration.
type Config struct {
	Listen       string `yaml:"listen"`
	TLS          TLS    `yaml:"tls"`
	CookieSecure bool   `yaml:"cookie_secure"` // behind an HTTPS reverse proxy

	Database Database `yaml:"database"`

	TimeZone         string   `yaml:"time_zone"`
	Language         string   `yaml:"language"`
	CentreDepartment string   `yaml:"centre_department"`
	Departments      []string `yaml:"departments"`

	Link     GatewaySettings `yaml:"link"`
	Sessions Sessions        `yaml:"sessions"`

	Deadlines  cases.Policy     `yaml:"deadlines"`
	Categories cases.Classifier `yaml:"categories"` // merged over the default mapping

	// Users are created at start when missing (a demo grid centre; production adds users
	// with `cloud user add`). Existing users are left as they are.
	Users []User `yaml:"users"`

	// Gateways are registered at start when missing (the demo's gateway; production registers
	// gateways with `cloud gateway add`, which makes the key). Existing ones are left as they are.
	Gateways []Gateway `yaml:"gateways"`
}

// Gateway is a gateway to register at start.
type Gateway struct {
	ID     string `yaml:"id"`
	Name   string `yaml:"name"`
	Key    string `yaml:"key"` // as printed by cloud gateway add (base64url of 32 bytes)
	KeyEnv string `yaml:"key_env"`
}

// ResolveKey returns the gateway's key, from the environment when key_env is set.
func (g Gateway) ResolveKey() ([]byte, error) {
	k := g.Key
	if g.KeyEnv != "" {
		if k = os.Getenv(g.KeyEnv); k == "" {
			return nil, fmt.Errorf("config: gateways %s: environment variable %s is empty", g.ID, g.KeyEnv)
		}
	}
	key, err := api.DecodeKey(k)
	if err != nil {
		return nil, fmt.Errorf("config: gateways %s: %w", g.ID, err)
	}
	return key, nil
}

// TLS serves HTTPS directly.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Database selects the store.
type Database struct {
	Driver string `yaml:"driver"` // sqlite (default) or postgres
	Path   string `yaml:"path"`   // sqlite file
	DSN    string `yaml:"dsn"`    // postgres
	DSNEnv string `yaml:"dsn_env"`
}

// GatewaySettings tune the gateway link.
type GatewaySettings struct {
	Heartbeat time.Duration `yaml:"heartbeat"` // expected interval when a gateway states none
	LongPoll  time.Duration `yaml:"long_poll"`
}

// Sessions tune logins.
type Sessions struct {
	TTL time.Duration `yaml:"ttl"`
}

// User is a user to create at start.
type User struct {
	Username    string `yaml:"username"`
	DisplayName string `yaml:"display_name"`
	Role        string `yaml:"role"`
	Department  string `yaml:"department"`
	Password    string `yaml:"password"`
	PasswordEnv string `yaml:"password_env"`
}

// Default returns the defaults every file is decoded over.
func Default() Config {
	return Config{
		Listen:           "127.0.0.1:8480",
		Database:         Database{Driver: "sqlite", Path: "cloud.db"},
		TimeZone:         "Asia/Shanghai",
		Language:         "zh-CN",
		CentreDepartment: "网格中心",
		Link:             GatewaySettings{Heartbeat: 30 * time.Second, LongPoll: 25 * time.Second},
		Sessions:         Sessions{TTL: 12 * time.Hour},
		Deadlines:        cases.DefaultPolicy(),
	}
}

// Load reads and validates a file.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("config: %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes YAML over the defaults and validates the result.
func Parse(data []byte) (Config, error) {
	c := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var errs []error
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, e := range te.Errors {
				errs = append(errs, errors.New(e))
			}
		} else {
			return Config{}, err
		}
	}
	errs = append(errs, c.Validate()...)
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// Validate checks the configuration without I/O and returns every problem, each naming its key.
func (c *Config) Validate() []error {
	var errs []error
	bad := func(key, msg string) { errs = append(errs, fmt.Errorf("%s: %s", key, msg)) }
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "must be host:port")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls", "cert_file and key_file go together")
	}
	switch c.Database.Driver {
	case "sqlite":
		if c.Database.Path == "" {
			bad("database.path", "required for sqlite")
		}
	case "postgres":
		if c.Database.DSN == "" && c.Database.DSNEnv == "" {
			bad("database.dsn", "dsn or dsn_env required for postgres")
		}
		if c.Database.DSN != "" && c.Database.DSNEnv != "" {
			bad("database.dsn_env", "give dsn or dsn_env, not both")
		}
	default:
		bad("database.driver", "must be sqlite or postgres")
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "" {
		bad("time_zone", "unknown time zone "+fmt.Sprintf("%q", c.TimeZone))
	}
	if c.Language != "zh-CN" && c.Language != "en" {
		bad("language", "must be zh-CN or en")
	}
	if strings.TrimSpace(c.CentreDepartment) == "" {
		bad("centre_department", "required")
	}
	if c.Link.Heartbeat < time.Second {
		bad("link.heartbeat", "must be at least 1s")
	}
	if c.Link.LongPoll < time.Second || c.Link.LongPoll > 55*time.Second {
		bad("link.long_poll", "must be between 1s and 55s")
	}
	ids := map[string]bool{}
	for i, g := range c.Gateways {
		key := fmt.Sprintf("gateways[%d]", i)
		if g.ID == "" || len(g.ID) > 64 || ids[g.ID] {
			bad(key+".id", "required, unique, at most 64 characters")
		}
		ids[g.ID] = true
		if (g.Key == "") == (g.KeyEnv == "") {
			bad(key+".key", "give key or key_env")
		} else if g.Key != "" {
			if _, err := api.DecodeKey(g.Key); err != nil {
				bad(key+".key", err.Error())
			}
		}
	}
	if c.Sessions.TTL < time.Minute {
		bad("sessions.ttl", "must be at least 1m")
	}
	for _, e := range c.Deadlines.Validate() {
		errs = append(errs, fmt.Errorf("deadlines.%w", e))
	}
	for _, e := range c.Categories.Validate() {
		errs = append(errs, fmt.Errorf("categories.%w", e))
	}
	seen := map[string]bool{}
	for i, u := range c.Users {
		key := fmt.Sprintf("users[%d]", i)
		if u.Username == "" || seen[u.Username] {
			bad(key+".username", "required and unique")
		}
		seen[u.Username] = true
		if !cases.Role(u.Role).Valid() {
			bad(key+".role", "must be dispatcher, handler, inspector or admin")
		}
		if (u.Password == "") == (u.PasswordEnv == "") {
			bad(key+".password", "give password or password_env")
		}
		if u.Role == string(cases.Handler) && u.Department == "" {
			bad(key+".department", "required for a handler")
		}
	}
	return errs
}

// ResolveDSN returns the PostgreSQL DSN, from the environment when dsn_env is set.
func (d Database) ResolveDSN() (string, error) {
	if d.DSNEnv == "" {
		return d.DSN, nil
	}
	v := os.Getenv(d.DSNEnv)
	if v == "" {
		return "", fmt.Errorf("config: database.dsn_env: environment variable %s is empty", d.DSNEnv)
	}
	return v, nil
}

// ResolvePassword returns the user's password, from the environment when password_env is set.
func (u User) ResolvePassword() (string, error) {
	if u.PasswordEnv == "" {
		return u.Password, nil
	}
	v := os.Getenv(u.PasswordEnv)
	if v == "" {
		return "", fmt.Errorf("config: users %s: environment variable %s is empty", u.Username, u.PasswordEnv)
	}
	return v, nil
}

// Classifier is the default mapping with the configured categories over it.
func (c *Config) Classifier() cases.Classifier {
	return cases.DefaultClassifier().Merge(c.Categories)
}
