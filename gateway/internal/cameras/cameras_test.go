package cameras

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/community-edge/edge/gateway/internal/audit"
	"github.com/community-edge/edge/gateway/internal/seal"
	"github.com/community-edge/edge/gateway/internal/store"
)

func open(t *testing.T, path string, key byte) (*store.Store, *Store) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, m := range []store.Migrator{audit.Migrations, Migrations} {
		if err := st.Migrate(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	k := make([]byte, seal.KeyLen)
	k[0] = key
	sl, err := seal.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return st, New(st.DB(), sl)
}

func TestStoreSealsAndAudits(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gw.db")
	st, s := open(t, path, 1)
	c := Camera{ID: "gate-n", Name: "北门", Building: "3", URL: "rtsp://10.0.0.5:554/Streaming/Channels/101", Username: "admin", Password: "Cam-Secret-9"}
	if err := s.Add(ctx, c, "inst1", "127.0.0.1", map[string]string{"codec": "H264"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, c, "inst1", "", nil); !errors.Is(err, ErrExists) {
		t.Fatalf("adding twice: %v", err)
	}
	// the password is nowhere in the database file's table in the clear
	var creds string
	if err := st.DB().QueryRowContext(ctx, `SELECT credentials FROM cameras`).Scan(&creds); err != nil {
		t.Fatal(err)
	}
	if !seal.IsSealed(creds) || strings.Contains(creds, "Cam-Secret-9") || strings.Contains(creds, "admin") {
		t.Fatalf("stored credentials %q", creds)
	}
	got, err := s.List(ctx)
	if err != nil || len(got) != 1 || got[0].Password != "Cam-Secret-9" || got[0].Username != "admin" || got[0].CreatedBy != "inst1" {
		t.Fatalf("list: %+v %v", got, err)
	}
	// sealed credentials moved onto another camera do not open
	if _, err := st.DB().ExecContext(ctx, `INSERT INTO cameras(id, url, credentials, created_ms) VALUES('other', 'rtsp://h/', ?, 1)`, creds); err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(ctx); err == nil || !strings.Contains(err.Error(), "other") {
		t.Fatalf("copied credentials: %v", err)
	}
	if err := s.Remove(ctx, "other", "admin1", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "other", "admin1", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removing twice: %v", err)
	}
	es, err := audit.List(ctx, st.DB(), audit.Filter{ActionPrefix: "camera."})
	if err != nil || len(es) != 2 || es[1].Action != "camera.add" || es[1].Actor != "inst1" || es[0].Action != "camera.remove" ||
		strings.Contains(es[1].Detail, "Cam-Secret-9") {
		t.Fatalf("audit: %+v %v", es, err)
	}
	// another data key cannot open them
	st.Close()
	_, s2 := open(t, path, 2)
	if _, err := s2.List(ctx); err == nil {
		t.Fatal("opened with another key")
	}
}

func TestSplitURL(t *testing.T) {
	for _, c := range []struct{ in, clean, user, pass, err string }{
		{"rtsp://admin:p%40ss@10.0.0.5:554/Streaming/Channels/101", "rtsp://10.0.0.5:554/Streaming/Channels/101", "admin", "p@ss", ""},
		{"rtsp://10.0.0.5/cam/realmonitor?channel=1&subtype=0", "rtsp://10.0.0.5/cam/realmonitor?channel=1&subtype=0", "", "", ""},
		{"http://10.0.0.5/", "", "", "", "not an rtsp"},
		{"rtsp://user:se cret@%zz/", "", "", "", "rtsp://…@%zz/"},
	} {
		clean, u, p, err := SplitURL(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "se cret") {
				t.Errorf("%s: %v", c.in, err)
			}
			continue
		}
		if err != nil || clean != c.clean || u != c.user || p != c.pass {
			t.Errorf("%s: %q %q %q %v", c.in, clean, u, p, err)
		}
	}
}
