// Command gateway is the community edge gateway daemon and its administration commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	_ "time/tzdata" // the setup page and the console's times work on a box without the tzdata package

	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/daemon"
	"github.com/community-edge/edge/gateway/internal/memlimit"
	"github.com/community-edge/edge/gateway/internal/runlock"
)

// version is set with -ldflags "-X main.version=…".
var version = "dev"

const usage = `gateway — community edge gateway (社区边缘网关)

Usage:
  gateway run -config FILE            run the gateway
  gateway check-config -config FILE   validate a configuration; prints every problem with its key
  gateway doctor -config FILE [-lang zh|en] [-json]   check the installation: a table of pass/warn/fail with fixes
  gateway user add|passwd|remove|list manage console users (gateway user help)
  gateway mosquitto-passwd -config FILE   print a Mosquitto password file of every device's login
  gateway camera probe URL            connect to a camera and print what it streams, or why not
  gateway camera discover            list the ONVIF cameras on the LAN (WS-Discovery)
  gateway backup -config FILE OUT     back up config, database and keys to OUT.tar.gz while running
  gateway restore -config FILE IN     restore a backup onto a stopped gateway (-force replaces)
  gateway version                     print the version
`

func main() {
	// Allocation records are for an engineer who asked for the profiler (GATEWAY_PPROF). Without
	// it the runtime keeps none: their hash table and a record per allocating call stack would
	// otherwise take a megabyte or two of the box's memory.
	if os.Getenv("GATEWAY_PPROF") == "" {
		runtime.MemProfileRate = 0
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int { return runIn(args, os.Stdin, stdout, stderr) }

// runIn is run with the standard input given, for the commands that read it.
func runIn(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "check-config":
		return cmdCheck(args[1:], stdout, stderr)
	case "doctor":
		return cmdDoctor(args[1:], stdout, stderr)
	case "mosquitto-passwd":
		return cmdMosquittoPasswd(args[1:], stdout, stderr)
	case "user":
		return cmdUser(args[1:], stdin, stdout, stderr)
	case "camera":
		return cmdCamera(args[1:], stdout, stderr)
	case "backup":
		return cmdBackup(args[1:], stdout, stderr)
	case "restore":
		return cmdRestore(args[1:], stdin, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "gateway", versionString())
		return 0
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "gateway: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		v += " " + bi.GoVersion
	}
	return v
}

func configFlag(name string, args []string, stderr io.Writer) (string, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "/etc/community-gateway/gateway.yaml", "configuration file")
	if err := fs.Parse(args); err != nil {
		return "", false
	}
	return *path, true
}

// loadConfig reads the -config flag and loads the file, printing every problem; a non-zero
// code is the exit code to return.
func loadConfig(cmd string, args []string, stderr io.Writer) (string, *config.Config, int) {
	path, ok := configFlag(cmd, args, stderr)
	if !ok {
		return "", nil, 2
	}
	cfg, err := config.Load(path, os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
		return path, nil, 1
	}
	return path, cfg, 0
}

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	path, _, code := loadConfig("check-config", args, stderr)
	if code != 0 {
		return code
	}
	fmt.Fprintf(stdout, "%s: configuration is valid\n", path)
	return 0
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	_, cfg, code := loadConfig("run", args, stderr)
	if code != 0 {
		return code
	}
	log := newLogger(cfg.Log, stderr)
	if addr := os.Getenv("GATEWAY_PPROF"); addr != "" {
		if err := startProfiling(addr, log); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	// The lock tells restore (and a second gateway) that this data directory is in use.
	lock, err := runlock.Acquire(cfg.Path(cfg.DataDir))
	if err != nil {
		log.Error("gateway cannot start", "err", err)
		return 1
	}
	defer lock.Release()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if os.Getenv("GOMEMLIMIT") == "" && cfg.MemoryLimitMiB > 0 { // GOMEMLIMIT: the runtime's own fixed limit
		gov := memlimit.New(int64(cfg.MemoryLimitMiB)<<20, log.With("component", "memlimit"))
		govCtx, stopGov := context.WithCancel(ctx)
		govDone := make(chan struct{})
		go func() { defer close(govDone); gov.Run(govCtx) }()
		defer func() { stopGov(); <-govDone }()
	}
	// Serve builds the gateway again after the first-run setup changed the site.
	if err := daemon.Serve(ctx, cfg, log); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("gateway stopped with an error", "err", err)
		return 1
	}
	return 0
}
