package devices

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/community-edge/edge/gateway/internal/audit"
	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/store"
)

// TestAddAllAllOrNone: a batch with one taken or repeated id adds nothing (neither the
// registry, the store nor the audit log changes); a good batch adds every device, each with
// its own working password and an audit entry, and survives a reload; removal revokes the
// login and is audited.
func TestAddAllAllOrNone(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := New(st, "s", log)
	if err := r.Load(ctx, []config.Device{{ID: "cb-1", Family: "callbutton", Password: "cb-1-password"}}); err != nil {
		t.Fatal(err)
	}
	auditCount := func() int {
		es, err := audit.List(ctx, st.DB(), audit.Filter{ActionPrefix: "device."})
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	for _, tc := range []struct {
		name string
		cs   []config.Device
	}{
		{"taken id", []config.Device{{ID: "lk-1", Family: "locker"}, {ID: "cb-1", Family: "callbutton"}}},
		{"repeated id", []config.Device{{ID: "lk-1", Family: "locker"}, {ID: "lk-1", Family: "locker"}}},
		{"invalid device", []config.Device{{ID: "lk-1", Family: "locker"}, {ID: "x", Family: "toaster"}}},
	} {
		if _, err := r.AddAll(ctx, tc.cs, "inst", "10.0.0.2:5000", "csv import"); err == nil {
			t.Fatalf("%s: added", tc.name)
		} else if tc.name != "invalid device" && !errors.Is(err, ErrExists) {
			t.Fatalf("%s: %v, want ErrExists", tc.name, err)
		}
		if _, ok := r.Lookup("lk-1"); ok || len(r.All()) != 1 || auditCount() != 0 {
			t.Fatalf("%s: a refused batch changed the registry (%d devices) or the audit log (%d)", tc.name, len(r.All()), auditCount())
		}
	}
	added, err := r.AddAll(ctx, []config.Device{{ID: "lk-1", Family: "locker"}, {ID: "ch-1", Family: "charger"}}, "inst", "10.0.0.2:5000", "csv import")
	if err != nil || len(added) != 2 {
		t.Fatalf("good batch: %v %v", added, err)
	}
	if added[0].Password == added[1].Password {
		t.Fatal("two devices got the same password")
	}
	// a reload from the store keeps them and their logins
	r2 := New(st, "s", log)
	if err := r2.Load(ctx, []config.Device{{ID: "cb-1", Family: "callbutton", Password: "cb-1-password"}}); err != nil {
		t.Fatal(err)
	}
	for _, a := range added {
		if _, ok := r2.Authenticate(a.Device.ID, a.Password); !ok {
			t.Errorf("%s cannot log in after a reload", a.Device.ID)
		}
	}
	removed := ""
	r2.OnRemove(func(id string) { removed = id })
	if err := r2.Remove(ctx, "lk-1", "inst", "10.0.0.2:5000"); err != nil {
		t.Fatal(err)
	}
	if _, ok := r2.Authenticate("lk-1", added[0].Password); ok || removed != "lk-1" {
		t.Fatalf("removed device still logs in (or its session was not ended: %q)", removed)
	}
	if err := r2.Remove(ctx, "lk-1", "inst", ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("removing twice: %v", err)
	}
	es, _ := audit.List(ctx, st.DB(), audit.Filter{ActionPrefix: "device."})
	var got []string
	for _, e := range es {
		got = append(got, fmt.Sprintf("%s %s %s %s %s", e.Action, e.Target, e.Actor, e.Remote, e.Detail))
	}
	want := "[device.remove lk-1 inst 10.0.0.2:5000 login revoked device.add ch-1 inst 10.0.0.2:5000 charger, csv import device.add lk-1 inst 10.0.0.2:5000 locker, csv import]"
	if fmt.Sprint(got) != want {
		t.Fatalf("audit:\n%v\nwant\n%s", got, want)
	}
}

// TestSeenReportsTheFirstMessageOnce: the first message since start is reported once and
// shown in the health.
func TestSeenReportsTheFirstMessageOnce(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := New(st, "s", slog.New(slog.NewTextHandler(io.Discard, nil)))
	d, err := r.NewDevice(config.Device{ID: "cb-1", Family: "callbutton"}, "api")
	if err != nil {
		t.Fatal(err)
	}
	if d.Health().FirstMessage != 0 {
		t.Fatal("a new device has a first message")
	}
	for i, want := range []bool{true, false, false} {
		if got := d.Seen(int64(1000+i), nil); got != want {
			t.Fatalf("message %d: first = %v, want %v", i, got, want)
		}
	}
	if fm := d.Health().FirstMessage; fm != 1000 {
		t.Fatalf("first message at %d, want 1000", fm)
	}
}
