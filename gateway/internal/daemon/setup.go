package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/setup"
	"github.com/community-edge/edge/gateway/internal/store"
)

// ErrRestart is what Run returns when the gateway must be built again from its configuration
// and database: the first-run setup stored new site settings, and the broker's topics, the
// ingest, the uplink and the time series tags are all made from the site.
var ErrRestart = errors.New("gateway: restart: the first-run setup changed the site settings")

// Serve builds and runs the gateway until ctx is done, building it again whenever Run returns
// ErrRestart.
func Serve(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	for {
		g, err := New(ctx, cfg, log)
		if err != nil {
			return fmt.Errorf("cannot start: %w", err)
		}
		err = g.Run(ctx)
		g.Close()
		if !errors.Is(err, ErrRestart) {
			return err
		}
		if ctx.Err() != nil { // stopped while asked to restart: a plain stop
			return nil
		}
		log.Info("restarting the gateway with the site settings of the first-run setup")
	}
}

// withSiteSettings migrates the settings table and returns cfg with the site settings stored
// by the first-run setup applied over its site section (cfg itself is left as it is).
func withSiteSettings(ctx context.Context, cfg *config.Config, st *store.Store, log *slog.Logger) (*config.Config, error) {
	if err := st.Migrate(ctx, setup.Migrations); err != nil {
		return nil, err
	}
	site, found, err := setup.LoadSite(ctx, st.DB(), cfg.Site)
	if err != nil || !found {
		return cfg, err
	}
	if site != cfg.Site {
		log.Info("the site settings of the first-run setup override the configuration's site section",
			"code", site.Code, "name", site.Name, "time_zone", site.TimeZone, "grid_code", site.GridCode)
	}
	c := *cfg
	c.Site = site
	return &c, nil
}

// requestRestart has Run stop and return ErrRestart.
func (g *Gateway) requestRestart() {
	select {
	case g.restart <- struct{}{}:
	default:
	}
}
