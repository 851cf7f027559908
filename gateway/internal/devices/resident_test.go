package devices

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/seal"
	"github.com/community-edge/edge/gateway/internal/store"
)

var secrets = []string{"高血压，心脏支架", "13900000002", "张伟"}

func resident() *config.Resident {
	return &config.Resident{Name: "张秀英", Age: 82, Phone: "13800000001", MedicalNotes: secrets[0], LivesAlone: true,
		EmergencyContacts: []config.Contact{{Name: secrets[2], Relation: "儿子", Phone: secrets[1]}}}
}

// dbBytes is everything SQLite has on disk: the database and its write-ahead log.
func dbBytes(t *testing.T, path string) []byte {
	t.Helper()
	var all []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

func sealer(t *testing.T) *seal.Sealer {
	k, _ := seal.ParseKey(seal.NewKey())
	s, err := seal.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestResidentPrivateFieldsNeverOnDiskInTheClear(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gw.db")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := sealer(t)
	open := func(sl Sealer) (*store.Store, *Registry) {
		st, err := store.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		r := New(st, "t", log)
		if sl != nil {
			r.SetSealer(sl)
		}
		return st, r
	}

	// A database written before encryption: plain notes, from config and from the API.
	st, r := open(nil)
	if err := r.Load(ctx, []config.Device{{ID: "cb-1", Family: "callbutton", Password: "cb-1-password", Resident: resident()}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Add(ctx, config.Device{ID: "cb-old", Family: "callbutton", Resident: resident()}, "test", ""); err != nil {
		t.Fatal(err)
	}
	st.Close()

	st, r = open(s)
	if err := r.Load(ctx, []config.Device{{ID: "cb-1", Family: "callbutton", Password: "cb-1-password", Resident: resident()}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Add(ctx, config.Device{ID: "cb-2", Family: "callbutton", Resident: resident()}, "test", ""); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"cb-old", "cb-1", "cb-2"} {
		d, _ := r.Lookup(id)
		if d == nil || d.Resident == nil || d.Resident.MedicalNotes != secrets[0] || len(d.Resident.EmergencyContacts) != 1 {
			t.Fatalf("%s: resident not readable in memory: %+v", id, d)
		}
	}
	st.Close()
	raw := dbBytes(t, path)
	if !bytes.Contains(raw, []byte("张秀英")) {
		t.Fatal("the resident's name is not in the file at all: the test reads the wrong file")
	}
	for _, sec := range secrets {
		if bytes.Contains(raw, []byte(sec)) {
			t.Errorf("%q is in the database file in the clear", sec)
		}
	}

	// Restart with the same key: everything reads back.
	st, r = open(s)
	if err := r.Load(ctx, []config.Device{{ID: "cb-1", Family: "callbutton", Password: "cb-1-password", Resident: resident()}}); err != nil {
		t.Fatal(err)
	}
	d, _ := r.Lookup("cb-2")
	if d.Resident.MedicalNotes != secrets[0] || d.Resident.EmergencyContacts[0].Phone != secrets[1] || !d.Resident.LivesAlone {
		t.Fatalf("after restart: %+v", d.Resident)
	}
	st.Close()

	// Another key cannot read them, and says so.
	st, r = open(sealer(t))
	defer st.Close()
	err := r.Load(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "data key") {
		t.Fatalf("a wrong key loaded: %v", err)
	}
}
