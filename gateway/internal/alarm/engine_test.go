package alarm

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/gateway/internal/alarm/rules"
	"github.com/community-edge/edge/gateway/internal/audit"
	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/devices"
	"github.com/community-edge/edge/gateway/internal/ingest"
	"github.com/community-edge/edge/gateway/internal/store"
)

// rig is an engine over a real store, with a clock the test moves.
type rig struct {
	t    testing.TB
	e    *Engine
	st   *store.Store
	devs *devices.Registry
	now  time.Time
	seq  int
	sub  *Subscription
}

func newRig(t testing.TB) *rig {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx, audit.Migrations); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	devs := devices.New(st, "t", log)
	err = devs.Load(ctx, []config.Device{
		{ID: "cb-1", Family: "callbutton", Location: config.Location{Building: "3", Unit: "2", Room: "401"},
			Resident: &config.Resident{Name: "张秀英", Age: 82, LivesAlone: true}},
		{ID: "cb-2", Family: "callbutton", Resident: &config.Resident{Name: "李建国", Age: 75}},
		{ID: "lk-1", Family: "locker"},
		{ID: "ch-1", Family: "charger"},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, st: st, devs: devs, now: time.UnixMilli(1_800_000_000_000)}
	r.e = New(Config{Site: "t", Rules: rules.Config{}}, st, devs, log)
	r.e.SetClock(func() time.Time { return r.now })
	if err := r.e.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	r.sub = r.e.Subscribe(1000)
	return r
}

// event stores one device event through the ingest hook, as the ingest writer does.
func (r *rig) event(dev, typ string, data drivers.EventData) {
	r.t.Helper()
	d, _ := r.devs.Lookup(dev)
	r.seq++
	ev := &ingest.Stored{Event: store.Event{DeviceID: dev, EventID: "e" + string(rune('a'+r.seq)), Family: string(d.Family), Type: typ,
		TSMS: r.now.UnixMilli(), ReceivedMS: r.now.UnixMilli()}, Data: data, Device: d}
	ctx := context.Background()
	tx, err := r.st.DB().BeginTx(ctx, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.e.ApplyTx(ctx, tx, []*ingest.Stored{ev}); err != nil {
		r.t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		r.t.Fatal(err)
	}
	r.e.Committed(nil)
}

func (r *rig) advance(d time.Duration) {
	r.t.Helper()
	r.now = r.now.Add(d)
	if err := r.e.Check(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

// changes drains the announced changes as "kind type" strings.
func (r *rig) changes() []string {
	var out []string
	for {
		select {
		case c := <-r.sub.C:
			out = append(out, c.Kind+" "+c.Alarm.Type)
		default:
			return out
		}
	}
}

func (r *rig) open(dev string) []Alarm {
	r.t.Helper()
	t := true
	as, err := r.e.List(context.Background(), Filter{Open: &t, Device: dev})
	if err != nil {
		r.t.Fatal(err)
	}
	return as
}

func eq(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("changes %q, want %q", got, want)
	}
}

func TestSOSLifecycleRepeatCancelAndAudit(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.event("cb-1", "sos", drivers.EventData{Source: "pendant"})
	r.event("cb-1", "sos", drivers.EventData{Source: "wall"})
	r.event("cb-1", "cancel", drivers.EventData{})
	eq(t, r.changes(), "raised sos", "repeated sos", "cancelled sos")
	open := r.open("cb-1")
	if len(open) != 1 || open[0].Count != 2 || open[0].CancelledMS == 0 || open[0].State != Raised || open[0].Severity != rules.Critical {
		t.Fatalf("open alarms: %+v", open)
	}
	id := open[0].ID
	if _, err := r.e.Resolve(ctx, id, "王值班", "bogus", ""); err == nil {
		t.Fatal("unknown outcome accepted")
	}
	if _, err := r.e.Acknowledge(ctx, id, "王值班"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.e.Acknowledge(ctx, id, "王值班"); err == nil {
		t.Fatal("acknowledged twice")
	}
	a, err := r.e.Resolve(ctx, id, "王值班", "phoned", "老人按错了，已电话确认")
	if err != nil || a.State != Resolved || a.Outcome != "phoned" || a.ResolvedBy != "王值班" {
		t.Fatalf("resolve: %v %+v", err, a)
	}
	if _, err := r.e.Resolve(ctx, id, "王值班", "phoned", ""); err == nil {
		t.Fatal("resolved twice")
	}
	eq(t, r.changes(), "acknowledged sos", "resolved sos")
	// a new SOS after the old one is closed is a new alarm
	r.event("cb-1", "sos", drivers.EventData{Source: "pendant"})
	if open := r.open("cb-1"); len(open) != 1 || open[0].ID == id {
		t.Fatalf("new sos: %+v", open)
	}
	_, tl, err := r.e.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, c := range tl {
		kinds = append(kinds, c.Kind+":"+c.Actor)
	}
	eq(t, kinds, "raised:system", "repeated:system", "cancelled:resident", "acknowledged:王值班", "resolved:王值班")
	entries, err := audit.List(ctx, r.st.DB(), audit.Filter{Target: id})
	if err != nil {
		t.Fatal(err)
	}
	// the repeat is on the timeline, not in the audit log of handling
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action+":"+e.Actor)
	}
	eq(t, actions, "alarm.resolved:王值班", "alarm.acknowledged:王值班", "alarm.cancelled:resident", "alarm.raised:system")
}

func TestEscalationOfUnacknowledgedCritical(t *testing.T) {
	r := newRig(t)
	r.event("cb-1", "fall", drivers.EventData{})
	r.event("cb-2", "low_battery", drivers.EventData{})
	r.changes()
	r.advance(59 * time.Second)
	eq(t, r.changes())
	r.advance(time.Second)
	eq(t, r.changes(), "escalated fall")
	r.advance(time.Minute)
	eq(t, r.changes()) // once
	if a := r.open("cb-1")[0]; !a.Escalated || a.State != Raised {
		t.Fatalf("%+v", a)
	}
	// an acknowledged critical alarm does not escalate
	r.event("cb-2", "sos", drivers.EventData{Source: "wall"})
	sos := r.open("cb-2")[0]
	if sos.Type != rules.TypeSOS {
		sos = r.open("cb-2")[1]
	}
	r.e.Acknowledge(context.Background(), sos.ID, "值班")
	r.changes()
	r.advance(5 * time.Minute)
	eq(t, r.changes())
}

func TestLockerDoorTimerAndRestoral(t *testing.T) {
	r := newRig(t)
	r.event("lk-1", "door_opened", drivers.EventData{Compartment: "A7"})
	r.advance(4*time.Minute + 59*time.Second)
	eq(t, r.changes())
	r.advance(time.Second)
	eq(t, r.changes(), "raised door_left_open")
	r.advance(10 * time.Minute)
	eq(t, r.changes()) // the timer fired once
	r.event("lk-1", "door_closed", drivers.EventData{Compartment: "A7"})
	eq(t, r.changes(), "cleared door_left_open")
	// closed in time: nothing
	r.event("lk-1", "door_opened", drivers.EventData{Compartment: "B1"})
	r.advance(time.Minute)
	r.event("lk-1", "door_closed", drivers.EventData{Compartment: "B1"})
	r.advance(10 * time.Minute)
	eq(t, r.changes())
	// power lost, then restored: cleared automatically, kept in history
	r.event("lk-1", "power_lost", drivers.EventData{})
	r.event("lk-1", "power_restored", drivers.EventData{})
	eq(t, r.changes(), "raised power_lost", "cleared power_lost")
	f := false
	hist, _ := r.e.List(context.Background(), Filter{Open: &f, Device: "lk-1"})
	if len(hist) != 2 || !hist[0].AutoCleared || hist[0].Outcome != OutcomeRestored {
		t.Fatalf("history: %+v", hist)
	}
}

func TestDeviceOfflineClearedWhenBackOnline(t *testing.T) {
	r := newRig(t)
	r.event("cb-2", drivers.EventDeviceOffline, drivers.EventData{Reason: "heartbeat_missed"})
	if a := r.open("cb-2"); len(a) != 1 || a[0].Severity != rules.High {
		t.Fatalf("%+v", a)
	}
	r.event("cb-2", drivers.EventDeviceOnline, drivers.EventData{Reason: "telemetry"})
	eq(t, r.changes(), "raised device_offline", "cleared device_offline")
	if a := r.open("cb-2"); len(a) != 0 {
		t.Fatalf("still open: %+v", a)
	}
}

func TestParcelWelfareCheckOnlyForResidentLivingAlone(t *testing.T) {
	r := newRig(t)
	r.event("lk-1", "parcel_deposited", drivers.EventData{Parcel: "SF1", Resident: "张秀英", Compartment: "C3"})
	r.event("lk-1", "parcel_deposited", drivers.EventData{Parcel: "SF2", Resident: "李建国", Compartment: "C4"})
	r.event("lk-1", "parcel_deposited", drivers.EventData{Parcel: "SF3", Resident: "3-2-401", Compartment: "C5"})
	r.advance(72*time.Hour + time.Second)
	eq(t, r.changes(), "raised parcel_uncollected", "repeated parcel_uncollected")
	a := r.open("lk-1")[0]
	if !strings.Contains(a.Detail, "SF") || a.Severity != rules.High {
		t.Fatalf("%+v", a)
	}
}

func TestChargerTemperatureHeldAboveLimit(t *testing.T) {
	r := newRig(t)
	ch, _ := r.devs.Lookup("ch-1")
	port := 2
	read := func(v float64) {
		r.e.Telemetry(ch, &drivers.Telemetry{Port: &port, Metrics: []drivers.Metric{{Name: "temp_c", Value: v}}}, r.now.UnixMilli())
	}
	read(75)
	r.advance(20 * time.Second)
	read(68) // dipped: the clock starts again
	r.advance(20 * time.Second)
	read(72)
	r.advance(29 * time.Second)
	eq(t, r.changes())
	read(73)
	r.advance(time.Second)
	eq(t, r.changes(), "raised temperature_high")
	read(74)
	r.advance(time.Minute)
	eq(t, r.changes()) // held: no repeat every 30 s
	if a := r.open("ch-1")[0]; !strings.Contains(a.Detail, `"port":2`) {
		t.Fatalf("%+v", a)
	}
}

func TestTimersSurviveRestart(t *testing.T) {
	r := newRig(t)
	r.event("lk-1", "door_opened", drivers.EventData{Compartment: "D4"})
	// a new engine over the same store, as after a restart
	e2 := New(Config{Site: "t"}, r.st, r.devs, slog.New(slog.NewTextHandler(io.Discard, nil)))
	e2.SetClock(func() time.Time { return r.now })
	sub := e2.Subscribe(10)
	r.now = r.now.Add(6 * time.Minute)
	if err := e2.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-sub.C:
		if c.Alarm.Type != rules.TypeDoorLeftOpen || !strings.Contains(c.Alarm.Detail, "D4") {
			t.Fatalf("%+v", c)
		}
	default:
		t.Fatal("timer lost across restart")
	}
}

func TestSlowSubscriberIsCutOffNotBlocking(t *testing.T) {
	r := newRig(t)
	slow := r.e.Subscribe(2)
	for i := 0; i < 5; i++ {
		r.event("lk-1", "tamper", drivers.EventData{})
	}
	n := 0
	for range slow.C {
		n++
	}
	if n != 2 || !slow.Lagged {
		t.Fatalf("slow subscriber got %d, lagged %v", n, slow.Lagged)
	}
	if got := len(r.changes()); got != 5 {
		t.Fatalf("the other subscriber got %d changes", got)
	}
}

// BenchmarkRepeatedSOS measures the engine's work inside the ingest transaction for an event
// that adds to an open alarm: the lookup, the count update and the timeline entry.
func BenchmarkRepeatedSOS(b *testing.B) {
	r := newRig(b)
	r.event("cb-1", "sos", drivers.EventData{Source: "wall"})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.event("cb-1", "sos", drivers.EventData{Source: "wall"})
		if i%100 == 0 {
			r.changes()
		}
	}
}

// batch stores events through the ingest hook in one transaction, as the ingest writer does
// with a batch, each a millisecond after the last.
func (r *rig) batch(evs ...testEvent) {
	r.t.Helper()
	var stored []*ingest.Stored
	for _, e := range evs {
		d, _ := r.devs.Lookup(e.dev)
		r.seq++
		r.now = r.now.Add(time.Millisecond)
		stored = append(stored, &ingest.Stored{Event: store.Event{DeviceID: e.dev, EventID: fmt.Sprintf("e%d", r.seq), Family: string(d.Family),
			Type: e.typ, TSMS: r.now.UnixMilli(), ReceivedMS: r.now.UnixMilli()}, Data: e.data, Device: d})
	}
	ctx := context.Background()
	tx, err := r.st.DB().BeginTx(ctx, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.e.ApplyTx(ctx, tx, stored); err != nil {
		r.t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		r.t.Fatal(err)
	}
	r.e.Committed(nil)
}

type testEvent struct {
	dev, typ string
	data     drivers.EventData
}

// TestBatchCountsRepeatsAsOneByOne: alarms raised, repeated, cancelled and cleared in memory
// within one ingest transaction, or over transactions that know the open alarms from the ones
// before, leave the same alarms, timelines and announcements as the same events stored one
// transaction each with every alarm read from the database.
func TestBatchCountsRepeatsAsOneByOne(t *testing.T) {
	evs := []testEvent{
		{"cb-1", "sos", drivers.EventData{Source: "pendant"}},
		{"cb-1", "sos", drivers.EventData{Source: "wall"}},
		{"cb-2", "low_battery", drivers.EventData{}},
		{"cb-1", "sos", drivers.EventData{Source: "pendant"}},
		{"cb-1", "fall", drivers.EventData{}},
		{"cb-1", "cancel", drivers.EventData{}},
		{"cb-1", "sos", drivers.EventData{Source: "wall"}},
		{"cb-1", "cancel", drivers.EventData{}},
		{"cb-1", "fall", drivers.EventData{}},
		{"lk-1", "power_lost", drivers.EventData{}},
		{"lk-1", "power_lost", drivers.EventData{}},
		{"lk-1", "power_restored", drivers.EventData{}},
		{"lk-1", "power_lost", drivers.EventData{}},
		{"cb-2", "low_battery", drivers.EventData{}},
		{"lk-1", "power_lost", drivers.EventData{}},
	}
	read, one, all := newRig(t), newRig(t), newRig(t)
	for _, e := range evs {
		read.e.known.invalidate()
		read.batch(e)
		one.batch(e)
	}
	all.batch(evs...)

	type seen struct {
		Kind  string
		AtMS  int64
		Alarm Alarm
	}
	announced := func(r *rig) []seen {
		var out []seen
		for {
			select {
			case c := <-r.sub.C:
				out = append(out, seen{c.Kind, c.AtMS, c.Alarm})
			default:
				return out
			}
		}
	}
	stored := func(r *rig) (as []Alarm, tls [][]string) {
		as, err := r.e.List(context.Background(), Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			_, tl, err := r.e.Get(context.Background(), a.ID)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, c := range tl {
				kinds = append(kinds, fmt.Sprintf("%s@%d", c.Kind, c.AtMS))
			}
			tls = append(tls, kinds)
		}
		return as, tls
	}
	readAs, readTL := stored(read)
	readAnn := announced(read)
	for name, r := range map[string]*rig{"one by one": one, "one batch": all} {
		as, tl := stored(r)
		if !reflect.DeepEqual(as, readAs) {
			t.Fatalf("%s: alarms differ:\n%+v\nread from the database each time:\n%+v", name, as, readAs)
		}
		if !reflect.DeepEqual(tl, readTL) {
			t.Fatalf("%s: timelines differ:\n%v\nread from the database each time:\n%v", name, tl, readTL)
		}
		if ann := announced(r); !reflect.DeepEqual(ann, readAnn) {
			t.Fatalf("%s: announcements differ:\n%+v\nread from the database each time:\n%+v", name, ann, readAnn)
		}
	}
	allAs := readAs
	// and what they are: the sos counted 4 presses, the second power loss 2 after the restoral
	counts := map[string]int{}
	for _, a := range allAs {
		counts[fmt.Sprintf("%s/%s/%s", a.DeviceID, a.Type, a.State)] = a.Count
	}
	want := map[string]int{"cb-1/sos/raised": 4, "cb-1/fall/raised": 2, "cb-2/low_battery/raised": 2,
		"lk-1/power_lost/resolved": 2, "lk-1/power_lost/raised": 2}
	if !reflect.DeepEqual(counts, want) {
		t.Fatalf("alarm counts %v, want %v", counts, want)
	}
}

// TestRepeatsAfterHandling: the open alarms the ingest writer knows from earlier batches follow
// what the duty staff do between them. A press after an acknowledgement is announced with the
// alarm acknowledged, and a press after a resolution raises a new alarm.
func TestRepeatsAfterHandling(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	sos := testEvent{"cb-1", "sos", drivers.EventData{Source: "pendant"}}
	r.batch(sos)
	r.batch(sos) // known from now on
	id := r.open("cb-1")[0].ID
	if _, err := r.e.Acknowledge(ctx, id, "王值班"); err != nil {
		t.Fatal(err)
	}
	r.changes()
	r.batch(sos)
	c := <-r.sub.C
	if c.Kind != ChangeRepeated || c.Alarm.State != Acknowledged || c.Alarm.AckBy != "王值班" || c.Alarm.Count != 3 {
		t.Fatalf("press after the acknowledgement announced %s, alarm %s by %q count %d", c.Kind, c.Alarm.State, c.Alarm.AckBy, c.Alarm.Count)
	}
	r.batch(sos)
	if _, err := r.e.Resolve(ctx, id, "王值班", "phoned", ""); err != nil {
		t.Fatal(err)
	}
	r.changes()
	r.batch(sos, sos)
	eq(t, r.changes(), "raised sos", "repeated sos")
	open := r.open("cb-1")
	if len(open) != 1 || open[0].ID == id || open[0].Count != 2 {
		t.Fatalf("open alarms after the resolution and two presses: %+v", open)
	}
	a, _, err := r.e.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if a.State != Resolved || a.Count != 4 {
		t.Fatalf("resolved alarm is %s with count %d, want resolved with 4", a.State, a.Count)
	}
}
