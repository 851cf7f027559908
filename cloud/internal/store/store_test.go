package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/community-edge/edge/cloud/api"
	"github.com/community-edge/edge/cloud/internal/cases"
	"github.com/community-edge/edge/cloud/internal/store"
	"github.com/community-edge/edge/cloud/internal/store/storetest"
)

var env = new(storetest.Env)

func TestMain(m *testing.M) { os.Exit(env.Main(m)) }

var t0 = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

func addGateway(t *testing.T, s *store.Store, id string) {
	t.Helper()
	if err := s.AddGateway(context.Background(), store.Gateway{ID: id, Name: "site " + id, Key: []byte("k-" + id), Created: t0}); err != nil {
		t.Fatal(err)
	}
}

func newCase(m *cases.Machine, gw, alarm string, at time.Time) (api.Case, api.CaseEvent) {
	cl := cases.DefaultClassifier()
	c, err := cl.FromAlert(gw, api.Alert{AlarmID: alarm, Type: "sos", Family: "callbutton", OccurredAt: at,
		Site: "幸福小区", GridCode: "110105001002003", Address: "3号楼2单元501",
		Resident: &api.Resident{Name: "张三", MedicalNotes: "高血压"}})
	if err != nil {
		panic(err)
	}
	c = m.Open(c, at)
	return c, cases.OpenEvent(c)
}

func TestMigrateTwice(t *testing.T) {
	env.Each(t, func(t *testing.T, s *store.Store) {
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
	})
}

func TestGateways(t *testing.T) {
	env.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		addGateway(t, s, "gw-b")
		addGateway(t, s, "gw-a")
		if err := s.AddGateway(ctx, store.Gateway{ID: "gw-a", Name: "x", Key: []byte("k"), Created: t0}); !errors.Is(err, store.ErrExists) {
			t.Fatalf("duplicate gateway: %v", err)
		}
		key, err := s.GatewayKey(ctx, "gw-a")
		if err != nil || string(key) != "k-gw-a" {
			t.Fatalf("key %q %v", key, err)
		}
		if _, err := s.GatewayKey(ctx, "gw-x"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown gateway: %v", err)
		}
		if err := s.SetGatewayDisabled(ctx, "gw-b", true); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GatewayKey(ctx, "gw-b"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("disabled gateway key: %v", err)
		}

		// Link supervision: online on heartbeat, offline after three missed intervals.
		came, err := s.Heartbeat(ctx, "gw-a", t0, api.Heartbeat{IntervalS: 10, Version: "1.0", OutboxPending: 3})
		if err != nil || !came {
			t.Fatalf("first heartbeat: %v came=%v", err, came)
		}
		if came, _ := s.Heartbeat(ctx, "gw-a", t0.Add(10*time.Second), api.Heartbeat{IntervalS: 10}); came {
			t.Fatal("second heartbeat reported as coming online")
		}
		for _, tc := range []struct {
			at   time.Duration
			want int
		}{{39 * time.Second, 0}, {40*time.Second + time.Millisecond, 1}, {time.Hour, 0}} {
			ids, err := s.MarkOffline(ctx, t0.Add(tc.at), 30)
			if err != nil || len(ids) != tc.want {
				t.Fatalf("mark offline at +%v: %v %v", tc.at, ids, err)
			}
		}
		gws, err := s.Gateways(ctx)
		if err != nil || len(gws) != 2 || gws[0].ID != "gw-a" || gws[0].Link != "offline" || gws[1].Link != "never" || !gws[1].Disabled {
			t.Fatalf("gateways %+v %v", gws, err)
		}
		if !gws[0].LastSeen.Equal(t0.Add(10*time.Second)) || gws[0].HeartbeatS != 10 {
			t.Fatalf("last seen %v interval %d", gws[0].LastSeen, gws[0].HeartbeatS)
		}
	})
}

func TestCreateCaseIdempotent(t *testing.T) {
	env.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		m := cases.NewMachine()
		addGateway(t, s, "gw-1")
		addGateway(t, s, "gw-2")
		c, ev := newCase(m, "gw-1", "alarm-1", t0)
		first, created, err := s.CreateCase(ctx, c, ev)
		if err != nil || !created || first.ID == 0 {
			t.Fatalf("create: %v created=%v id=%d", err, created, first.ID)
		}
		again, created, err := s.CreateCase(ctx, c, ev)
		if err != nil || created || again.ID != first.ID {
			t.Fatalf("repeat: %v created=%v id=%d", err, created, again.ID)
		}
		// The same alarm id from another gateway is another case.
		c2, ev2 := newCase(m, "gw-2", "alarm-1", t0)
		other, created, err := s.CreateCase(ctx, c2, ev2)
		if err != nil || !created || other.ID == first.ID {
			t.Fatalf("other gateway: %v created=%v id=%d", err, created, other.ID)
		}
		got, err := s.Case(ctx, first.ID)
		if err != nil || got.Resident.MedicalNotes != "高血压" || got.State != api.Reported || got.Due == nil {
			t.Fatalf("stored case %+v %v", got, err)
		}
		if _, err := s.Case(ctx, 9999); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing case: %v", err)
		}
		c3, ev3 := newCase(m, "gw-unknown", "alarm-1", t0)
		if _, _, err := s.CreateCase(ctx, c3, ev3); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown gateway: %v", err)
		}
	})
}

// TestCreateCaseConcurrent reports one alarm from many goroutines at once: exactly one case.
func TestCreateCaseConcurrent(t *testing.T) {
	env.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		m := cases.NewMachine()
		addGateway(t, s, "gw-1")
		var wg sync.WaitGroup
		ids := make([]int64, 16)
		created := make([]bool, 16)
		errs := make([]error, 16)
		for i := range ids {
			wg.Go(func() {
				c, ev := newCase(m, "gw-1", "same", t0)
				var got api.Case
				got, created[i], errs[i] = s.CreateCase(ctx, c, ev)
				ids[i] = got.ID
			})
		}
		wg.Wait()
		n := 0
		for i := range ids {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if ids[i] != ids[0] {
				t.Fatalf("ids differ: %v", ids)
			}
			if created[i] {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d creations", n)
		}
		tl, _ := s.Timeline(ctx, ids[0])
		if len(tl) != 1 {
			t.Fatalf("timeline has %d entries", len(tl))
		}
	})
}

func TestTransitionsAndUpdates(t *testing.T) {
	env.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		m := cases.NewMachine()
		addGateway(t, s, "gw-1")
		addGateway(t, s, "gw-2")
		c, ev := newCase(m, "gw-1", "a1", t0)
		c, _, _ = s.CreateCase(ctx, c, ev)
		o, oev := newCase(m, "gw-2", "b1", t0)
		if _, _, err := s.CreateCase(ctx, o, oev); err != nil {
			t.Fatal(err)
		}
		now := t0
		steps := []cases.Command{
			{Action: cases.Register, Role: cases.Dispatcher, Actor: "d", Department: "网格中心"},
			{Action: cases.Dispatch, Role: cases.Dispatcher, Actor: "d", Department: "网格中心", Target: "物业"},
			{Action: cases.Handle, Role: cases.Handler, Actor: "h", Department: "物业", Note: "已处理"},
			{Action: cases.Verify, Role: cases.Inspector, Actor: "i", Department: "核查组"},
			{Action: cases.Close, Role: cases.Dispatcher, Actor: "d", Department: "网格中心"},
			{Action: cases.Evaluate, Role: cases.Dispatcher, Actor: "d", Score: 4},
		}
		for i, cmd := range steps {
			now = now.Add(time.Duration(i+5) * time.Minute)
			ch, err := s.Transition(ctx, c.ID, func(c api.Case) (store.Change, error) {
				c, ev, err := m.Apply(c, cmd, now)
				return store.Change{Case: c, Event: ev}, err
			})
			if err != nil {
				t.Fatalf("%s: %v", cmd.Action, err)
			}
			c = ch.Case
		}
		// A refused step changes nothing.
		_, err := s.Transition(ctx, c.ID, func(c api.Case) (store.Change, error) {
			c, ev, err := m.Apply(c, cases.Command{Action: cases.Register, Role: cases.Admin}, now)
			return store.Change{Case: c, Event: ev}, err
		})
		if !errors.Is(err, cases.ErrIllegal) {
			t.Fatalf("illegal step: %v", err)
		}
		got, _ := s.Case(ctx, c.ID)
		if got.State != api.Evaluated || got.Version != 6 || got.Evaluation.Score != 4 {
			t.Fatalf("stored %s v%d %+v", got.State, got.Version, got.Evaluation)
		}
		tl, err := s.Timeline(ctx, c.ID)
		if err != nil || len(tl) != 7 || tl[0].Action != "report" || tl[6].To != api.Evaluated || tl[2].Note != "→ 物业" {
			t.Fatalf("timeline %+v %v", tl, err)
		}
		// Updates: gw-1 sees its 7 entries with seq 1..7; paging by cursor; gw-2 sees only its own.
		ups, err := s.Updates(ctx, "gw-1", 0, 4)
		if err != nil || len(ups) != 4 || ups[0].Seq != 1 || ups[3].Seq != 4 || ups[0].AlarmID != "a1" {
			t.Fatalf("updates page 1: %+v %v", ups, err)
		}
		ups, _ = s.Updates(ctx, "gw-1", 4, 100)
		if len(ups) != 3 || ups[2].Seq != 7 || ups[2].State != api.Evaluated {
			t.Fatalf("updates page 2: %+v", ups)
		}
		if ups, _ := s.Updates(ctx, "gw-1", 7, 100); len(ups) != 0 {
			t.Fatalf("updates after the end: %+v", ups)
		}
		ups, _ = s.Updates(ctx, "gw-2", 0, 100)
		if len(ups) != 1 || ups[0].AlarmID != "b1" {
			t.Fatalf("gw-2 updates: %+v", ups)
		}
		rep, err := s.Timeliness(ctx, t0, t0.Add(24*time.Hour))
		if err != nil || len(rep) != 3 {
			t.Fatalf("timeliness %+v %v", rep, err)
		}
		if rep[0].Department != "核查组" || rep[0].Cases != 1 || rep[0].OnTimeCases != 1 {
			t.Fatalf("timeliness %+v", rep)
		}
	})
}

func TestTransitionConflictRetries(t *testing.T) {
	env.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		m := cases.NewMachine()
		addGateway(t, s, "gw-1")
		c, ev := newCase(m, "gw-1", "a1", t0)
		c, _, _ = s.CreateCase(ctx, c, ev)
		// Two dispatchers register at once: one wins, the other is refused as illegal
		// after its retry sees the registered case.
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = s.Transition(ctx, c.ID, func(c api.Case) (store.Change, error) {
					c, ev, err := m.Apply(c, cases.Command{Action: cases.Register, Role: cases.Dispatcher, Actor: fmt.Sprint(i)}, t0)
					return store.Change{Case: c, Event: ev}, err
				})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if !errors.Is(err, cases.ErrIllegal) {
				t.Fatalf("unexpected: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d registrations succeeded: %v", ok, errs)
		}
	})
}

func TestCaseFilters(t *testing.T) {
	env.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		m := cases.NewMachine()
		addGateway(t, s, "gw-1")
		for i := range 5 {
			c, ev := newCase(m, "gw-1", fmt.Sprint("a", i), t0.Add(time.Duration(i)*time.Hour))
			if i == 4 {
				c.GridCode = "110105001009001"
			}
			if _, _, err := s.CreateCase(ctx, c, ev); err != nil {
				t.Fatal(err)
			}
		}
		tests := []struct {
			f    store.CaseFilter
			want int
		}{
			{store.CaseFilter{}, 5},
			{store.CaseFilter{Limit: 2}, 2},
			{store.CaseFilter{State: api.Reported}, 5},
			{store.CaseFilter{State: api.Closed}, 0},
			{store.CaseFilter{GridPrefix: "110105001009"}, 1},
			{store.CaseFilter{GridPrefix: "110105001002"}, 4},
			{store.CaseFilter{GridPrefix: "%"}, 5}, // not a pattern
			{store.CaseFilter{Priority: api.Normal}, 0},
			{store.CaseFilter{Overdue: true, Now: t0.Add(150 * time.Minute)}, 3}, // due +10 min each: 0h, 1h, 2h
			{store.CaseFilter{Overdue: true, Now: t0}, 0},
			{store.CaseFilter{BeforeID: 3}, 2},
		}
		for _, tt := range tests {
			got, err := s.Cases(ctx, tt.f)
			if err != nil || len(got) != tt.want {
				t.Errorf("%+v: %d cases, want %d (%v)", tt.f, len(got), tt.want, err)
			}
		}
		all, _ := s.Cases(ctx, store.CaseFilter{})
		if all[0].ID < all[1].ID {
			t.Error("not newest first")
		}
	})
}

func TestUsersAndSessions(t *testing.T) {
	env.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		id, err := s.AddUser(ctx, store.User{Username: "li", DisplayName: "李", Role: "dispatcher", Department: "网格中心", PasswordHash: "h1", Created: t0})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddUser(ctx, store.User{Username: "li", PasswordHash: "x", Created: t0}); !errors.Is(err, store.ErrExists) {
			t.Fatalf("duplicate user: %v", err)
		}
		if err := s.CreateSession(ctx, store.Session{TokenHash: "th", UserID: id, CSRF: "c", Created: t0, Expires: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		ss, u, err := s.SessionUser(ctx, "th", t0.Add(time.Minute))
		if err != nil || u.Username != "li" || ss.CSRF != "c" || u.DisplayName != "李" {
			t.Fatalf("session %+v %+v %v", ss, u, err)
		}
		if _, _, err := s.SessionUser(ctx, "th", t0.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired session: %v", err)
		}
		if err := s.SetPassword(ctx, "li", "h2"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SessionUser(ctx, "th", t0.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("session survived a password change: %v", err)
		}
		if err := s.SetPassword(ctx, "nobody", "h"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown user: %v", err)
		}
		u, _ = s.UserByName(ctx, "li")
		if u.PasswordHash != "h2" {
			t.Fatal("password not changed")
		}
	})
}

// TestGroupCommitIsolatesFailures: alerts committed together do not fail together — an alert
// of an unknown gateway fails alone while its batch mates are stored.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	env.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		m := cases.NewMachine()
		addGateway(t, s, "gw-1")
		const n = 40
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				gw := "gw-1"
				if i%4 == 0 {
					gw = "gw-unknown"
				}
				c, ev := newCase(m, gw, fmt.Sprint("a", i), t0)
				_, _, errs[i] = s.CreateCase(ctx, c, ev)
			})
		}
		wg.Wait()
		for i, err := range errs {
			if i%4 == 0 && !errors.Is(err, store.ErrNotFound) || i%4 != 0 && err != nil {
				t.Fatalf("alert %d: %v", i, err)
			}
		}
		got, _ := s.Cases(ctx, store.CaseFilter{})
		ups, _ := s.Updates(ctx, "gw-1", 0, 1000)
		if len(got) != n-n/4 || len(ups) != n-n/4 || ups[len(ups)-1].Seq != int64(n-n/4) {
			t.Fatalf("%d cases, %d updates", len(got), len(ups))
		}
	})
}
