// Package backup writes and restores a gateway's backup archive: a gzip-compressed tar whose
// first entry is a manifest (format version, gateway version, site, time, counts, and the
// size and SHA-256 of every other entry), then the configuration file, a consistent snapshot
// of the SQLite database taken with VACUUM INTO while the gateway runs, the data key, the
// HTTPS certificate and the other files the configuration names inside the configuration or
// data directory. Restoring verifies every checksum before it writes anything.
package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// FormatVersion is the archive format this gateway writes and reads.
const FormatVersion = 1

// Kind marks a manifest as a gateway backup's.
const Kind = "community-gateway-backup"

// ManifestName is the archive's first entry.
const ManifestName = "manifest.json"

// DBEntry is the database snapshot's entry.
const DBEntry = "gateway.db"

// Entry names start with one of these: files restored under the configuration file's
// directory, or under the data directory.
const (
	ConfigPrefix = "config/"
	DataPrefix   = "data/"
)

// Limits of what the reader accepts, so a damaged or hostile archive cannot exhaust memory.
const (
	maxManifestBytes = 1 << 20
	maxEntries       = 100000
)

// Manifest describes an archive.
type Manifest struct {
	Kind           string    `json:"kind"`
	Format         int       `json:"format"`
	GatewayVersion string    `json:"gateway_version"`
	Site           Site      `json:"site"`
	CreatedAt      time.Time `json:"created_at"`
	Host           string    `json:"host,omitempty"`
	ConfigFile     string    `json:"config_file"`  // the path it was taken from
	ConfigEntry    string    `json:"config_entry"` // its entry, config/<base name>
	DataDir        string    `json:"data_dir"`
	// DataKey says where the key sealing residents' private data came from: "file" (the
	// entry data/data.key), "config" (security.data_key, inside the configuration file),
	// "environment_file" (GATEWAY_DATA_KEY in the entry config/environment) or "environment"
	// (GATEWAY_DATA_KEY of the shell that took the backup: not in the archive, keep it yourself).
	DataKey     string         `json:"data_key"`
	Schema      map[string]int `json:"schema"` // migration versions of the database
	Counts      Counts         `json:"counts"`
	Entries     []Entry        `json:"entries"`
	NotIncluded []string       `json:"not_included,omitempty"` // files the configuration names outside both directories
	Spool       bool           `json:"spool"`                  // whether the time-series spool is included
}

// Site is the site the gateway served.
type Site struct {
	Code string `json:"code"`
	Name string `json:"name,omitempty"`
}

// Counts are what the database snapshot holds.
type Counts struct {
	Devices    int64 `json:"devices"`
	Users      int64 `json:"users"`
	Alarms     int64 `json:"alarms"`
	OpenAlarms int64 `json:"open_alarms"`
	Events     int64 `json:"events"`
}

// Entry is one file in the archive.
type Entry struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Mode   uint32 `json:"mode"`             // permission bits to restore it with
	Secret bool   `json:"secret,omitempty"` // a key or the like
}

// entry returns the manifest's entry of a name.
func (m *Manifest) entry(name string) (Entry, bool) {
	for _, e := range m.Entries {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// Size is the sum of the entries' sizes.
func (m *Manifest) Size() int64 {
	var n int64
	for _, e := range m.Entries {
		n += e.Size
	}
	return n
}

// validate checks a manifest read from an archive, reporting every problem at once.
func (m *Manifest) validate() error {
	if m.Kind != Kind {
		return fmt.Errorf("backup: not a gateway backup (manifest kind %q)", m.Kind)
	}
	if m.Format != FormatVersion {
		return fmt.Errorf("backup: archive format version %d, this gateway reads version %d", m.Format, FormatVersion)
	}
	var errs []error
	if len(m.Entries) > maxEntries {
		errs = append(errs, fmt.Errorf("%d entries (at most %d)", len(m.Entries), maxEntries))
	}
	seen := map[string]bool{}
	for _, e := range m.Entries {
		if err := checkName(e.Name); err != nil {
			errs = append(errs, err)
		}
		if seen[e.Name] {
			errs = append(errs, fmt.Errorf("entry %q listed twice", e.Name))
		}
		seen[e.Name] = true
		if e.Size < 0 {
			errs = append(errs, fmt.Errorf("entry %q: negative size", e.Name))
		}
		if b, err := hex.DecodeString(e.SHA256); err != nil || len(b) != sha256.Size {
			errs = append(errs, fmt.Errorf("entry %q: sha256 %q is not 64 hex digits", e.Name, e.SHA256))
		}
		if e.Mode&^0o777 != 0 {
			errs = append(errs, fmt.Errorf("entry %q: mode %o is not permission bits", e.Name, e.Mode))
		}
	}
	if !seen[DBEntry] {
		errs = append(errs, fmt.Errorf("the database entry %s is not listed", DBEntry))
	}
	if !strings.HasPrefix(m.ConfigEntry, ConfigPrefix) || !seen[m.ConfigEntry] {
		errs = append(errs, fmt.Errorf("the configuration entry %q is not listed", m.ConfigEntry))
	}
	switch m.DataKey {
	case "file":
		if !seen[DataPrefix+dataKeyFile] {
			errs = append(errs, fmt.Errorf("the data key is said to be a file but %s%s is not listed", DataPrefix, dataKeyFile))
		}
	case "environment_file":
		if !seen[ConfigPrefix+EnvFileName] {
			errs = append(errs, fmt.Errorf("the data key is said to be in %s%s but it is not listed", ConfigPrefix, EnvFileName))
		}
	case "config", "environment":
	default:
		errs = append(errs, fmt.Errorf("data_key %q: want file, config, environment_file or environment", m.DataKey))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("backup: bad manifest: %w", err)
	}
	return nil
}

// checkName accepts a clean relative slash path under one of the prefixes (or the database).
func checkName(name string) error {
	if name == DBEntry {
		return nil
	}
	if !strings.HasPrefix(name, ConfigPrefix) && !strings.HasPrefix(name, DataPrefix) {
		return fmt.Errorf("entry %q: not under %s or %s", name, ConfigPrefix, DataPrefix)
	}
	if name != path.Clean(name) || strings.Contains(name, "\\") || strings.HasSuffix(name, "/") ||
		strings.Contains("/"+name+"/", "/../") || strings.ContainsRune(name, 0) {
		return fmt.Errorf("entry %q: not a clean relative path", name)
	}
	return nil
}

// writer writes an archive: the manifest first, then each entry in the manifest's order.
type writer struct {
	gz *gzip.Writer
	tw *tar.Writer
	at time.Time
}

func newWriter(w io.Writer, m *Manifest) (*writer, error) {
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	gz := gzip.NewWriter(w)
	aw := &writer{gz: gz, tw: tar.NewWriter(gz), at: m.CreatedAt}
	if err := aw.add(ManifestName, 0o600, int64(len(raw)), bytes.NewReader(raw)); err != nil {
		return nil, err
	}
	return aw, nil
}

// add writes one entry of exactly size bytes from r.
func (w *writer) add(name string, mode uint32, size int64, r io.Reader) error {
	h := &tar.Header{Name: name, Mode: int64(mode), Size: size, ModTime: w.at, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := w.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("backup: write %s: %w", name, err)
	}
	n, err := io.Copy(w.tw, io.LimitReader(r, size))
	if err == nil && n != size {
		err = fmt.Errorf("file changed while being archived: %d of %d bytes", n, size)
	}
	if err != nil {
		return fmt.Errorf("backup: write %s: %w", name, err)
	}
	return nil
}

func (w *writer) close() error {
	if err := w.tw.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := w.gz.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// Sink receives each entry's content during Read; it must read r to its end (or fail). The
// content is checked against the manifest as it is read, and Read fails on a mismatch after
// Sink returns, so a Sink keeps nothing for good before Read has succeeded.
type Sink func(e Entry, r io.Reader) error

// Read reads an archive, checking it against its manifest: the format version, every entry
// present once with its size and SHA-256, nothing else in it, and the compressed stream whole.
// onManifest (if not nil) sees the manifest once it is validated, before any entry; every
// entry's content goes to sink. A damaged archive is a clear error, never a crash.
func Read(r io.Reader, onManifest func(*Manifest) error, sink Sink) (*Manifest, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("backup: not a gzip-compressed archive: %w", unexpected(err))
	}
	tr := tar.NewReader(gz)
	h, err := tr.Next()
	if err != nil {
		return nil, fmt.Errorf("backup: reading the manifest: %w", unexpected(err))
	}
	if h.Name != ManifestName {
		return nil, fmt.Errorf("backup: the first entry is %q, not %s: not a gateway backup", h.Name, ManifestName)
	}
	if h.Size > maxManifestBytes {
		return nil, fmt.Errorf("backup: manifest of %d bytes is too large", h.Size)
	}
	raw, err := io.ReadAll(io.LimitReader(tr, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("backup: reading the manifest: %w", unexpected(err))
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("backup: the manifest is not valid JSON: %w", err)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	if onManifest != nil {
		if err := onManifest(&m); err != nil {
			return nil, err
		}
	}
	done := map[string]bool{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("backup: archive truncated or corrupt after %d entries: %w", len(done)+1, unexpected(err))
		}
		e, ok := m.entry(h.Name)
		switch {
		case !ok:
			return nil, fmt.Errorf("backup: entry %q is not in the manifest", h.Name)
		case done[h.Name]:
			return nil, fmt.Errorf("backup: entry %q appears twice", h.Name)
		case h.Typeflag != tar.TypeReg:
			return nil, fmt.Errorf("backup: entry %q is not a regular file", h.Name)
		case h.Size != e.Size:
			return nil, fmt.Errorf("backup: entry %q has %d bytes, the manifest says %d", h.Name, h.Size, e.Size)
		}
		hash := sha256.New()
		cr := &countingReader{r: io.TeeReader(tr, hash)}
		if err := sink(e, cr); err != nil {
			if cr.err != nil && !errors.Is(cr.err, io.EOF) {
				return nil, fmt.Errorf("backup: archive truncated or corrupt in entry %q: %w", h.Name, unexpected(cr.err))
			}
			return nil, err
		}
		if cr.n != e.Size {
			return nil, fmt.Errorf("backup: entry %q: %d of %d bytes read", h.Name, cr.n, e.Size)
		}
		if got := hex.EncodeToString(hash.Sum(nil)); got != e.SHA256 {
			return nil, fmt.Errorf("backup: entry %q: checksum mismatch (sha256 %s, the manifest says %s): the archive is damaged", h.Name, got, e.SHA256)
		}
		done[h.Name] = true
	}
	// The gzip trailer's CRC and length are checked only once the stream is read to its end.
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return nil, fmt.Errorf("backup: archive truncated or corrupt at its end: %w", unexpected(err))
	}
	var missing []string
	for _, e := range m.Entries {
		if !done[e.Name] {
			missing = append(missing, e.Name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("backup: archive incomplete: missing %s", strings.Join(missing, ", "))
	}
	return &m, nil
}

// unexpected names an early end of the stream for what it is.
func unexpected(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("unexpected end of file (truncated?): %w", err)
	}
	return err
}

type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	return n, err
}
