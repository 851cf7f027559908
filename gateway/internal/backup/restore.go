package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/daemon"
	"github.com/community-edge/edge/gateway/internal/runlock"
	"github.com/community-edge/edge/gateway/internal/store"
)

// maxConfigEntry bounds the configuration file held in memory while the archive is read.
const maxConfigEntry = 16 << 20

// RestoreOptions configure Restore.
type RestoreOptions struct {
	ConfigPath string // where the configuration is (or is to be restored)
	// Force replaces an existing database, data key and configuration; what was there is
	// kept beside it with a .before-restore-TIMESTAMP suffix.
	Force  bool
	Getenv func(string) string // for the configuration's ${NAME} references; default os.Getenv
	Now    func() time.Time
}

// Result says what Restore did.
type Result struct {
	Manifest       *Manifest
	ConfigPath     string
	ConfigRestored bool   // the archive's configuration was written to ConfigPath
	ConfigCopy     string // else where the archive's copy was put for comparison
	DataDir        string
	Restored       []string // files written
	KeptAside      []string // files moved aside (with -force)
	Skipped        []string // configuration-side files kept because they exist (no -force)
	Unchanged      []string // files already there with the archive's content
	Counts         Counts   // what the restored database holds, after migrations
	Warnings       []string
}

// ExistsError says the target already holds a database (or other state) and -force was not given.
type ExistsError struct{ Paths []string }

func (e *ExistsError) Error() string {
	return fmt.Sprintf("restore: %s already exist(s); use -force to replace (the old files are kept beside them as *.before-restore-TIMESTAMP)",
		strings.Join(e.Paths, ", "))
}

// Restore reads a backup archive from r and brings the gateway of o.ConfigPath back to it:
// it verifies every entry against the manifest before changing anything, refuses while a
// gateway runs on the data directory, refuses to overwrite a database without Force, writes
// the files with fsync and their permissions, checks the database's integrity and migrates
// it forward.
func Restore(ctx context.Context, r io.Reader, o RestoreOptions) (*Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	cfgPath, err := filepath.Abs(o.ConfigPath)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	suffix := ".before-restore-" + o.Now().UTC().Format("20060102T150405Z")
	res := &Result{ConfigPath: cfgPath}
	_, statErr := os.Stat(cfgPath)
	useArchiveConfig := o.Force || os.IsNotExist(statErr)

	// The target is known from the existing configuration now, or from the archive's once its
	// configuration entry (right after the manifest) has been read.
	var (
		cfg     *config.Config
		staging string
		lock    *runlock.Lock
		pending string // the archive's configuration, written beside cfgPath
	)
	cleanup := func() {
		if staging != "" {
			os.RemoveAll(staging)
		}
		if pending != "" {
			os.Remove(pending)
		}
		lock.Release()
	}
	defer cleanup()
	prepare := func() error {
		dataDir, err := filepath.Abs(cfg.Path(cfg.DataDir))
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		res.DataDir = dataDir
		if lock, err = runlock.Acquire(dataDir); err != nil {
			var held *runlock.HeldError
			if errors.As(err, &held) {
				return fmt.Errorf("restore: a gateway is running on %s (lock %s held by pid %d): stop it first (systemctl stop community-gateway)",
					dataDir, held.Path, held.PID)
			}
			return fmt.Errorf("restore: %w", err)
		}
		if !o.Force {
			var exists []string
			for _, p := range []string{daemon.DBPath(cfg), daemon.DBPath(cfg) + "-wal"} {
				if _, err := os.Stat(p); err == nil {
					exists = append(exists, p)
				}
			}
			if len(exists) > 0 {
				return &ExistsError{Paths: exists}
			}
		}
		staging, err = os.MkdirTemp(dataDir, ".restore-")
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		return nil
	}
	if !useArchiveConfig {
		getenv, err := Getenv(cfgPath, o.Getenv)
		if err != nil {
			return nil, err
		}
		if cfg, err = config.Load(cfgPath, getenv); err != nil {
			return nil, fmt.Errorf("restore: %s: %w", cfgPath, err)
		}
		if err := prepare(); err != nil {
			return nil, err
		}
	}

	onManifest := func(m *Manifest) error {
		res.Manifest = m
		return nil
	}
	var early []staged // entries that come before the target is known (the environment file)
	sink := func(e Entry, r io.Reader) error {
		if cfg == nil && e.Name == ConfigPrefix+EnvFileName {
			b, err := io.ReadAll(io.LimitReader(r, maxEnvFile+1))
			if err != nil {
				return err
			}
			if len(b) > maxEnvFile {
				return fmt.Errorf("restore: %s larger than %d bytes", e.Name, maxEnvFile)
			}
			early = append(early, staged{e, b})
			return nil
		}
		if e.Name == res.Manifest.ConfigEntry {
			b, err := io.ReadAll(io.LimitReader(r, maxConfigEntry+1))
			if err != nil {
				return err
			}
			if len(b) > maxConfigEntry {
				return fmt.Errorf("restore: configuration entry larger than %d bytes", maxConfigEntry)
			}
			if err := os.MkdirAll(filepath.Dir(cfgPath), 0o755); err != nil { // a fresh box may have no /etc/community-gateway yet
				return fmt.Errorf("restore: %w", err)
			}
			pending = cfgPath + ".restoring"
			if err := writeFileSync(pending, b, 0o600); err != nil {
				return err
			}
			if cfg == nil {
				// ${NAME} in the archive's configuration: this shell, the environment file
				// already here, or the archive's.
				getenv, err := Getenv(cfgPath, o.Getenv)
				if err != nil {
					return err
				}
				for _, s := range early {
					getenv = chain(getenv, ParseEnvFile(s.data))
				}
				if cfg, err = config.Load(pending, getenv); err != nil {
					return fmt.Errorf("restore: the archive's configuration: %w", err)
				}
				if err := prepare(); err != nil {
					return err
				}
			}
			for _, s := range early {
				if err := stage(staging, s.Entry, bytes.NewReader(s.data)); err != nil {
					return err
				}
			}
			early = nil
			return nil
		}
		if cfg == nil {
			return fmt.Errorf("restore: entry %q comes before the configuration: not an archive this gateway wrote", e.Name)
		}
		return stage(staging, e, r)
	}
	m, err := Read(r, onManifest, sink)
	if err != nil {
		return nil, err
	}
	res.Manifest = m

	// Everything is verified and staged: now put it in place. Run as root, files get the owner
	// the service can read them as: the data directory's, or the configuration file's there.
	dataOwner := ownerOf(res.DataDir)
	cfgOwner := ownerOf(cfgPath, filepath.Dir(cfgPath))
	var existing []string
	type move struct {
		from, to string
		owner    owner
	}
	var moves []move
	for _, e := range m.Entries {
		var to string
		own := dataOwner
		switch {
		case e.Name == m.ConfigEntry:
			continue
		case e.Name == DBEntry:
			to = daemon.DBPath(cfg)
		case strings.HasPrefix(e.Name, DataPrefix):
			to = filepath.Join(res.DataDir, filepath.FromSlash(strings.TrimPrefix(e.Name, DataPrefix)))
		default: // config/…: models, certificates kept beside the configuration
			to = filepath.Join(filepath.Dir(cfgPath), filepath.FromSlash(strings.TrimPrefix(e.Name, ConfigPrefix)))
			own = cfgOwner
			if e.Name == ConfigPrefix+EnvFileName {
				own = ownerOf(to, filepath.Dir(cfgPath)) // read by systemd as root, not by the service
			}
			if _, err := os.Stat(to); err == nil && !o.Force {
				res.Skipped = append(res.Skipped, to)
				continue
			}
		}
		if e.Name != DBEntry && sameContent(to, e.SHA256) {
			res.Unchanged = append(res.Unchanged, to) // e.g. the Alink models the package installed
			continue
		}
		if _, err := os.Stat(to); err == nil && !o.Force {
			existing = append(existing, to)
		}
		moves = append(moves, move{filepath.Join(staging, filepath.FromSlash(e.Name)), to, own})
	}
	if len(existing) > 0 {
		return nil, &ExistsError{Paths: existing}
	}
	if o.Force {
		dbp := daemon.DBPath(cfg)
		for _, p := range []string{dbp + "-wal", dbp + "-shm"} { // the old database's log goes aside with it
			if _, err := os.Stat(p); err == nil {
				moves = append([]move{{to: p}}, moves...)
			}
		}
	}
	for _, mv := range moves {
		if _, err := os.Stat(mv.to); err == nil {
			if err := os.Rename(mv.to, mv.to+suffix); err != nil {
				return nil, fmt.Errorf("restore: keeping %s aside: %w", mv.to, err)
			}
			res.KeptAside = append(res.KeptAside, mv.to+suffix)
		}
		if mv.from == "" {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(mv.to), 0o750); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
		mv.owner.chown(mv.from)
		if err := place(mv.from, mv.to); err != nil {
			return nil, err
		}
		if err := syncDir(filepath.Dir(mv.to)); err != nil {
			return nil, err
		}
		res.Restored = append(res.Restored, mv.to)
	}

	// The configuration.
	if useArchiveConfig {
		if _, err := os.Stat(cfgPath); err == nil {
			if err := os.Rename(cfgPath, cfgPath+suffix); err != nil {
				return nil, fmt.Errorf("restore: keeping %s aside: %w", cfgPath, err)
			}
			res.KeptAside = append(res.KeptAside, cfgPath+suffix)
		}
		e, _ := m.entry(m.ConfigEntry)
		os.Chmod(pending, os.FileMode(e.Mode))
		cfgOwner.chown(pending)
		if err := os.Rename(pending, cfgPath); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
		pending = ""
		if err := syncDir(filepath.Dir(cfgPath)); err != nil {
			return nil, err
		}
		res.ConfigRestored = true
	} else {
		res.ConfigCopy = cfgPath + ".from-backup"
		if err := os.Rename(pending, res.ConfigCopy); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
		pending = ""
	}

	// The database: check it, then bring its schema up to this gateway's.
	if err := checkRestored(ctx, daemon.DBPath(cfg), res); err != nil {
		return nil, err
	}
	if c := res.Counts; c.Devices != m.Counts.Devices || c.Users != m.Counts.Users || c.Alarms != m.Counts.Alarms || c.Events != m.Counts.Events {
		return nil, fmt.Errorf("restore: the restored database holds %+v, the manifest says %+v", c, m.Counts)
	}

	switch {
	case m.DataKey == "environment":
		res.Warnings = append(res.Warnings, "the data key came from GATEWAY_DATA_KEY on the old box and is not in the archive: set the same key here, or residents' medical notes and contacts cannot be read")
	case m.DataKey == "environment_file" && slices.Contains(res.Skipped, filepath.Join(filepath.Dir(cfgPath), EnvFileName)):
		res.Warnings = append(res.Warnings, "the data key is GATEWAY_DATA_KEY in the archive's config/environment, but the environment file here was kept: it must hold the same key (-force replaces it)")
	case m.DataKey == "file" && cfg.Security.DataKey != "":
		res.Warnings = append(res.Warnings, "security.data_key (or GATEWAY_DATA_KEY) is set here: the gateway uses it instead of the restored data.key; it must be the old box's key")
	}
	for _, n := range m.NotIncluded {
		res.Warnings = append(res.Warnings, "not in the archive (outside the configuration and data directories), copy it yourself: "+n)
	}
	return res, nil
}

// sameContent reports whether the file at p exists with the SHA-256 sum.
func sameContent(p, sum string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false
	}
	return hex.EncodeToString(h.Sum(nil)) == sum
}

// staged is an entry held in memory.
type staged struct {
	Entry
	data []byte
}

// checkRestored runs integrity_check on the restored database, then opens it as the gateway
// does (core migrations) and applies every package's migrations, and counts what it holds.
func checkRestored(ctx context.Context, dbPath string, res *Result) error {
	db, err := openDB(dbPath, "rw")
	if err != nil {
		return err
	}
	err = IntegrityCheck(ctx, db)
	db.Close()
	if err != nil {
		return fmt.Errorf("restore: the restored database fails its check: %w", err)
	}
	st, err := store.Open(ctx, dbPath)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer st.Close()
	for _, m := range daemon.Migrators() {
		if err := st.Migrate(ctx, m); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	res.Counts, _, err = ReadCounts(ctx, st.DB())
	if err != nil {
		return err
	}
	if _, err := st.DB().ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// stage writes an entry's content under dir with fsync and its mode.
func stage(dir string, e Entry, r io.Reader) error {
	p := filepath.Join(dir, filepath.FromSlash(e.Name))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, os.FileMode(e.Mode))
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Chmod(os.FileMode(e.Mode)) // past the umask
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("restore: %s: %w", e.Name, err)
	}
	return nil
}

func writeFileSync(p string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("restore: sync %s: %w", dir, err)
	}
	return nil
}

// owner is who a restored file belongs to when restore runs as root (the service runs as its
// own user and must be able to open what it needs).
type owner struct {
	uid, gid int
	ok       bool
}

// ownerOf is the owner of the first of paths that exists; none when not root.
func ownerOf(paths ...string) owner {
	if os.Geteuid() != 0 {
		return owner{}
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			return owner{uid: int(st.Uid), gid: int(st.Gid), ok: true}
		}
	}
	return owner{}
}

func (o owner) chown(p string) {
	if o.ok {
		os.Chown(p, o.uid, o.gid)
	}
}

// place moves a staged file to its place: a rename, or where the two are on different file
// systems (data under /var, configuration under /etc) a copy flushed to disk.
func place(from, to string) error {
	err := os.Rename(from, to)
	if err == nil || !errors.Is(err, syscall.EXDEV) {
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		return nil
	}
	in, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	tmp := to + ".restoring"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, fi.Mode().Perm())
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Chmod(fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && err == nil && os.Geteuid() == 0 {
		err = out.Chown(int(st.Uid), int(st.Gid))
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, to)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore: %s: %w", to, err)
	}
	return os.Remove(from)
}
