// Package daemon owns the gateway process's lifecycle: it builds every component from the
// configuration, starts them, and shuts them down in an order that loses nothing: intake
// stops first, the store writer drains and acknowledges what it holds, and only then do the
// broker connections and the web server close.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/drivers/builtin"
	"github.com/community-edge/edge/gateway/internal/alarm"
	"github.com/community-edge/edge/gateway/internal/audit"
	"github.com/community-edge/edge/gateway/internal/broker"
	"github.com/community-edge/edge/gateway/internal/cameras"
	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/devices"
	"github.com/community-edge/edge/gateway/internal/httpapi"
	"github.com/community-edge/edge/gateway/internal/ingest"
	"github.com/community-edge/edge/gateway/internal/setup"
	"github.com/community-edge/edge/gateway/internal/store"
	"github.com/community-edge/edge/gateway/internal/subscriber"
	"github.com/community-edge/edge/gateway/internal/tsdb"
	"github.com/community-edge/edge/gateway/internal/uplink"
	"github.com/community-edge/edge/gateway/internal/users"
	"github.com/community-edge/edge/gateway/internal/video"
)

// Version is the gateway's version, set at build time with -ldflags.
type Version struct{ Version, Commit string }

// Gateway is the running daemon.
type Gateway struct {
	cfg *config.Config
	log *slog.Logger

	Registry *prometheus.Registry
	Store    *store.Store
	Devices  *devices.Registry
	Drivers  *drivers.Registry
	Pipeline *ingest.Pipeline
	TSDB     *tsdb.Writer // nil when influx.url is empty
	Alarms   *alarm.Engine
	Uplink   *uplink.Uplink // nil when no uplink is configured
	Video    *video.Hub     // the camera relay (video.go)
	WebRTC   *video.Relay   // its WebRTC viewers
	Cameras  *cameras.Store // cameras added at runtime (video.go)
	webrtc   webrtcStarter
	Metrics  *ingest.Metrics
	Broker   *broker.Broker         // embedded mode
	Sub      *subscriber.Subscriber // external mode
	HTTP     *httpapi.Server
	Users    *users.Directory
	Setup    *setup.Setup // the first-run setup (setup.go)

	restart chan struct{} // the first-run setup asks Run to return ErrRestart
}

// New builds the gateway. It opens the store (so the registry and migrations are ready) but
// starts nothing; Close releases what New opened.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Gateway, error) {
	g := &Gateway{cfg: cfg, log: log, Registry: prometheus.NewRegistry(), restart: make(chan struct{}, 1)}
	g.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var models []*drivers.AlinkModel
	if dir := cfg.Alink.ModelsDir; dir != "" {
		var err error
		if models, err = drivers.LoadAlinkModels(cfg.Path(dir)); err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
	}
	reg, err := builtin.New(models...)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g.Drivers = reg

	st, err := store.Open(ctx, filepath.Join(cfg.Path(cfg.DataDir), "gateway.db"))
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g.Store = st
	if err := st.Migrate(ctx, audit.Migrations); err != nil {
		st.Close()
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if cfg, err = withSiteSettings(ctx, cfg, st, log); err != nil { // before anything is built from cfg.Site
		st.Close()
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g.cfg = cfg
	g.Devices = devices.New(st, cfg.Site.Code, log.With("component", "devices"))
	sec, err := newSecurity(ctx, cfg, st, g.Devices, log) // users, the data key, HTTPS (security.go)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g.Users = sec.users
	g.Setup = setup.New(st.DB(), sec.users, log.With("component", "setup"))
	if err := g.Devices.Load(ctx, cfg.Devices); err != nil {
		st.Close()
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g.Metrics = ingest.NewMetrics(g.Registry)
	g.Pipeline = ingest.New(ingest.Config{Site: cfg.Site.Code, MaxPayloadBytes: cfg.Ingest.MaxPayloadBytes,
		BatchMax: cfg.Ingest.BatchMax, QueueMax: cfg.Ingest.QueueMax, StatusFlush: cfg.Ingest.StatusFlush},
		reg, g.Devices, st, g.Metrics, log.With("component", "ingest"))
	g.Alarms = alarm.New(alarm.Config{Site: cfg.Site.Code, Rules: cfg.Alarms}, st, g.Devices, log.With("component", "alarm"))
	if err := g.Alarms.Migrate(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if g.Uplink, err = newUplink(cfg, st, g.Alarms, g.Devices, g.Registry, log.With("component", "uplink")); err != nil {
		st.Close()
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if g.Uplink != nil {
		if err := g.Uplink.Migrate(ctx); err != nil {
			st.Close()
			return nil, fmt.Errorf("gateway: %w", err)
		}
		g.Alarms.SetOutbox(g.Uplink)
		g.Alarms.AddListener(g.Uplink.Committed)
	}
	g.Pipeline.AddHook(g.Alarms)
	g.Pipeline.AddListener(g.Alarms.Committed)
	g.Pipeline.AddTelemetryObserver(g.Alarms.Telemetry)
	if x := cfg.Influx; x.URL != "" {
		w, err := tsdb.New(tsdb.Config{URL: x.URL, Org: x.Org, Bucket: x.Bucket, Token: x.Token, BatchSize: x.BatchSize,
			FlushInterval: x.FlushInterval, Timeout: x.Timeout, SpoolDir: filepath.Join(cfg.Path(cfg.DataDir), "tsdb-spool"),
			SpoolMaxBytes: x.SpoolMaxBytes, SpoolMaxAge: x.SpoolMaxAge}, g.Registry, log.With("component", "tsdb"))
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("gateway: %w", err)
		}
		g.TSDB = w
		g.Pipeline.SetTelemetrySink(w)
		g.Pipeline.AddListener(w.Events)
		g.Alarms.AddListener(func(cs []alarm.Change) {
			for _, c := range cs {
				a := &c.Alarm
				w.WriteAlarm(a.Site, a.DeviceID, a.ID, a.Type, string(a.Severity), string(a.State), c.AtMS)
			}
		})
	}
	g.Registry.MustRegister(newDeviceCollector(g.Devices), prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gateway_ingest_queue_events", Help: "Events waiting to be stored."}, func() float64 { return float64(g.Pipeline.QueueLen()) }))

	switch cfg.Broker.Mode {
	case "embedded":
		e := cfg.Broker.Embedded
		g.Broker = broker.New(broker.Config{Site: cfg.Site.Code, Listen: e.Listen, TLSListen: e.TLSListen,
			TLSCertFile: cfg.Path(e.TLSCertFile), TLSKeyFile: cfg.Path(e.TLSKeyFile), MaxClients: e.MaxClients,
			MaxInflight: e.MaxInflight, MaxQueued: e.MaxQueued, MaxPacketSize: e.MaxPacketSize},
			g.Devices, g.Pipeline, g.Metrics, g.Registry, log.With("component", "broker"))
		g.Devices.OnRemove(g.Broker.Kick)
	case "external":
		x := cfg.Broker.External
		g.Sub = subscriber.New(subscriber.Config{Site: cfg.Site.Code, URL: x.URL, ClientID: x.ClientID, Username: x.Username,
			Password: x.Password, CAFile: cfg.Path(x.CAFile), CertFile: cfg.Path(x.CertFile), KeyFile: cfg.Path(x.KeyFile),
			InsecureSkipVerify: x.InsecureSkipVerify, KeepAlive: x.KeepAlive}, g.Pipeline, g.Registry, log.With("component", "subscriber"))
	}
	g.HTTP = httpapi.New(cfg.HTTP.Listen, cfg.HTTP.APITokens, httpapi.Deps{Devices: g.Devices, Store: st, Gatherer: g.Registry, Alarms: g.Alarms, Site: cfg.Site, DeviceBroker: cfg.Broker.DeviceEndpoint(),
		Users: sec.users, TLS: sec.tls,
		Ready: func() error { return st.DB().PingContext(context.Background()) }}, log.With("component", "http"))
	if g.TSDB != nil {
		g.HTTP.AddSeries(g.TSDB)
	}
	if err := g.newVideo(ctx, st, sec.sealer); err != nil { // cameras, configured and added at runtime (video.go)
		st.Close()
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g.HTTP.SetDoctor(g.doctorReport) // GET /api/v1/doctor (doctor.go)
	g.HTTP.SetSetup(g.Setup, g.requestRestart)
	return g, nil
}

// Run runs the gateway until ctx is done, then shuts it down in order.
func (g *Gateway) Run(ctx context.Context) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	// failed stops everything when a component cannot run.
	runCtx, failed := context.WithCancel(ctx)
	defer failed()
	pipeCtx, stopPipe := context.WithCancel(context.Background())
	transportCtx, stopTransport := context.WithCancel(context.Background())
	httpCtx, stopHTTP := context.WithCancel(context.Background())
	defer stopPipe()
	defer stopTransport()
	defer stopHTTP()

	// The time series writer starts first and stops last: it acknowledges telemetry until the
	// transports are closed.
	tsdbCtx, stopTSDB := context.WithCancel(context.Background())
	defer stopTSDB()
	tsdbDone := make(chan struct{})
	go func() {
		defer close(tsdbDone)
		if g.TSDB != nil {
			if err := g.TSDB.Run(tsdbCtx); err != nil {
				fail(err)
				failed()
			}
		}
	}()
	pipeDone := make(chan struct{})
	go func() {
		defer close(pipeDone)
		fail(g.Pipeline.Run(pipeCtx))
	}()
	start := func(run func(context.Context) error, c context.Context) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(c); err != nil {
				fail(err)
				failed()
			}
		}()
	}
	if g.Broker != nil {
		start(g.Broker.Run, transportCtx)
	}
	if g.Sub != nil {
		start(g.Sub.Run, transportCtx)
	}
	start(g.HTTP.Run, httpCtx)
	start(g.Alarms.Run, httpCtx)
	start(func(ctx context.Context) error { return g.Store.Checkpoints(ctx, 2*time.Second) }, httpCtx)
	if g.Uplink != nil {
		start(g.Uplink.Run, httpCtx)
	}
	start(g.Video.Run, httpCtx)
	// the WebRTC port opens only for a site with cameras, or once one is added
	g.webrtc.run(func() { start(g.WebRTC.Run, httpCtx) }, len(g.Video.Cameras()) > 0)
	g.log.Info("gateway running", "site", g.cfg.Site.Code, "broker", g.cfg.Broker.Mode, "devices", len(g.Devices.All()))

	restart := false
	select {
	case <-runCtx.Done():
	case <-g.restart:
		restart = true
	}
	g.log.Info("shutting down: stopping intake and storing what was accepted")
	stopPipe()
	<-pipeDone
	stopTransport()
	g.webrtc.stop()
	stopHTTP()
	wg.Wait()
	stopTSDB()
	<-tsdbDone
	g.log.Info("gateway stopped")
	if restart && len(errs) == 0 {
		return ErrRestart
	}
	return errors.Join(errs...)
}

// Close releases what New opened.
func (g *Gateway) Close() error {
	if g.Store != nil {
		return g.Store.Close()
	}
	return nil
}

// deviceCollector exports device counts by family and state.
type deviceCollector struct {
	devs   *devices.Registry
	online *prometheus.Desc
	total  *prometheus.Desc
}

func newDeviceCollector(d *devices.Registry) *deviceCollector {
	return &deviceCollector{devs: d,
		online: prometheus.NewDesc("gateway_devices_online", "Devices online, by family.", []string{"family"}, nil),
		total:  prometheus.NewDesc("gateway_devices", "Devices registered.", nil, nil)}
}

func (c *deviceCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.online; ch <- c.total }

func (c *deviceCollector) Collect(ch chan<- prometheus.Metric) {
	online, total := c.devs.Count()
	for _, f := range drivers.Families() {
		ch <- prometheus.MustNewConstMetric(c.online, prometheus.GaugeValue, float64(online[f]), string(f))
	}
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(total))
}
