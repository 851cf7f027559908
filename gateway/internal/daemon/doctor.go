package daemon

import (
	"context"
	"slices"

	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/doctor"
)

// doctorReport runs the installer's checks inside the daemon, for GET /api/v1/doctor: the
// broker's and the WebRTC port being bound is the gateway's own doing, the devices that never
// connected come from the live registry rather than the database, and the cameras added in
// the console are probed too.
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
		},
		RuntimeCameras: func(ctx context.Context) ([]config.Camera, error) {
			if g.Cameras == nil {
				return nil, nil
			}
			added, err := g.Cameras.List(ctx)
			var out []config.Camera
			for _, c := range added {
				out = append(out, config.Camera{ID: c.ID, Name: c.Name, URL: c.URL, Username: c.Username, Password: c.Password, Building: c.Building})
			}
			return out, err
		}}).Run(ctx)
}
