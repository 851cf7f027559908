package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/community-edge/edge/gateway/internal/backup"
	"github.com/community-edge/edge/gateway/internal/config"
)

const backupUsage = `Usage:
  gateway backup [-with-spool] -config FILE OUT.tar.gz   (OUT "-" writes to standard output)
  gateway restore [-force] -config FILE IN.tar.gz        (IN "-" reads standard input)

backup works while the gateway runs. The archive holds the configuration, a consistent snapshot
of the database, the data key of residents' medical notes and the HTTPS certificate: it holds
secrets, keep it like a password. The time-series spool (points waiting for InfluxDB) is not
needed to restore and is left out unless -with-spool.

restore needs the gateway stopped (systemctl stop community-gateway). It verifies the archive,
refuses to replace an existing database unless -force (the old files are kept beside as
*.before-restore-TIMESTAMP), writes the configuration to FILE only if FILE is absent or with
-force, checks the database and migrates it to this gateway's version.
`

// positionalFlags parses flags that may come before or after the one positional argument.
func positionalFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (string, bool) {
	var pos []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return "", false
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "gateway %s: want one archive path, got %d\n\n%s", fs.Name(), len(pos), backupUsage)
		return "", false
	}
	return pos[0], true
}

func cmdBackup(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "/etc/community-gateway/gateway.yaml", "configuration file")
	spool := fs.Bool("with-spool", false, "also archive the time-series spool")
	out, ok := positionalFlags(fs, args, stderr)
	if !ok {
		return 2
	}
	// The service's secrets file beside the configuration counts, as it does for the service.
	getenv, err := backup.Getenv(*cfgPath, os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "gateway backup: %v\n", err)
		return 1
	}
	cfg, err := config.Load(*cfgPath, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", *cfgPath, err)
		return 1
	}
	// The summary goes to stderr when the archive goes to stdout.
	info := stdout
	var w io.Writer = stdout
	var f *os.File
	tmpDir := ""
	if out != "-" {
		if !strings.HasSuffix(out, ".tar.gz") && !strings.HasSuffix(out, ".tgz") {
			fmt.Fprintf(stderr, "gateway backup: %s: name the archive *.tar.gz\n", out)
			return 2
		}
		tmpDir = filepath.Dir(out)
		if f, err = os.CreateTemp(tmpDir, ".gateway-backup-*.partial"); err != nil {
			fmt.Fprintf(stderr, "gateway backup: %v\n", err)
			return 1
		}
		defer os.Remove(f.Name())
		defer f.Close()
		f.Chmod(0o600)
		w = f
	} else {
		info = stderr
	}
	start := time.Now()
	fmt.Fprintf(info, "backing up the gateway of %s (site %s) …\n", *cfgPath, cfg.Site.Code)
	m, err := backup.Create(context.Background(), w, backup.Options{ConfigPath: *cfgPath, Config: cfg, Getenv: getenv, Version: versionString(),
		WithSpool: *spool, TempDir: tmpDir})
	if err == nil && f != nil {
		if err = f.Sync(); err == nil {
			if err = f.Close(); err == nil {
				err = os.Rename(f.Name(), out)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "gateway backup: %v\n", err)
		return 1
	}
	printManifest(info, m)
	where := "standard output"
	if f != nil {
		where = out
		if st, err := os.Stat(out); err == nil {
			where = fmt.Sprintf("%s (%s compressed, mode 0600)", out, size(st.Size()))
		}
	}
	fmt.Fprintf(info, "written to %s in %s\n", where, time.Since(start).Round(time.Millisecond))
	fmt.Fprintln(info, "THE ARCHIVE HOLDS SECRETS (the data key of residents' medical notes, TLS keys, the configuration's passwords): keep it like a password, off the box.")
	if !*spool {
		fmt.Fprintln(info, "the time-series spool (points waiting for InfluxDB) is not included: it is not needed to restore (add -with-spool to include it)")
	}
	for _, n := range m.NotIncluded {
		fmt.Fprintf(info, "not included (outside the configuration and data directories; copy it yourself): %s\n", n)
	}
	switch m.DataKey {
	case "environment":
		fmt.Fprintln(info, "the data key comes from GATEWAY_DATA_KEY of this shell and is NOT in the archive: keep it yourself, the restored box needs it")
	case "environment_file":
		fmt.Fprintln(info, "the data key is GATEWAY_DATA_KEY in config/environment (in the archive)")
	}
	return 0
}

// printManifest prints an archive's summary.
func printManifest(w io.Writer, m *backup.Manifest) {
	c := m.Counts
	fmt.Fprintf(w, "site %s, taken %s by gateway %s, format %d\n", m.Site.Code, m.CreatedAt.Format(time.RFC3339), m.GatewayVersion, m.Format)
	fmt.Fprintf(w, "database: %d devices, %d users, %d alarms (%d open), %d events\n", c.Devices, c.Users, c.Alarms, c.OpenAlarms, c.Events)
	fmt.Fprintf(w, "%d files, %s:\n", len(m.Entries), size(m.Size()))
	for _, e := range m.Entries {
		secret := ""
		if e.Secret {
			secret = "  (secret)"
		}
		fmt.Fprintf(w, "  %-40s %10s  %04o%s\n", e.Name, size(e.Size), e.Mode, secret)
	}
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func cmdRestore(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "/etc/community-gateway/gateway.yaml", "configuration file (restored here if absent or with -force)")
	force := fs.Bool("force", false, "replace an existing database, data key and configuration (the old ones are kept aside)")
	in, ok := positionalFlags(fs, args, stderr)
	if !ok {
		return 2
	}
	r := stdin
	if in != "-" {
		f, err := os.Open(in)
		if err != nil {
			fmt.Fprintf(stderr, "gateway restore: %v\n", err)
			return 1
		}
		defer f.Close()
		r = f
	}
	res, err := backup.Restore(context.Background(), r, backup.RestoreOptions{ConfigPath: *cfgPath, Force: *force})
	if err != nil {
		fmt.Fprintf(stderr, "gateway restore: %s\n", strings.TrimPrefix(err.Error(), "restore: "))
		var exists *backup.ExistsError
		if errors.As(err, &exists) {
			return 3
		}
		return 1
	}
	printManifest(stdout, res.Manifest)
	fmt.Fprintf(stdout, "restored into %s:\n", res.DataDir)
	for _, p := range res.Restored {
		fmt.Fprintf(stdout, "  %s\n", p)
	}
	if res.ConfigRestored {
		fmt.Fprintf(stdout, "configuration restored to %s\n", res.ConfigPath)
	} else {
		fmt.Fprintf(stdout, "configuration kept: %s exists (the archive's copy is %s; -force replaces it)\n", res.ConfigPath, res.ConfigCopy)
	}
	if len(res.Unchanged) > 0 {
		fmt.Fprintf(stdout, "already there with the same content: %d file(s)\n", len(res.Unchanged))
	}
	for _, p := range res.Skipped {
		fmt.Fprintf(stdout, "kept (exists; -force replaces it): %s\n", p)
	}
	for _, p := range res.KeptAside {
		fmt.Fprintf(stdout, "old file kept aside: %s\n", p)
	}
	c := res.Counts
	fmt.Fprintf(stdout, "database checked (integrity_check ok) and migrated: %d devices, %d users, %d alarms (%d open), %d events\n",
		c.Devices, c.Users, c.Alarms, c.OpenAlarms, c.Events)
	for _, w := range res.Warnings {
		fmt.Fprintf(stdout, "WARNING: %s\n", w)
	}
	fmt.Fprintln(stdout, "start the gateway: systemctl start community-gateway (or gateway run -config FILE)")
	return 0
}
