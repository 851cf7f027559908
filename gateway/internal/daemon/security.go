package daemon

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/devices"
	"github.com/community-edge/edge/gateway/internal/seal"
	"github.com/community-edge/edge/gateway/internal/store"
	"github.com/community-edge/edge/gateway/internal/tlscert"
	"github.com/community-edge/edge/gateway/internal/users"
)

// security is what logins, HTTPS and the encryption of residents' data need.
type security struct {
	users  *users.Directory
	tls    *tls.Config  // nil for plain HTTP
	sealer *seal.Sealer // the data key's: residents' private data, cameras' credentials
}

// DataKeyFile is where the gateway keeps the data key it generated, under the data directory.
const DataKeyFile = "data.key"

// newSecurity migrates the users tables, gives the device registry its data key (call it
// before the registry's Load), and loads or makes the HTTPS certificate.
func newSecurity(ctx context.Context, cfg *config.Config, st *store.Store, devs *devices.Registry, log *slog.Logger) (*security, error) {
	if err := st.Migrate(ctx, users.Migrations); err != nil {
		return nil, err
	}
	sealer, err := dataSealer(cfg, log)
	if err != nil {
		return nil, err
	}
	devs.SetSealer(sealer)
	s := &security{users: users.New(st.DB(), users.Options{SessionLifetime: cfg.Security.SessionLifetime,
		SessionIdle: cfg.Security.SessionIdle}, log.With("component", "users")), sealer: sealer}
	if s.tls, err = httpsConfig(cfg, log); err != nil {
		return nil, err
	}
	warnNoAdmin(ctx, cfg, s.users, log)
	return s, nil
}

// dataSealer returns the sealer for residents' private data, with the key from the
// configuration or GATEWAY_DATA_KEY, or else from the key file in the data directory, made on
// first start.
func dataSealer(cfg *config.Config, log *slog.Logger) (*seal.Sealer, error) {
	if k := cfg.Security.DataKey; k != "" {
		key, err := seal.ParseKey(k)
		if err != nil {
			return nil, fmt.Errorf("security.data_key: %w", err)
		}
		return seal.New(key)
	}
	path := filepath.Join(cfg.Path(cfg.DataDir), DataKeyFile)
	key, created, err := seal.LoadOrCreateKeyFile(path)
	if err != nil {
		return nil, err
	}
	if created {
		log.Warn("generated a data key for residents' medical notes and contacts; back it up with the database: without it they cannot be read",
			"file", path, "or_set", "security.data_key / GATEWAY_DATA_KEY")
	}
	return seal.New(key)
}

// httpsConfig returns the TLS configuration of the web server, nil for plain HTTP.
func httpsConfig(cfg *config.Config, log *slog.Logger) (*tls.Config, error) {
	h := cfg.HTTP
	var c *tlscert.Cert
	var err error
	switch {
	case h.TLSCertFile != "":
		c, err = tlscert.Load(cfg.Path(h.TLSCertFile), cfg.Path(h.TLSKeyFile))
	case h.TLS == "self-signed":
		c, err = tlscert.SelfSigned(filepath.Join(cfg.Path(cfg.DataDir), "tls"), h.TLSHosts, time.Now())
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	msg := "HTTPS certificate loaded"
	if c.Generated {
		msg = "HTTPS: generated a self-signed certificate; browsers will ask to trust it, compare this fingerprint"
	}
	log.Info(msg, "file", c.CertFile, "sha256", c.Fingerprint, "not_after", c.NotAfter.Format(time.DateOnly))
	if time.Until(c.NotAfter) < tlscert.RenewAhead {
		log.Warn("HTTPS certificate expires soon", "file", c.CertFile, "not_after", c.NotAfter)
	}
	return c.Config, nil
}

// warnNoAdmin says how to make the first login when there is no admin account.
func warnNoAdmin(ctx context.Context, cfg *config.Config, dir *users.Directory, log *slog.Logger) {
	us, err := dir.List(ctx)
	if err != nil {
		log.Warn("cannot list users", "err", err)
		return
	}
	for _, u := range us {
		if u.Role == "admin" && !u.Disabled {
			return
		}
	}
	log.Warn("no admin user: open the console from the box's LAN for the first-run setup, or add one with: gateway user add NAME -role admin -config FILE",
		"users", len(us), "api_tokens", len(cfg.HTTP.APITokens))
}

// DBPath is the gateway's database file for a configuration (as daemon.New opens it).
func DBPath(cfg *config.Config) string { return filepath.Join(cfg.Path(cfg.DataDir), "gateway.db") }
