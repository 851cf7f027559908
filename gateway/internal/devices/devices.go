// Package devices owns the gateway's device registry: the devices declared in config or made
// through the API, their MQTT credentials, and their live health (connection state, last
// seen, battery, signal). Lookups on the ingest path take no lock; health is kept in atomics
// and saved to the store in batches.
package devices

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/gateway/internal/audit"
	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/credential"
	"github.com/community-edge/edge/gateway/internal/fanout"
	"github.com/community-edge/edge/gateway/internal/store"
)

// DefaultHeartbeat is the heartbeat interval of a device that declares none.
const DefaultHeartbeat = 60 * time.Second

// Connection states kept in Device.state.
const (
	stateUnknown int32 = iota
	stateOnline
	stateOffline
)

// Device is one registered device. Its descriptive fields never change after it is made; a
// change through the API makes a new Device.
type Device struct {
	ID         string
	Family     drivers.Family
	Site       string
	Name       string
	ProductKey string
	Location   config.Location
	GridCode   string
	Heartbeat  time.Duration
	Resident   *config.Resident
	Origin     string

	passwordHash string

	state      atomic.Int32
	stateMS    atomic.Int64
	lastSeenMS atomic.Int64
	firstMsgMS atomic.Int64  // the first telemetry, event or command answer since the gateway started
	battery    atomic.Uint64 // float64 bits; NaN when unknown
	rssi       atomic.Uint64
	fw         atomic.Pointer[string]
	dirty      atomic.Bool
	// pending is set while a state change for this device waits in the ingest queue, so the
	// heartbeat check and telemetry do not queue it twice.
	pending atomic.Bool
}

// Health is a snapshot of a device's live state.
type Health struct {
	State      string   `json:"state"`
	StateSince int64    `json:"state_since"`
	LastSeen   int64    `json:"last_seen"`
	BatteryPct *float64 `json:"battery_pct"`
	RSSI       *float64 `json:"rssi_dbm"`
	FW         string   `json:"fw"`
	// FirstMessage is when the device's first telemetry, event or command answer since the
	// gateway started arrived (Unix ms; 0: none yet). The installer's page shows it.
	FirstMessage int64 `json:"first_message"`
}

func stateName(s int32) string {
	switch s {
	case stateOnline:
		return string(drivers.Online)
	case stateOffline:
		return string(drivers.Offline)
	}
	return "unknown"
}

func stateCode(s string) int32 {
	switch s {
	case string(drivers.Online):
		return stateOnline
	case string(drivers.Offline):
		return stateOffline
	}
	return stateUnknown
}

func loadF(a *atomic.Uint64) *float64 {
	v := math.Float64frombits(a.Load())
	if math.IsNaN(v) {
		return nil
	}
	return &v
}

// Health returns the device's live state.
func (d *Device) Health() Health {
	h := Health{State: stateName(d.state.Load()), StateSince: d.stateMS.Load(), LastSeen: d.lastSeenMS.Load(),
		BatteryPct: loadF(&d.battery), RSSI: loadF(&d.rssi), FirstMessage: d.firstMsgMS.Load()}
	if fw := d.fw.Load(); fw != nil {
		h.FW = *fw
	}
	return h
}

// Online reports whether the device is online.
func (d *Device) Online() bool { return d.state.Load() == stateOnline }

// State returns "online", "offline" or "unknown".
func (d *Device) State() string { return stateName(d.state.Load()) }

// SetState records a committed state change.
func (d *Device) SetState(state string, atMS int64, fw string) {
	d.state.Store(stateCode(state))
	d.stateMS.Store(atMS)
	if state == string(drivers.Online) {
		d.touch(atMS)
	}
	if fw != "" {
		d.fw.Store(&fw)
	}
}

// ClaimPending marks a state change as queued; it returns false if one already is.
func (d *Device) ClaimPending() bool { return d.pending.CompareAndSwap(false, true) }

// ReleasePending clears the queued mark once the change is applied.
func (d *Device) ReleasePending() { d.pending.Store(false) }

func (d *Device) touch(ms int64) {
	for {
		old := d.lastSeenMS.Load()
		if ms <= old || d.lastSeenMS.CompareAndSwap(old, ms) {
			break
		}
	}
	d.dirty.Store(true)
}

// Seen records a message (telemetry, an event, a command answer) received at nowMS: the
// heartbeat, and battery and signal when t carries them. It reports whether this is the
// device's first message since the gateway started (tell subscribers: StateChanged).
func (d *Device) Seen(nowMS int64, t *drivers.Telemetry) (first bool) {
	d.touch(nowMS)
	first = d.firstMsgMS.Load() == 0 && d.firstMsgMS.CompareAndSwap(0, nowMS)
	if t == nil {
		return first
	}
	for _, m := range t.Metrics {
		switch m.Name {
		case "battery_pct":
			d.battery.Store(math.Float64bits(m.Value))
		case "rssi_dbm":
			d.rssi.Store(math.Float64bits(m.Value))
		}
	}
	return first
}

func (r *Registry) record(d *Device) (store.Device, error) {
	res, err := r.encodeResident(d.ID, d.Resident)
	if err != nil {
		return store.Device{}, err
	}
	return store.Device{ID: d.ID, Family: string(d.Family), Site: d.Site, Name: d.Name, ProductKey: d.ProductKey,
		Building: d.Location.Building, Unit: d.Location.Unit, Room: d.Location.Room, GridCode: d.GridCode,
		Heartbeat: d.Heartbeat, PasswordHash: d.passwordHash, Resident: res, Origin: d.Origin}, nil
}

// Registry is the set of registered devices.
type Registry struct {
	st   *store.Store
	site string
	log  *slog.Logger
	now  func() time.Time

	mu   sync.Mutex // serialises changes; readers use the snapshot
	byID atomic.Pointer[map[string]*Device]

	// Gateway login for the embedded broker.
	gwUser, gwHash string

	sealer Sealer // encrypts residents' private fields at rest; see SetSealer

	hub fanout.Hub[*Device]

	onRemove []func(id string)
}

// OnRemove adds a function called after a device is removed (the embedded broker ends its
// session). Call before use.
func (r *Registry) OnRemove(f func(id string)) { r.onRemove = append(r.onRemove, f) }

// Subscription receives devices whose connection state changed. A subscriber that falls
// behind is cut off (C closed); it should reload the device list.
type Subscription = fanout.Sub[*Device]

// Subscribe returns a subscription with room for buf changes.
func (r *Registry) Subscribe(buf int) *Subscription { return r.hub.Subscribe(buf) }

// StateChanged tells subscribers that d's connection state changed.
func (r *Registry) StateChanged(d *Device) { r.hub.Publish(d) }

// New returns a registry over st for the given site. Call Load before use.
func New(st *store.Store, site string, log *slog.Logger) *Registry {
	r := &Registry{st: st, site: site, log: log, now: time.Now}
	m := map[string]*Device{}
	r.byID.Store(&m)
	return r
}

// Lookup returns a device by id. It takes no lock.
func (r *Registry) Lookup(id string) (*Device, bool) {
	d, ok := (*r.byID.Load())[id]
	return d, ok
}

// All lists the devices ordered by id.
func (r *Registry) All() []*Device {
	m := *r.byID.Load()
	out := make([]*Device, 0, len(m))
	for _, d := range m {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Find returns the first device for which match is true, in no particular order, without
// building a list (it is used on the ingest path).
func (r *Registry) Find(match func(*Device) bool) (*Device, bool) {
	for _, d := range *r.byID.Load() {
		if match(d) {
			return d, true
		}
	}
	return nil, false
}

// Count returns how many devices are online, per family, and how many there are.
func (r *Registry) Count() (online map[drivers.Family]int, total int) {
	online = map[drivers.Family]int{}
	for _, d := range *r.byID.Load() {
		total++
		if d.Online() {
			online[d.Family]++
		}
	}
	return online, total
}

// NewDevice makes a Device from its declaration, hashing a plain password.
func (r *Registry) NewDevice(c config.Device, origin string) (*Device, error) {
	d := &Device{ID: c.ID, Family: drivers.Family(c.Family), Site: r.site, Name: c.Name, ProductKey: c.ProductKey,
		Location: c.Location, GridCode: c.GridCode, Heartbeat: c.HeartbeatInterval, Resident: c.Resident,
		Origin: origin, passwordHash: c.PasswordHash}
	if d.Heartbeat == 0 {
		d.Heartbeat = DefaultHeartbeat
	}
	if c.Password != "" {
		h, err := credential.Hash(c.Password)
		if err != nil {
			return nil, err
		}
		d.passwordHash = h
	}
	d.battery.Store(math.Float64bits(math.NaN()))
	d.rssi.Store(math.Float64bits(math.NaN()))
	return d, nil
}

// Load reads the registry from the store and brings it in line with the configured devices:
// configured ones are added or updated, devices that came from config but are no longer in it
// are removed (their login is revoked), devices made through the API are kept.
func (r *Registry) Load(ctx context.Context, declared []config.Device) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	// additions and removals are audited in the same transaction
	if err := r.st.Migrate(ctx, audit.Migrations); err != nil {
		return fmt.Errorf("devices: %w", err)
	}
	recs, states, err := r.st.Devices(ctx)
	if err != nil {
		return fmt.Errorf("devices: %w", err)
	}
	clearRecs := r.countInClear(recs) // from before encryption: scrubbed from the file below
	inConfig := map[string]bool{}
	for _, c := range declared {
		inConfig[c.ID] = true
		d, err := r.NewDevice(c, "config")
		if err != nil {
			return fmt.Errorf("devices: %s: %w", c.ID, err)
		}
		if d.passwordHash == "" {
			// keep a hash set earlier (through the API or an earlier config)
			for _, rec := range recs {
				if rec.ID == c.ID {
					d.passwordHash = rec.PasswordHash
				}
			}
		}
		rec, err := r.record(d)
		if err != nil {
			return fmt.Errorf("devices: %w", err)
		}
		if err := r.st.UpsertDevice(ctx, rec); err != nil {
			return fmt.Errorf("devices: %w", err)
		}
	}
	for _, rec := range recs {
		if rec.Origin == "config" && !inConfig[rec.ID] {
			if err := r.st.DeleteDevice(ctx, rec.ID); err != nil {
				return fmt.Errorf("devices: %w", err)
			}
			r.log.Info("device removed from config: login revoked", "device", rec.ID)
		}
	}
	recs, states, err = r.st.Devices(ctx)
	if err != nil {
		return fmt.Errorf("devices: %w", err)
	}
	m := make(map[string]*Device, len(recs))
	for i, rec := range recs {
		d, inClear, err := r.fromRecord(rec)
		if err != nil {
			return fmt.Errorf("devices: %w", err)
		}
		if inClear { // written before the data key was set: seal it now
			sealed, err := r.record(d)
			if err == nil {
				err = r.st.UpsertDevice(ctx, sealed)
			}
			if err != nil {
				return fmt.Errorf("devices: %w", err)
			}
		}
		st := states[i]
		d.state.Store(stateCode(st.State))
		d.stateMS.Store(st.StateMS)
		d.lastSeenMS.Store(st.LastSeenMS)
		if st.BatteryPct != nil {
			d.battery.Store(math.Float64bits(*st.BatteryPct))
		}
		if st.RSSI != nil {
			d.rssi.Store(math.Float64bits(*st.RSSI))
		}
		fw := st.FW
		d.fw.Store(&fw)
		m[d.ID] = d
	}
	if clearRecs > 0 {
		if err := r.scrubFreedPages(ctx, clearRecs); err != nil {
			return fmt.Errorf("devices: %w", err)
		}
	}
	r.byID.Store(&m)
	return nil
}

func (r *Registry) fromRecord(rec store.Device) (*Device, bool, error) {
	d := &Device{ID: rec.ID, Family: drivers.Family(rec.Family), Site: rec.Site, Name: rec.Name, ProductKey: rec.ProductKey,
		Location: config.Location{Building: rec.Building, Unit: rec.Unit, Room: rec.Room}, GridCode: rec.GridCode,
		Heartbeat: rec.Heartbeat, Origin: rec.Origin, passwordHash: rec.PasswordHash}
	if d.Heartbeat == 0 {
		d.Heartbeat = DefaultHeartbeat
	}
	res, inClear, err := r.decodeResident(rec.ID, rec.Resident)
	if err != nil {
		return nil, false, err
	}
	d.Resident = res
	d.battery.Store(math.Float64bits(math.NaN()))
	d.rssi.Store(math.Float64bits(math.NaN()))
	return d, inClear, nil
}

// Add registers a device made through the API and returns its new MQTT password, which is
// shown once and stored only as a hash. The audit log records it as done by actor from remote.
func (r *Registry) Add(ctx context.Context, c config.Device, actor, remote string) (*Device, string, error) {
	added, err := r.AddAll(ctx, []config.Device{c}, actor, remote, "")
	if err != nil {
		return nil, "", err
	}
	return added[0].Device, added[0].Password, nil
}

// Added is a device made through the API with its new MQTT password (shown once).
type Added struct {
	Device   *Device
	Password string
}

// ErrExists is returned when a device's id is taken.
var ErrExists = errors.New("devices: a device with this id exists")

// AddAll registers devices made through the API, each with a new password, all or none: one
// invalid or taken id adds none of them. Each gets an audit entry ("device.add" by actor from
// remote, with how, e.g. "csv import", in its detail) in the same transaction.
func (r *Registry) AddAll(ctx context.Context, cs []config.Device, actor, remote, how string) ([]Added, error) {
	seen := map[string]bool{}
	for _, c := range cs {
		if errs := config.ValidateDevice(c); len(errs) > 0 {
			return nil, fmt.Errorf("devices: %s: %s", c.ID, errs[0])
		}
		if seen[c.ID] {
			return nil, fmt.Errorf("devices: %s: %w", c.ID, ErrExists)
		}
		seen[c.ID] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := *r.byID.Load()
	out := make([]Added, 0, len(cs))
	recs := make([]store.Device, 0, len(cs))
	for _, c := range cs {
		if _, dup := cur[c.ID]; dup {
			return nil, fmt.Errorf("devices: %s: %w", c.ID, ErrExists)
		}
		pw, err := credential.NewPassword()
		if err != nil {
			return nil, err
		}
		c.Password, c.PasswordHash = pw, ""
		d, err := r.NewDevice(c, "api")
		if err != nil {
			return nil, err
		}
		rec, err := r.record(d)
		if err != nil {
			return nil, fmt.Errorf("devices: %w", err)
		}
		out = append(out, Added{Device: d, Password: pw})
		recs = append(recs, rec)
	}
	now := r.now().UnixMilli()
	err := r.st.AddDevices(ctx, recs, func(tx *sql.Tx) error {
		for _, a := range out {
			detail := string(a.Device.Family)
			if how != "" {
				detail += ", " + how
			}
			if err := audit.Record(ctx, tx, audit.Entry{AtMS: now, Actor: actor, Action: "device.add", Target: a.Device.ID,
				Detail: detail, Remote: remote}); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, store.ErrExists) {
		return nil, fmt.Errorf("devices: %w (%v)", ErrExists, err)
	}
	if err != nil {
		return nil, fmt.Errorf("devices: %w", err)
	}
	r.swap(func(m map[string]*Device) {
		for _, a := range out {
			m[a.Device.ID] = a.Device
		}
	})
	return out, nil
}

// Remove unregisters a device; its login stops working at once and its session is ended. The
// audit log records it ("device.remove") as done by actor from remote.
func (r *Registry) Remove(ctx context.Context, id, actor, remote string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.st.DeleteDeviceWith(ctx, id, func(tx *sql.Tx) error {
		return audit.Record(ctx, tx, audit.Entry{AtMS: r.now().UnixMilli(), Actor: actor, Action: "device.remove", Target: id,
			Detail: "login revoked", Remote: remote})
	})
	if err != nil {
		return fmt.Errorf("devices: remove %s: %w", id, err)
	}
	r.swap(func(m map[string]*Device) { delete(m, id) })
	for _, f := range r.onRemove {
		f(id)
	}
	return nil
}

func (r *Registry) swap(change func(map[string]*Device)) {
	old := *r.byID.Load()
	m := make(map[string]*Device, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	change(m)
	r.byID.Store(&m)
}

// SetGatewayLogin sets the login the gateway's own services use on the embedded broker.
func (r *Registry) SetGatewayLogin(user, hash string) { r.gwUser, r.gwHash = user, hash }

// Principal is who a broker login is.
type Principal struct {
	Gateway bool    // the gateway's own client
	Device  *Device // a device
}

// Authenticate checks an MQTT login. Devices log in with their id as username.
func (r *Registry) Authenticate(user, password string) (Principal, bool) {
	if r.gwUser != "" && user == r.gwUser {
		return Principal{Gateway: true}, credential.Verify(r.gwHash, password) == nil
	}
	d, ok := r.Lookup(user)
	if !ok || d.passwordHash == "" {
		return Principal{}, false
	}
	return Principal{Device: d}, credential.Verify(d.passwordHash, password) == nil
}

// MosquittoPasswd returns the registry's credentials as lines of a Mosquitto password file.
func (r *Registry) MosquittoPasswd() []string {
	var out []string
	for _, d := range r.All() {
		if d.passwordHash != "" {
			out = append(out, d.ID+":"+d.passwordHash)
		}
	}
	return out
}

// Overdue returns the online devices not heard from for three heartbeat intervals, counting
// from no earlier than since (the gateway's start, so a restart does not take every device
// offline at once).
func (r *Registry) Overdue(now time.Time, since time.Time) []*Device {
	var out []*Device
	nowMS, sinceMS := now.UnixMilli(), since.UnixMilli()
	for _, d := range *r.byID.Load() {
		if d.state.Load() != stateOnline {
			continue
		}
		last := max(d.lastSeenMS.Load(), sinceMS)
		if nowMS-last > 3*d.Heartbeat.Milliseconds() {
			out = append(out, d)
		}
	}
	return out
}

// Flush saves the health of devices that changed since the last flush.
func (r *Registry) Flush(ctx context.Context) error {
	var ids []string
	var states []store.DeviceState
	for _, d := range *r.byID.Load() {
		if d.dirty.Swap(false) {
			h := d.Health()
			ids = append(ids, d.ID)
			states = append(states, store.DeviceState{LastSeenMS: h.LastSeen, BatteryPct: h.BatteryPct, RSSI: h.RSSI})
		}
	}
	if err := r.st.SaveStates(ctx, ids, states); err != nil {
		return fmt.Errorf("devices: flush: %w", err)
	}
	return nil
}

// IsGatewayUser reports whether user is the gateway's own broker login.
func (r *Registry) IsGatewayUser(user string) bool { return r.gwUser != "" && user == r.gwUser }
