package daemon

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/community-edge/edge/cloud/api"
	"github.com/community-edge/edge/gateway/internal/alarm"
	"github.com/community-edge/edge/gateway/internal/alarm/rules"
	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/devices"
	"github.com/community-edge/edge/gateway/internal/store"
	"github.com/community-edge/edge/gateway/internal/uplink"
)

// newUplink builds the configured uplink, or returns nil when none is configured.
func newUplink(cfg *config.Config, st *store.Store, alarms *alarm.Engine, devs *devices.Registry, reg prometheus.Registerer, log *slog.Logger) (*uplink.Uplink, error) {
	u := cfg.Uplink
	var conn uplink.Connector
	switch u.Mode {
	case "":
		return nil, nil
	case "cloud":
		key, err := api.DecodeKey(u.Cloud.Key)
		if err != nil {
			return nil, fmt.Errorf("uplink.cloud.key: %w", err)
		}
		conn = uplink.NewCloud(u.Cloud.URL, u.Cloud.GatewayID, key)
	case "webhook":
		w, err := uplink.NewWebhook(u.Webhook.URL, u.Webhook.Headers, u.Webhook.BodyTemplate, u.Webhook.CaseIDField)
		if err != nil {
			return nil, err
		}
		conn = w
	}
	var policy []rules.Severity
	for _, s := range u.Severities {
		policy = append(policy, rules.Severity(s))
	}
	return uplink.New(uplink.Config{Site: cfg.Site.Code, SiteName: cfg.Site.Name, GridCode: cfg.Site.GridCode, Policy: policy,
		Heartbeat: u.Heartbeat, DownAfter: u.DownAfter}, st, alarms, devs, conn, reg, log), nil
}
