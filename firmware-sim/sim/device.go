// Package sim runs simulated device firmware against an MQTT broker: each Device logs in
// with its own credentials, announces itself (retained status, last will), sends telemetry
// every heartbeat and the events its firmware raises, answers commands, reconnects with
// exponential backoff and jitter, and obeys scenario steps; a Fleet runs many devices and
// plays a scenario's timeline over them.
package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/firmware-sim/family"
	"github.com/community-edge/edge/firmware-sim/mqttconn"
	"github.com/community-edge/edge/firmware-sim/payload"
	"github.com/community-edge/edge/firmware-sim/scenario"
)

// Backoff paces reconnection: the n-th attempt in a row waits a random time between half
// and all of Min·2ⁿ⁻¹, capped at Max.
type Backoff struct {
	Min, Max time.Duration
}

// Delay returns the wait before attempt n (from 1); jitter is a number in [0, 1).
func (b Backoff) Delay(n int, jitter float64) time.Duration {
	d := float64(b.Max)
	if n < 63 {
		d = min(d, float64(b.Min)*math.Pow(2, float64(n-1)))
	}
	return time.Duration(d/2 + d/2*jitter)
}

// DeviceConfig describes one simulated device.
type DeviceConfig struct {
	Broker   string
	Device   payload.Device
	Password string
	// Dialect is "native" (default) or "alink"; Model is required for alink.
	Dialect string
	Model   payload.ThingModel
	// FW is the firmware version announced in the status; default "fwsim-1.0".
	FW string
	// Heartbeat is the telemetry interval; default 30 s.
	Heartbeat time.Duration
	// TelemetryQoS is 0 or 1 (default 0: telemetry doubles as the heartbeat, the next one
	// replaces a lost one).
	TelemetryQoS byte
	// Family simulation options (seed, autonomous events).
	Sim family.Options
	// Backoff paces reconnection; default 500 ms to 30 s.
	Backoff Backoff
	// KeepAlive is the MQTT keepalive; default 30 s.
	KeepAlive time.Duration
	// Outbox is how many events are kept while disconnected; default 256.
	Outbox int
}

// Device is one simulated device. Create it with NewDevice, run it with Run, and send it
// scenario steps with Do while it runs.
type Device struct {
	cfg   DeviceConfig
	log   *slog.Logger
	cmds  chan []byte
	steps chan scenario.Step
	done  chan struct{}
}

// NewDevice checks the configuration and sets defaults; it does no I/O.
func NewDevice(cfg DeviceConfig, log *slog.Logger) (*Device, error) {
	var errs []error
	if !cfg.Device.Family.Valid() {
		errs = append(errs, fmt.Errorf("family %q is not callbutton, locker or charger", cfg.Device.Family))
	}
	if cfg.Device.ID == "" || cfg.Device.Site == "" {
		errs = append(errs, errors.New("device id and site are required"))
	}
	if cfg.Dialect == "" {
		cfg.Dialect = "native"
	}
	if cfg.Dialect == "alink" && cfg.Model == nil {
		errs = append(errs, errors.New("alink dialect needs a thing model"))
	}
	if cfg.TelemetryQoS > 1 {
		errs = append(errs, fmt.Errorf("telemetry qos %d is not 0 or 1", cfg.TelemetryQoS))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sim: device %s: %w", cfg.Device.ID, err)
	}
	if cfg.FW == "" {
		cfg.FW = "fwsim-1.0"
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 30 * time.Second
	}
	if cfg.Backoff.Min <= 0 {
		cfg.Backoff.Min = 500 * time.Millisecond
	}
	if cfg.Backoff.Max < cfg.Backoff.Min {
		cfg.Backoff.Max = max(30*time.Second, cfg.Backoff.Min)
	}
	if cfg.Outbox <= 0 {
		cfg.Outbox = 256
	}
	return &Device{cfg: cfg, log: log.With("device", cfg.Device.ID, "family", cfg.Device.Family),
		cmds: make(chan []byte, 32), steps: make(chan scenario.Step, 16), done: make(chan struct{})}, nil
}

// ID is the device id.
func (d *Device) ID() string { return d.cfg.Device.ID }

// Family is the device's family.
func (d *Device) Family() drivers.Family { return d.cfg.Device.Family }

// Do hands a scenario step to the running device. It returns an error if the device has
// stopped or ctx ends first.
func (d *Device) Do(ctx context.Context, st scenario.Step) error {
	select {
	case d.steps <- st:
		return nil
	case <-d.done:
		return fmt.Errorf("sim: device %s: not running", d.cfg.Device.ID)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// onCommand runs on a paho goroutine; it hands the command to the device's goroutine.
func (d *Device) onCommand(p []byte) {
	select {
	case d.cmds <- p:
	case <-d.done:
	}
}

// run is the state of one Run, owned by its goroutine.
type run struct {
	*Device
	conn    *mqttconn.Conn
	enc     payload.Encoder
	sim     family.Sim
	rng     *rand.Rand
	up      bool // connected
	wantUp  bool // false after a scenario's disconnect
	silent  bool
	outbox  []payload.Message
	dropped int
	attempt int
	retry   *time.Timer
	beat    *time.Ticker
}

// Run connects and runs the device until ctx ends, then disconnects cleanly (offline status,
// DISCONNECT). A device that cannot reach the broker keeps retrying; Run returns an error
// only if the device cannot be set up.
func (d *Device) Run(ctx context.Context) error {
	defer close(d.done)
	seed := d.cfg.Sim.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	boot := rng.Uint32()
	enc, err := payload.NewEncoder(d.cfg.Dialect, d.cfg.Device, boot, d.cfg.Model)
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	opt := d.cfg.Sim
	opt.Seed = seed
	fs, err := family.New(d.cfg.Device.Family, opt)
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	conn, err := mqttconn.New(mqttconn.Config{Broker: d.cfg.Broker, Device: d.cfg.Device, Password: d.cfg.Password,
		KeepAlive: d.cfg.KeepAlive, OnCommand: d.onCommand})
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	r := &run{Device: d, conn: conn, enc: enc, sim: fs, rng: rng, wantUp: true,
		retry: time.NewTimer(0), beat: time.NewTicker(d.cfg.Heartbeat)}
	defer r.retry.Stop()
	defer r.beat.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	r.sim.Advance(time.Now())
	d.log.Debug("booted", "boot", fmt.Sprintf("%08x", boot), "dialect", enc.Dialect())
	for {
		select {
		case <-ctx.Done():
			r.shutdown()
			return nil
		case <-r.retry.C:
			r.connect(ctx)
		case err := <-conn.Lost():
			r.up = false
			d.log.Warn("connection lost", "err", err)
			r.schedule()
		case now := <-tick.C:
			for _, ev := range r.sim.Advance(now) {
				r.emit(ctx, now, ev)
			}
		case now := <-r.beat.C:
			r.heartbeat(ctx, now)
		case p := <-d.cmds:
			r.command(ctx, p)
		case st := <-d.steps:
			r.step(ctx, st)
		}
	}
}

// schedule plans the next connection attempt with backoff.
func (r *run) schedule() {
	if !r.wantUp || r.up {
		return
	}
	r.attempt++
	delay := r.cfg.Backoff.Delay(r.attempt, r.rng.Float64())
	r.retry.Reset(delay)
}

func (r *run) connect(ctx context.Context) {
	if !r.wantUp || r.up {
		return
	}
	if err := r.conn.Connect(ctx); err != nil {
		if ctx.Err() == nil {
			r.log.Warn("connect failed", "attempt", r.attempt+1, "err", err)
		}
		r.schedule()
		return
	}
	r.up, r.attempt = true, 0
	r.log.Info("connected", "broker", r.cfg.Broker)
	now := time.Now()
	if err := r.conn.PublishWait(ctx, payload.Status(r.cfg.Device, r.cfg.FW, now.UnixMilli())); err != nil {
		r.log.Warn("status not published", "err", err)
	}
	if r.dropped > 0 {
		r.log.Warn("outbox overflowed while offline: events lost", "lost", r.dropped)
		r.dropped = 0
	}
	queued := r.outbox
	r.outbox = nil
	for _, m := range queued {
		r.publishEvent(ctx, m)
	}
	r.heartbeat(ctx, now)
}

func (r *run) shutdown() {
	if !r.up {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.conn.Disconnect(ctx); err != nil {
		r.log.Warn("offline status not published", "err", err)
	}
	r.up = false
	r.log.Info("disconnected")
}

func (r *run) heartbeat(ctx context.Context, now time.Time) {
	if !r.up || r.silent {
		return
	}
	for _, t := range r.sim.Telemetry(now) {
		t.TS = now.UnixMilli()
		m, err := r.enc.Telemetry(t, r.cfg.TelemetryQoS)
		if err != nil {
			r.log.Warn("telemetry not encoded", "err", err)
			continue
		}
		if r.cfg.TelemetryQoS == 0 {
			r.conn.Publish(m)
			continue
		}
		if err := r.conn.PublishWait(ctx, m); err != nil {
			r.log.Warn("telemetry not published", "err", err)
		}
	}
}

// emit sends an event the firmware raised; while disconnected it waits in the outbox.
func (r *run) emit(ctx context.Context, now time.Time, ev family.Event) {
	if r.silent {
		r.log.Debug("event lost: device silent", "type", ev.Type)
		return
	}
	m, id, err := r.enc.Event(now.UnixMilli(), ev.Type, ev.Data)
	if err != nil {
		r.log.Warn("event not encoded", "type", ev.Type, "err", err)
		return
	}
	r.log.Info("event", "type", ev.Type, "id", id)
	if !r.up {
		r.queue(m)
		return
	}
	r.publishEvent(ctx, m)
}

func (r *run) publishEvent(ctx context.Context, m payload.Message) {
	if err := r.conn.PublishWait(ctx, m); err != nil {
		// paho keeps an unacknowledged QoS 1 message of the persistent session and sends it
		// again after reconnecting; only a message it refused goes to the outbox.
		if !r.conn.Connected() {
			r.queue(m)
		}
		r.log.Warn("event not acknowledged yet", "topic", m.Topic, "err", err)
	}
}

func (r *run) queue(m payload.Message) {
	if len(r.outbox) >= r.cfg.Outbox {
		r.outbox = r.outbox[1:]
		r.dropped++
	}
	r.outbox = append(r.outbox, m)
}

// Generic commands every device understands; family commands are passed to the family.
const (
	cmdPing         = "ping"
	cmdSetHeartbeat = "set_heartbeat" // args.interval_s
	cmdReport       = "report"        // send telemetry now
)

func (r *run) command(ctx context.Context, p []byte) {
	if r.silent {
		return
	}
	cmd, err := payload.DecodeCommand(p)
	if err != nil {
		r.log.Warn("bad command", "err", err)
		return
	}
	now := time.Now()
	switch cmd.Name {
	case cmdPing:
	case cmdReport:
		defer r.heartbeat(ctx, now)
	case cmdSetHeartbeat:
		s, ok := cmd.Args["interval_s"].(float64)
		if !ok || s < 1 || s > 86400 {
			err = errors.New("sim: command set_heartbeat: argument \"interval_s\" must be a number of seconds in 1..86400")
			break
		}
		r.beat.Reset(time.Duration(s * float64(time.Second)))
	default:
		err = r.sim.Command(now, cmd)
	}
	ack := drivers.CmdAck{ID: cmd.ID, OK: err == nil}
	if err != nil {
		ack.Error = err.Error()
	}
	r.log.Info("command", "name", cmd.Name, "id", cmd.ID, "ok", ack.OK, "error", ack.Error)
	if !r.up {
		return
	}
	if err := r.conn.PublishWait(ctx, payload.Ack(r.cfg.Device, ack)); err != nil {
		r.log.Warn("ack not published", "err", err)
	}
}

func (r *run) step(ctx context.Context, st scenario.Step) {
	now := time.Now()
	switch {
	case st.Event != "":
		ev := family.Event{Type: st.Event, Data: st.EventData}
		r.sim.Apply(ev)
		r.emit(ctx, now, ev)
	case st.SetMetric != nil:
		sm := st.SetMetric
		var err error
		if sm.Release {
			err = r.sim.Release(sm.Port, sm.Name)
		} else {
			err = r.sim.Pin(now, sm.Port, sm.Name, *sm.Value, sm.Over.D())
		}
		if err != nil {
			r.log.Warn("set_metric refused", "err", err)
		}
	default:
		r.action(ctx, st.Action)
	}
}

func (r *run) action(ctx context.Context, a string) {
	r.log.Info("scenario action", "action", a)
	switch a {
	case scenario.GoSilent:
		r.silent = true
	case scenario.Resume:
		r.silent = false
	case scenario.DisconnectHard:
		r.wantUp = false
		if r.up {
			r.conn.CloseHard()
			r.up = false
		}
	case scenario.Disconnect:
		r.wantUp = false
		r.shutdown()
	case scenario.Reconnect:
		r.wantUp, r.silent, r.attempt = true, false, 0
		r.connect(ctx)
	}
}
