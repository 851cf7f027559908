package backup

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/daemon"
	"github.com/community-edge/edge/gateway/internal/runlock"
	"github.com/community-edge/edge/gateway/internal/store"
)

// site is a gateway's configuration and data directory as a real one looks on disk, with
// rows in its database.
type site struct {
	cfgPath string
	cfg     *config.Config
	dataDir string
}

func openStore(t *testing.T, dbPath string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range daemon.Migrators() {
		if err := st.Migrate(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// newSite writes a configuration (an Alink model beside it, a self-signed certificate and a
// data key in the data directory) and a database with n devices, 2 users and n alarms.
func newSite(t *testing.T, n int) *site {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "etc", "gateway.yaml")
	os.MkdirAll(filepath.Join(dir, "etc", "alink"), 0o755)
	must(t, os.WriteFile(filepath.Join(dir, "etc", "alink", "model.json"), []byte(`{"productKey":"pk"}`), 0o644))
	yaml := "site: {code: bk, name: 备份测试}\ndata_dir: ../data\n"
	must(t, os.WriteFile(cfgPath, []byte(yaml), 0o640))
	cfg, err := config.Load(cfgPath, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Alink.ModelsDir = "alink" // not loaded here: only archived
	s := &site{cfgPath: cfgPath, cfg: cfg, dataDir: filepath.Join(dir, "data")}
	os.MkdirAll(filepath.Join(s.dataDir, "tls"), 0o700)
	must(t, os.WriteFile(filepath.Join(s.dataDir, daemon.DataKeyFile), []byte("0123456789abcdef0123456789abcdef\n"), 0o600))
	must(t, os.WriteFile(filepath.Join(s.dataDir, "tls", "self-signed.crt"), []byte("CERT"), 0o644))
	must(t, os.WriteFile(filepath.Join(s.dataDir, "tls", "self-signed.key"), []byte("KEY"), 0o600))
	st := openStore(t, daemon.DBPath(cfg))
	defer st.Close()
	db := st.DB()
	for _, u := range []string{"admin", "duty"} {
		exec(t, db, `INSERT INTO users(name, role, password_hash, created_ms, updated_ms, password_ms) VALUES(?, ?, 'h', 1, 1, 1)`, u, u)
	}
	for i := range n {
		insertDevice(t, db, i)
		exec(t, db, `INSERT INTO alarms(id, site, device_id, family, type, severity, state, title_zh, title_en, raised_ms, last_ms)
			VALUES(?, 'bk', ?, 'callbutton', 'sos', 'critical', ?, 'SOS', 'SOS', 1, 1)`, fmt.Sprintf("al-%d", i), fmt.Sprintf("cb-%d", i),
			[]string{"raised", "acknowledged", "resolved"}[i%3])
	}
	return s
}

func insertDevice(t *testing.T, db *sql.DB, i int) {
	t.Helper()
	_, err := db.ExecContext(context.Background(), `INSERT INTO devices(id, family, site, created_ms, updated_ms) VALUES(?, 'callbutton', 'bk', 1, 1)`,
		fmt.Sprintf("cb-%d", i))
	must(t, err)
}

func exec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	_, err := db.ExecContext(context.Background(), q, args...)
	must(t, err)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func backupOf(t *testing.T, s *site) ([]byte, *Manifest) {
	t.Helper()
	var buf bytes.Buffer
	m, err := Create(context.Background(), &buf, Options{ConfigPath: s.cfgPath, Config: s.cfg, Version: "test",
		Getenv: func(string) string { return "" }, TempDir: t.TempDir(), Now: func() time.Time { return time.Unix(1_800_000_000, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), m
}

// TestSnapshotIsConsistentUnderConcurrentWrites snapshots a database while a writer commits
// transactions that each add a device and its event (so the two counts are equal in every
// committed state) and a checkpointer copies the log into the file: every snapshot must hold
// one committed state and pass integrity_check.
func TestSnapshotIsConsistentUnderConcurrentWrites(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, filepath.Join(dir, "gateway.db"))
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var committed atomic.Int64
	wg.Add(2)
	go func() {
		defer wg.Done()
		st.Checkpoints(ctx, 5*time.Millisecond)
	}()
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			tx, err := st.DB().BeginTx(ctx, nil)
			if err != nil {
				return
			}
			id := fmt.Sprintf("dev-%d", i)
			_, err = tx.Exec(`INSERT INTO devices(id, family, site, created_ms, updated_ms) VALUES(?, 'locker', 's', 1, 1)`, id)
			if err == nil {
				_, err = tx.Exec(`INSERT INTO events(device_id, event_id, family, type, ts_ms, received_ms, data) VALUES(?, 'e', 'locker', 'door_opened', 1, 1, ?)`,
					id, strings.Repeat("x", 200))
			}
			if err != nil {
				tx.Rollback()
				return
			}
			if tx.Commit() == nil {
				committed.Add(1)
			}
		}
	}()
	var seen []int64
	for i := range 15 {
		out := filepath.Join(dir, fmt.Sprintf("snap-%d.db", i))
		if err := Snapshot(context.Background(), filepath.Join(dir, "gateway.db"), out); err != nil {
			cancel()
			wg.Wait()
			t.Fatal(err)
		}
		db, err := openDB(out, "ro")
		must(t, err)
		c, _, err := ReadCounts(context.Background(), db)
		must(t, err)
		if _, err := os.Stat(out + "-wal"); err == nil {
			t.Errorf("snapshot %d has a -wal beside it: not self-contained", i)
		}
		db.Close()
		if c.Devices != c.Events {
			t.Errorf("snapshot %d: %d devices but %d events: not one committed state", i, c.Devices, c.Events)
		}
		seen = append(seen, c.Devices)
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if seen[len(seen)-1] <= seen[0] || committed.Load() < 50 {
		t.Fatalf("the writer did not write during the snapshots (counts %v, %d commits): the test proves nothing", seen, committed.Load())
	}
	t.Logf("15 snapshots under %d commits; devices per snapshot %v", committed.Load(), seen)
}

func TestBackupThenRestoreToAFreshBox(t *testing.T) {
	old := newSite(t, 9)
	raw, m := backupOf(t, old)
	if m.Counts != (Counts{Devices: 9, Users: 2, Alarms: 9, OpenAlarms: 6}) {
		t.Errorf("manifest counts %+v", m.Counts)
	}
	names := map[string]Entry{}
	for _, e := range m.Entries {
		names[e.Name] = e
	}
	for name, mode := range map[string]uint32{"gateway.db": 0o600, "config/gateway.yaml": 0o600, "data/data.key": 0o600,
		"data/tls/self-signed.crt": 0o644, "data/tls/self-signed.key": 0o600, "config/alink/model.json": 0o644} {
		if e, ok := names[name]; !ok || e.Mode != mode {
			t.Errorf("entry %s: %+v (present %v), want mode %o", name, e, ok, mode)
		}
	}
	if len(m.Entries) != 6 || m.DataKey != "file" || m.Site.Code != "bk" || m.Format != FormatVersion {
		t.Errorf("manifest: %+v", m)
	}

	// The replacement box: nothing there yet; the archive's configuration goes to -config.
	box := t.TempDir()
	cfgPath := filepath.Join(box, "etc", "gateway.yaml")
	os.MkdirAll(filepath.Dir(cfgPath), 0o755)
	res, err := Restore(context.Background(), bytes.NewReader(raw), RestoreOptions{ConfigPath: cfgPath, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if !res.ConfigRestored || res.DataDir != filepath.Join(box, "data") || res.Counts.Devices != 9 || res.Counts.Alarms != 9 || res.Counts.Users != 2 {
		t.Errorf("result %+v", res)
	}
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{{cfgPath, 0o600}, {filepath.Join(box, "data", "gateway.db"), 0o600}, {filepath.Join(box, "data", "data.key"), 0o600},
		{filepath.Join(box, "data", "tls", "self-signed.key"), 0o600}, {filepath.Join(box, "data", "tls", "self-signed.crt"), 0o644},
		{filepath.Join(box, "etc", "alink", "model.json"), 0o644}} {
		fi, err := os.Stat(f.path)
		if err != nil || fi.Mode().Perm() != f.mode {
			t.Errorf("%s: %v, mode %v, want %v", f.path, err, fi.Mode().Perm(), f.mode)
		}
	}
	key, _ := os.ReadFile(filepath.Join(box, "data", "data.key"))
	if string(key) != "0123456789abcdef0123456789abcdef\n" {
		t.Errorf("data key restored as %q", key)
	}
	if left, _ := filepath.Glob(filepath.Join(box, "data", ".restore-*")); len(left) > 0 {
		t.Errorf("staging left behind: %v", left)
	}
	st := openStore(t, filepath.Join(box, "data", "gateway.db"))
	var state string
	must(t, st.DB().QueryRow(`SELECT state FROM alarms WHERE id = 'al-4'`).Scan(&state))
	st.Close()
	if state != "acknowledged" {
		t.Errorf("alarm al-4 restored in state %q", state)
	}

	// Again with -force: the restored database is kept aside, not lost.
	res, err = Restore(context.Background(), bytes.NewReader(raw), RestoreOptions{ConfigPath: cfgPath, Force: true,
		Getenv: func(string) string { return "" }, Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	aside := filepath.Join(box, "data", "gateway.db.before-restore-20260102T030405Z")
	if _, err := os.Stat(aside); err != nil {
		t.Errorf("old database not kept aside: %v (kept %v)", err, res.KeptAside)
	}
	if _, err := os.Stat(cfgPath + ".before-restore-20260102T030405Z"); err != nil {
		t.Errorf("old configuration not kept aside: %v", err)
	}
	if !slices.Contains(res.Unchanged, filepath.Join(box, "data", "data.key")) || slices.ContainsFunc(res.KeptAside, func(p string) bool { return strings.Contains(p, "data.key") }) {
		t.Errorf("an identical data key was not left alone: unchanged %v, kept aside %v", res.Unchanged, res.KeptAside)
	}
}

// damage is a change to an archive.
type damage func(t *testing.T, raw []byte) []byte

// rewrite rebuilds an archive with its manifest and entries changed by fn.
func rewrite(fn func(m *Manifest, files map[string][]byte) []string) damage {
	return func(t *testing.T, raw []byte) []byte {
		files := map[string][]byte{}
		m, err := Read(bytes.NewReader(raw), nil, func(e Entry, r io.Reader) error {
			b, err := io.ReadAll(r)
			files[e.Name] = b
			return err
		})
		must(t, err)
		order := fn(m, files)
		var buf bytes.Buffer
		w, err := newWriter(&buf, m)
		must(t, err)
		for _, n := range order {
			must(t, w.add(n, 0o600, int64(len(files[n])), bytes.NewReader(files[n])))
		}
		must(t, w.close())
		return buf.Bytes()
	}
}

func names(m *Manifest) []string {
	var out []string
	for _, e := range m.Entries {
		out = append(out, e.Name)
	}
	return out
}

func TestRestoreRefuses(t *testing.T) {
	old := newSite(t, 3)
	raw, _ := backupOf(t, old)
	keep := func(t *testing.T, raw []byte) []byte { return raw }
	cases := []struct {
		name    string
		damage  damage
		running bool // a gateway holds the data directory's lock
		exists  bool // the target already has a database
		want    string
	}{
		{name: "running gateway", damage: keep, running: true, want: "a gateway is running on"},
		{name: "existing database without -force", damage: keep, exists: true, want: "already exist(s); use -force"},
		{name: "truncated archive", damage: func(t *testing.T, raw []byte) []byte { return raw[:len(raw)*2/3] }, want: "unexpected end of file (truncated?)"},
		{name: "truncated in the gzip trailer", damage: func(t *testing.T, raw []byte) []byte { return raw[:len(raw)-4] }, want: "truncated"},
		{name: "empty file", damage: func(t *testing.T, raw []byte) []byte { return nil }, want: "not a gzip-compressed archive"},
		{name: "bad checksum", damage: rewrite(func(m *Manifest, f map[string][]byte) []string {
			f["data/data.key"] = bytes.ToUpper(f["data/data.key"])
			return names(m)
		}), want: `entry "data/data.key": checksum mismatch`},
		{name: "wrong format version", damage: rewrite(func(m *Manifest, f map[string][]byte) []string {
			m.Format = 99
			return names(m)
		}), want: "archive format version 99, this gateway reads version 1"},
		{name: "missing entry", damage: rewrite(func(m *Manifest, f map[string][]byte) []string {
			return slices.DeleteFunc(names(m), func(n string) bool { return n == "data/tls/self-signed.key" })
		}), want: "archive incomplete: missing data/tls/self-signed.key"},
		{name: "database not listed", damage: rewrite(func(m *Manifest, f map[string][]byte) []string {
			m.Entries = slices.DeleteFunc(m.Entries, func(e Entry) bool { return e.Name == DBEntry })
			return names(m)
		}), want: "the database entry gateway.db is not listed"},
		{name: "entry outside the manifest", damage: rewrite(func(m *Manifest, f map[string][]byte) []string {
			f["data/extra"] = []byte("x")
			return append(names(m), "data/extra")
		}), want: `entry "data/extra" is not in the manifest`},
		{name: "path escaping the directories", damage: rewrite(func(m *Manifest, f map[string][]byte) []string {
			m.Entries[1].Name = "data/../../etc/passwd"
			return names(m)
		}), want: "not a clean relative path"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			box := t.TempDir()
			cfgPath := filepath.Join(box, "gateway.yaml")
			must(t, os.WriteFile(cfgPath, []byte("site: {code: bk}\ndata_dir: data\n"), 0o600))
			dataDir := filepath.Join(box, "data")
			if c.running {
				l, err := runlock.Acquire(dataDir)
				must(t, err)
				defer l.Release()
			}
			if c.exists {
				st := openStore(t, filepath.Join(dataDir, "gateway.db"))
				insertDevice(t, st.DB(), 77)
				st.Close()
			}
			before := tree(t, box)
			_, err := Restore(context.Background(), bytes.NewReader(c.damage(t, raw)), RestoreOptions{ConfigPath: cfgPath, Getenv: func(string) string { return "" }})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if c.exists && !errors.As(err, new(*ExistsError)) {
				t.Errorf("error %T, want *ExistsError", err)
			}
			if after := tree(t, box); !slices.Equal(before, after) {
				t.Errorf("a refused restore changed the box:\nbefore %v\nafter  %v", before, after)
			}
			if after := tree(t, box); slices.ContainsFunc(after, func(p string) bool { return strings.Contains(p, ".restor") }) {
				t.Errorf("a refused restore left staging files: %v", after)
			}
		})
	}
}

// tree lists the files under dir (not the lock file a refused restore may create).
func tree(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && d.Name() != runlock.FileName {
			fi, _ := d.Info()
			out = append(out, fmt.Sprintf("%s %d", rel(dir, p), fi.Size()))
		}
		return nil
	})
	return out
}

// FuzzRead feeds the archive reader arbitrary bytes, seeded with a real archive and damaged
// copies of it: it must return an error or a manifest it checked, never panic.
func FuzzRead(f *testing.F) {
	dir := f.TempDir()
	cfgPath := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(cfgPath, []byte("site: {code: fz}\ndata_dir: data\n"), 0o600)
	cfg, err := config.Load(cfgPath, func(string) string { return "" })
	if err != nil {
		f.Fatal(err)
	}
	st, err := store.Open(context.Background(), daemon.DBPath(cfg))
	if err != nil {
		f.Fatal(err)
	}
	st.Close()
	os.WriteFile(filepath.Join(dir, "data", daemon.DataKeyFile), []byte("key"), 0o600)
	var buf bytes.Buffer
	if _, err := Create(context.Background(), &buf, Options{ConfigPath: cfgPath, Config: cfg, Getenv: func(string) string { return "" }, TempDir: dir}); err != nil {
		f.Fatal(err)
	}
	raw := buf.Bytes()
	f.Add(raw)
	f.Add(raw[:len(raw)/2])
	f.Add(raw[:20])
	flipped := bytes.Clone(raw)
	flipped[len(flipped)/2] ^= 0xff
	f.Add(flipped)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Read(bytes.NewReader(data), nil, func(e Entry, r io.Reader) error {
			_, err := io.Copy(io.Discard, r)
			return err
		})
		if err == nil {
			if m == nil || m.validate() != nil {
				t.Fatalf("accepted an archive with manifest %+v", m)
			}
		} else if !strings.HasPrefix(err.Error(), "backup: ") {
			t.Fatalf("error without the component prefix: %v", err)
		}
	})
}

// TestEnvironmentFileTravelsWithTheConfiguration: the packaged service's secrets file beside
// the configuration (here holding the data key and a token the configuration references) is
// archived and restored, and a fresh box reads the archive's configuration with it although
// the shell that restores has none of the variables.
func TestEnvironmentFileTravelsWithTheConfiguration(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "gateway.yaml")
	must(t, os.WriteFile(cfgPath, []byte("site: {code: envsite}\ndata_dir: data\nhttp:\n  api_tokens: [{name: ops, token: \"${OPS_TOKEN}\", role: admin}]\n"), 0o640))
	env := "# secrets\nGATEWAY_DATA_KEY=\"a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s=\"\n\nOPS_TOKEN=ops-token-0123456789\n"
	must(t, os.WriteFile(filepath.Join(dir, EnvFileName), []byte(env), 0o600))
	noEnv := func(string) string { return "" }
	getenv, err := Getenv(cfgPath, noEnv)
	must(t, err)
	cfg, err := config.Load(cfgPath, getenv)
	if err != nil {
		t.Fatal(err)
	}
	openStore(t, daemon.DBPath(cfg)).Close()
	var buf bytes.Buffer
	m, err := Create(context.Background(), &buf, Options{ConfigPath: cfgPath, Config: cfg, Getenv: getenv, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if m.DataKey != "environment_file" || len(m.Entries) != 3 || m.Entries[0].Name != "config/environment" || m.Entries[0].Mode != 0o600 {
		t.Fatalf("manifest: data key %q, entries %+v", m.DataKey, m.Entries)
	}
	box := t.TempDir()
	res, err := Restore(context.Background(), &buf, RestoreOptions{ConfigPath: filepath.Join(box, "gateway.yaml"), Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(box, EnvFileName))
	if err != nil || string(got) != env || !res.ConfigRestored {
		t.Fatalf("environment file restored as %q (%v), config restored %v", got, err, res.ConfigRestored)
	}
	if fi, _ := os.Stat(filepath.Join(box, EnvFileName)); fi.Mode().Perm() != 0o600 {
		t.Errorf("environment file mode %v", fi.Mode().Perm())
	}
}

func TestParseEnvFile(t *testing.T) {
	got := ParseEnvFile([]byte("# comment\n; also\n\nA=1\n  B = two words \nC=\"quoted # not a comment\"\nD='single'\nnot a line\nE=\n"))
	want := map[string]string{"A": "1", "B": "two words", "C": "quoted # not a comment", "D": "single", "E": ""}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

// TestPlaceAcrossFileSystems: a staged file under the data directory goes to /etc, which may be
// another file system, where rename fails with EXDEV and place copies instead.
func TestPlaceAcrossFileSystems(t *testing.T) {
	other, err := os.MkdirTemp("/dev/shm", "place-")
	if err != nil {
		t.Fatalf("this test needs a tmpfs at /dev/shm: %v", err)
	}
	defer os.RemoveAll(other)
	var a, b syscall.Stat_t
	if syscall.Stat(other, &a) != nil || syscall.Stat(t.TempDir(), &b) != nil || a.Dev == b.Dev {
		t.Fatalf("/dev/shm and the test's temporary directory are one file system here: the test proves nothing")
	}
	from := filepath.Join(other, "model.json")
	must(t, os.WriteFile(from, []byte("model"), 0o640))
	to := filepath.Join(t.TempDir(), "model.json")
	if err := os.Rename(from, to); !errors.Is(err, syscall.EXDEV) {
		t.Fatalf("rename across file systems: %v, want EXDEV", err)
	}
	if err := place(from, to); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(to)
	fi, _ := os.Stat(to)
	if err != nil || string(got) != "model" || fi.Mode().Perm() != 0o640 {
		t.Fatalf("placed %q (%v), mode %v", got, err, fi.Mode().Perm())
	}
	if _, err := os.Stat(from); !os.IsNotExist(err) {
		t.Errorf("the staged file is still there: %v", err)
	}
}

// TestSpoolOnlyOnRequest: the time-series spool stays out of an archive unless asked for, and
// then comes back into the data directory.
func TestSpoolOnlyOnRequest(t *testing.T) {
	s := newSite(t, 1)
	spool := filepath.Join(s.dataDir, "tsdb-spool", "seg-000001")
	os.MkdirAll(filepath.Dir(spool), 0o750)
	must(t, os.WriteFile(spool, []byte("callbutton,site=bk battery_pct=80 1\n"), 0o640))
	for _, with := range []bool{false, true} {
		var buf bytes.Buffer
		m, err := Create(context.Background(), &buf, Options{ConfigPath: s.cfgPath, Config: s.cfg, Getenv: func(string) string { return "" },
			TempDir: t.TempDir(), WithSpool: with})
		if err != nil {
			t.Fatal(err)
		}
		_, listed := m.entry("data/tsdb-spool/seg-000001")
		if listed != with || m.Spool != with {
			t.Fatalf("with-spool %v: spool entry listed %v, manifest spool %v", with, listed, m.Spool)
		}
		if !with {
			continue
		}
		box := t.TempDir()
		if _, err := Restore(context.Background(), &buf, RestoreOptions{ConfigPath: filepath.Join(box, "etc", "gateway.yaml"),
			Getenv: func(string) string { return "" }}); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(filepath.Join(box, "data", "tsdb-spool", "seg-000001")); err != nil || !strings.HasPrefix(string(got), "callbutton") {
			t.Errorf("spool restored as %q: %v", got, err)
		}
	}
}
