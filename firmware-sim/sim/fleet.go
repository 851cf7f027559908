package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/community-edge/edge/firmware-sim/credentials"
	"github.com/community-edge/edge/firmware-sim/family"
	"github.com/community-edge/edge/firmware-sim/payload"
	"github.com/community-edge/edge/firmware-sim/scenario"
)

// FleetConfig describes a fleet of simulated devices and the scenario they play.
type FleetConfig struct {
	Broker string // tcp://host:port
	Site   string
	// Scenario gives the devices and the timeline; required (an empty scenario is fine).
	Scenario *scenario.Scenario
	// Counts, if set, overrides the scenario's device counts per family.
	Counts *scenario.Counts
	// Credentials gives each device's password; required.
	Credentials credentials.Source
	// Models are the Alink product models; default payload.BuiltinModels.
	Models *payload.Models
	// Heartbeat overrides the scenario's heartbeat if positive; default 30 s.
	Heartbeat time.Duration
	// AutoEvents lets devices act on their own even if the scenario does not ask for it.
	AutoEvents bool
	// ActivityEvery is the mean time between a device's own activities; default 10 min.
	ActivityEvery time.Duration
	FW            string
	TelemetryQoS  byte
	// Seed, if not zero, makes every device's simulation reproducible.
	Seed      uint64
	Backoff   Backoff
	KeepAlive time.Duration
	// ConnectSpread spreads the devices' first connections over this time, as a site's
	// devices do after a power cut; default 0 (all at once).
	ConnectSpread time.Duration
}

// Fleet runs devices and plays a scenario over them.
type Fleet struct {
	cfg     FleetConfig
	log     *slog.Logger
	devices []*Device
	byID    map[string]*Device
	steps   []scenario.Step
}

// NewFleet builds the devices; it does no I/O. Every mistake is reported at once.
func NewFleet(cfg FleetConfig, log *slog.Logger) (*Fleet, error) {
	var errs []error
	if cfg.Scenario == nil {
		errs = append(errs, errors.New("scenario is required"))
	}
	if cfg.Credentials == nil {
		errs = append(errs, errors.New("credentials are required"))
	}
	if cfg.Site == "" {
		errs = append(errs, errors.New("site is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sim: fleet: %w", err)
	}
	if cfg.Models == nil {
		ms, err := payload.NewModels(payload.BuiltinModels()...)
		if err != nil {
			return nil, fmt.Errorf("sim: fleet: %w", err)
		}
		cfg.Models = ms
	}
	sc := cfg.Scenario
	hb := cfg.Heartbeat
	if hb <= 0 {
		hb = sc.Heartbeat.D()
	}
	f := &Fleet{cfg: cfg, log: log, byID: map[string]*Device{}, steps: sc.Sorted()}
	for i, sd := range sc.Expand(cfg.Counts) {
		dc := DeviceConfig{
			Broker: cfg.Broker, Device: payload.Device{Site: cfg.Site, Family: sd.Family, ID: sd.ID},
			Dialect: sd.Dialect, FW: sd.FW, Heartbeat: hb, TelemetryQoS: cfg.TelemetryQoS,
			Sim:     family.Options{AutoEvents: sc.AutoEvents || cfg.AutoEvents, ActivityEvery: cfg.ActivityEvery},
			Backoff: cfg.Backoff, KeepAlive: cfg.KeepAlive,
		}
		if dc.FW == "" {
			dc.FW = cfg.FW
		}
		if cfg.Seed != 0 {
			dc.Sim.Seed = cfg.Seed + uint64(i)
		}
		pw, err := cfg.Credentials.Password(sd.ID)
		if err != nil {
			errs = append(errs, err)
		}
		dc.Password = pw
		if sd.Dialect == "alink" {
			m, ok := cfg.Models.ForFamily(sd.Family)
			if sd.ProductKey != "" {
				m, ok = cfg.Models.Product(sd.ProductKey)
			}
			if !ok {
				errs = append(errs, fmt.Errorf("device %s: no alink product model for %s %q", sd.ID, sd.Family, sd.ProductKey))
			} else {
				dc.Model = m
			}
		}
		d, err := NewDevice(dc, log)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f.devices = append(f.devices, d)
		f.byID[d.ID()] = d
	}
	for i, st := range f.steps {
		if _, ok := f.byID[st.Device]; !ok {
			errs = append(errs, fmt.Errorf("step %d at %s: device %q is not in the fleet", i, st.At.D(), st.Device))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sim: fleet: %w", err)
	}
	return f, nil
}

// Devices returns the fleet's devices.
func (f *Fleet) Devices() []*Device { return f.devices }

// Device returns a device by id.
func (f *Fleet) Device(id string) (*Device, bool) {
	d, ok := f.byID[id]
	return d, ok
}

// Run runs every device and plays the scenario (looping if it says so) until ctx ends, then
// waits for every device to disconnect cleanly.
func (f *Fleet) Run(ctx context.Context) error {
	start := time.Now()
	f.log.Info("fleet starting", "devices", len(f.devices), "scenario", f.cfg.Scenario.Name, "broker", f.cfg.Broker)
	var wg sync.WaitGroup
	errs := make([]error, len(f.devices))
	for i, d := range f.devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if f.cfg.ConnectSpread > 0 && len(f.devices) > 1 {
				delay := f.cfg.ConnectSpread * time.Duration(i) / time.Duration(len(f.devices))
				if !sleep(ctx, delay) {
					return
				}
			}
			errs[i] = d.Run(ctx)
		}()
	}
	f.play(ctx, start)
	wg.Wait()
	f.log.Info("fleet stopped")
	return errors.Join(errs...)
}

// play runs the timeline until it ends (no loop) or ctx ends.
func (f *Fleet) play(ctx context.Context, start time.Time) {
	loop := f.cfg.Scenario.Loop.D()
	for round := 0; ; round++ {
		base := start.Add(time.Duration(round) * loop)
		for _, st := range f.steps {
			if !sleep(ctx, time.Until(base.Add(st.At.D()))) {
				return
			}
			f.log.Info("scenario step", "at", st.At.D(), "round", round, "device", st.Device,
				"event", st.Event, "action", st.Action, "set_metric", st.SetMetric != nil)
			if err := f.byID[st.Device].Do(ctx, st); err != nil && ctx.Err() == nil {
				f.log.Warn("scenario step not delivered", "device", st.Device, "err", err)
			}
		}
		if loop <= 0 {
			<-ctx.Done()
			return
		}
		if !sleep(ctx, time.Until(base.Add(loop))) {
			return
		}
	}
}

// sleep waits d or until ctx ends; it reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
