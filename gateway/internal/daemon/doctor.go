package daemon

import (
	"context"
	"slices"

	"github.com/community-edge/edge/gateway/internal/doctor"
)

// doctorReport runs the installer's checks inside the daemon, for GET /api/v1/doctor: the
// broker's and the WebRTC port being bound is the gateway's own doing, and the devices that
// never connected come from the live registry rather than the database.
func (g *Gateway) doctorReport(ctx context.Context, lang string) doctor.Report {
	return doctor.New(doctor.Options{Config: g.cfg, Lang: lang, InDaemon: true, Log: g.log.With("component", "doctor"),
		NeverConnected: func(context.Context) ([]string, int, error) {
			all := g.Devices.All()
			var never []string
			for _, d := range all {
				if h := d.Health(); h.State == "unknown" && h.LastSeen == 0 {
					never = append(never, d.ID)
				}
			}
			slices.Sort(never)
			return never, len(all), nil
		}}).Run(ctx)
}
