package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/daemon"
)

const dataKeyFile = daemon.DataKeyFile

// Subdirectories of the data directory that go into an archive: the generated HTTPS
// certificate always, the time-series spool on request.
const (
	tlsDir   = "tls"
	spoolDir = "tsdb-spool"
)

// maxSmallFile bounds a configuration-side file (config, key, certificate, model), which is
// read into memory so that what is hashed is what is archived.
const maxSmallFile = 64 << 20

// Options configure Create.
type Options struct {
	ConfigPath string
	Config     *config.Config
	Getenv     func(string) string // to tell a data key from the environment; default os.Getenv
	Version    string              // the gateway's version
	WithSpool  bool                // include the time-series spool (not needed to restore)
	TempDir    string              // where the snapshot is staged; default the system's
	Now        func() time.Time
}

// source is one file to archive: its bytes, or a staged file nobody else writes.
type source struct {
	Entry
	data []byte
	path string
}

// Create writes a backup archive of the gateway described by o to w and returns its manifest.
// It works while the gateway runs: the database is snapshotted with VACUUM INTO.
func Create(ctx context.Context, w io.Writer, o Options) (*Manifest, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	cfg := o.Config
	cfgPath, err := filepath.Abs(o.ConfigPath)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	dataDir := cfg.Path(cfg.DataDir)
	if dataDir, err = filepath.Abs(dataDir); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	tmp, err := os.MkdirTemp(o.TempDir, "gateway-backup-") // 0700: it holds secrets
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(tmp)

	m := &Manifest{Kind: Kind, Format: FormatVersion, GatewayVersion: o.Version, Site: Site{Code: cfg.Site.Code, Name: cfg.Site.Name},
		CreatedAt: o.Now().UTC().Truncate(time.Second), ConfigFile: cfgPath, DataDir: dataDir, Spool: o.WithSpool}
	m.Host, _ = os.Hostname()

	snap := filepath.Join(tmp, DBEntry)
	if err := Snapshot(ctx, daemon.DBPath(cfg), snap); err != nil {
		return nil, err
	}
	sdb, err := openDB(snap, "ro")
	if err != nil {
		return nil, err
	}
	m.Counts, m.Schema, err = ReadCounts(ctx, sdb)
	sdb.Close()
	if err != nil {
		return nil, err
	}

	var srcs []source
	add := func(s source, err error) error {
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(srcs, func(x source) bool { return x.Name == s.Name }) {
			srcs = append(srcs, s)
		}
		return nil
	}
	// The environment file first, then the configuration: restore needs both to read the
	// configuration before anything else.
	envPath := filepath.Join(filepath.Dir(cfgPath), EnvFileName)
	var envFile map[string]string
	if _, err := os.Stat(envPath); err == nil {
		s, err := smallFile(envPath, ConfigPrefix+EnvFileName, true)
		if err != nil {
			return nil, err
		}
		envFile = ParseEnvFile(s.data)
		srcs = append(srcs, s)
	}
	m.ConfigEntry = ConfigPrefix + filepath.Base(cfgPath)
	if m.ConfigEntry == ConfigPrefix+EnvFileName {
		return nil, fmt.Errorf("backup: the configuration file may not be named %q", EnvFileName)
	}
	if err := add(smallFile(cfgPath, m.ConfigEntry, true)); err != nil {
		return nil, err
	}
	switch {
	case envFile["GATEWAY_DATA_KEY"] != "":
		m.DataKey = "environment_file"
	case o.Getenv("GATEWAY_DATA_KEY") != "":
		m.DataKey = "environment"
	case cfg.Security.DataKey != "":
		m.DataKey = "config"
	default:
		m.DataKey = "file"
		if err := add(smallFile(filepath.Join(dataDir, dataKeyFile), DataPrefix+dataKeyFile, true)); err != nil {
			return nil, fmt.Errorf("%w (the gateway makes its data key on first start: has it run? or set security.data_key / GATEWAY_DATA_KEY)", err)
		}
	}
	if err := walk(filepath.Join(dataDir, tlsDir), func(p string) error {
		return add(smallFile(p, DataPrefix+filepath.ToSlash(rel(dataDir, p)), strings.HasSuffix(p, ".key")))
	}); err != nil {
		return nil, err
	}
	for _, f := range configuredFiles(cfg) {
		var name string
		switch {
		case f.path == cfgPath:
			continue
		case within(dataDir, f.path):
			name = DataPrefix + filepath.ToSlash(rel(dataDir, f.path))
		case within(filepath.Dir(cfgPath), f.path):
			name = ConfigPrefix + filepath.ToSlash(rel(filepath.Dir(cfgPath), f.path))
		default:
			what := f.key + ": " + f.path
			if f.dir != "" {
				what = f.key + ": " + f.dir // once for the whole directory
			}
			if !slices.Contains(m.NotIncluded, what) {
				m.NotIncluded = append(m.NotIncluded, what)
			}
			continue
		}
		if err := add(smallFile(f.path, name, f.secret)); err != nil {
			return nil, err
		}
	}
	if o.WithSpool {
		// The spool changes while the gateway runs: copy each file as it is now.
		if err := walk(filepath.Join(dataDir, spoolDir), func(p string) error {
			name := DataPrefix + filepath.ToSlash(rel(dataDir, p))
			staged := filepath.Join(tmp, "spool-"+fmt.Sprint(len(srcs)))
			return add(stagedCopy(p, staged, name))
		}); err != nil {
			return nil, err
		}
	}
	dbEntry, err := hashFile(snap, DBEntry, 0o600, false)
	if err != nil {
		return nil, err
	}
	srcs = append(srcs, dbEntry)
	for _, s := range srcs {
		m.Entries = append(m.Entries, s.Entry)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}

	aw, err := newWriter(w, m)
	if err != nil {
		return nil, err
	}
	for _, s := range srcs {
		if s.data != nil {
			err = aw.add(s.Name, s.Mode, s.Size, bytes.NewReader(s.data))
		} else {
			err = addFile(aw, s)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := aw.close(); err != nil {
		return nil, err
	}
	return m, nil
}

func addFile(aw *writer, s source) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	return aw.add(s.Name, s.Mode, s.Size, f)
}

// configuredFile is a file the configuration names.
type configuredFile struct {
	key, path string
	secret    bool
	dir       string // the configured directory it is in, for a directory key
}

// configuredFiles lists the files the configuration names (resolved), models directories
// expanded to their files.
func configuredFiles(cfg *config.Config) []configuredFile {
	var out []configuredFile
	one := func(key, p string, secret bool) {
		if p != "" {
			abs, err := filepath.Abs(cfg.Path(p))
			if err == nil {
				out = append(out, configuredFile{key: key, path: abs, secret: secret})
			}
		}
	}
	one("http.tls_cert_file", cfg.HTTP.TLSCertFile, false)
	one("http.tls_key_file", cfg.HTTP.TLSKeyFile, true)
	e := cfg.Broker.Embedded
	one("broker.embedded.tls_cert_file", e.TLSCertFile, false)
	one("broker.embedded.tls_key_file", e.TLSKeyFile, true)
	x := cfg.Broker.External
	one("broker.external.ca_file", x.CAFile, false)
	one("broker.external.cert_file", x.CertFile, false)
	one("broker.external.key_file", x.KeyFile, true)
	for _, p := range cfg.DevicesCSV {
		one("devices_csv", p, true) // may carry residents' details
	}
	if d := cfg.Alink.ModelsDir; d != "" {
		dir, _ := filepath.Abs(cfg.Path(d))
		walk(dir, func(p string) error {
			out = append(out, configuredFile{key: "alink.models_dir", path: p, dir: dir})
			return nil
		})
	}
	return out
}

// walk calls fn for every regular file under dir; a missing dir has none.
func walk(dir string, fn func(path string) error) error {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			return fn(p)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

func within(dir, p string) bool {
	r, err := filepath.Rel(dir, p)
	return err == nil && r != "." && !filepath.IsAbs(r) && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator))
}

func rel(dir, p string) string {
	r, _ := filepath.Rel(dir, p)
	return r
}

// smallFile reads a file into memory as an entry with its own permission bits.
func smallFile(p, name string, secret bool) (source, error) {
	f, err := os.Open(p)
	if err != nil {
		return source{}, fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return source{}, fmt.Errorf("backup: %w", err)
	}
	if st.Size() > maxSmallFile {
		return source{}, fmt.Errorf("backup: %s: %d bytes, larger than a configuration file should be", p, st.Size())
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return source{}, fmt.Errorf("backup: %w", err)
	}
	mode := uint32(st.Mode().Perm())
	if secret {
		mode &= 0o600
	}
	sum := sha256.Sum256(data)
	return source{Entry: Entry{Name: name, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), Mode: mode, Secret: secret}, data: data}, nil
}

// stagedCopy copies a file that may be growing, as far as it is now, to staged.
func stagedCopy(p, staged, name string) (source, error) {
	f, err := os.Open(p)
	if err != nil {
		return source{}, fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return source{}, fmt.Errorf("backup: %w", err)
	}
	out, err := os.OpenFile(staged, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return source{}, fmt.Errorf("backup: %w", err)
	}
	_, err = io.Copy(out, io.LimitReader(f, st.Size()))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return source{}, fmt.Errorf("backup: %w", err)
	}
	return hashFile(staged, name, uint32(st.Mode().Perm()), false)
}

func hashFile(p, name string, mode uint32, secret bool) (source, error) {
	f, err := os.Open(p)
	if err != nil {
		return source{}, fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return source{}, fmt.Errorf("backup: %w", err)
	}
	return source{Entry: Entry{Name: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), Mode: mode, Secret: secret}, path: p}, nil
}

// syncFile flushes a file to disk.
func syncFile(p string) error {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}
