// Command fwsim is the simulated device firmware of the community edge gateway: it runs a
// fleet of call buttons, parcel lockers and charging posts against an MQTT broker, playing a
// scenario (fwsim run), checks scenario files (fwsim check), and generates benchmark load
// (fwsim load).
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
	"strings"
	"syscall"
	"time"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/firmware-sim/credentials"
	"github.com/community-edge/edge/firmware-sim/load"
	"github.com/community-edge/edge/firmware-sim/payload"
	"github.com/community-edge/edge/firmware-sim/scenario"
	"github.com/community-edge/edge/firmware-sim/sim"
)

const usage = `usage: fwsim <command> [flags]

commands:
  run    run a fleet of simulated devices playing a scenario
  check  validate scenario files
  load   generate MQTT load for benchmarks

"fwsim <command> -h" lists a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code (2 for usage errors).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = runFleet(ctx, args[1:], stderr)
	case "check":
		err = check(args[1:], stdout, stderr)
	case "load":
		err = runLoad(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "fwsim: unknown command %q\n%s", args[0], usage)
		return 2
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "fwsim %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "fwsim %s: %v\n", args[0], err)
		return 1
	}
}

// usageError is a mistake in the command line.
type usageError struct{ error }

// common are the flags of run and load.
type common struct {
	broker, site, dialect, credFile, password, alinkDir, logLevel string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.broker, "broker", "tcp://127.0.0.1:1883", "MQTT broker `URL`")
	fs.StringVar(&c.site, "site", "demo", "site id, the second segment of native topics")
	fs.StringVar(&c.dialect, "dialect", "", "dialect of devices that do not name theirs: native or alink")
	fs.StringVar(&c.credFile, "credentials", "", "`file` of device,password lines (devices not listed use -password)")
	fs.StringVar(&c.password, "password", os.Getenv("FWSIM_PASSWORD"), "shared demo password (default $FWSIM_PASSWORD)")
	fs.StringVar(&c.alinkDir, "alink-models", "", "`dir` of Alink product models (*.yaml); default the built-in ones")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
}

// setup turns the common flags into a logger, credentials and models, reporting every
// mistake at once.
func (c *common) setup(stderr io.Writer, errs []error) (*slog.Logger, credentials.Source, *payload.Models, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		errs = append(errs, fmt.Errorf("-log-level: %q is not debug, info, warn or error", c.logLevel))
	}
	if c.dialect != "" && c.dialect != "native" && c.dialect != "alink" {
		errs = append(errs, fmt.Errorf("-dialect: %q is not native or alink", c.dialect))
	}
	if !strings.HasPrefix(c.broker, "tcp://") && !strings.HasPrefix(c.broker, "mqtt://") {
		errs = append(errs, fmt.Errorf("-broker: %q is not tcp://host:port", c.broker))
	}
	if c.site == "" || strings.ContainsAny(c.site, "/+#") {
		errs = append(errs, fmt.Errorf("-site: %q must be non-empty without / + #", c.site))
	}
	creds := credentials.Fallback{Shared: credentials.Shared(c.password)}
	if c.credFile != "" {
		t, err := credentials.Load(c.credFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("-credentials: %w", err))
		}
		creds.Table = t
	}
	var models *payload.Models
	if c.alinkDir != "" {
		m, err := payload.LoadModels(c.alinkDir)
		if err != nil {
			errs = append(errs, fmt.Errorf("-alink-models: %w", err))
		}
		models = m
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, nil, usageError{err}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	return log, creds, models, nil
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	return nil
}

func runFleet(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("fwsim run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	scenarioFile := fs.String("scenario", "", "scenario `file` (YAML); default: no steps")
	cb := fs.Int("callbuttons", -1, "number of call buttons (default: the scenario's)")
	lk := fs.Int("lockers", -1, "number of parcel lockers (default: the scenario's)")
	ch := fs.Int("chargers", -1, "number of charging posts (default: the scenario's)")
	hb := fs.Duration("heartbeat", 0, "telemetry interval (default: the scenario's, else 30s)")
	auto := fs.Bool("auto-events", false, "devices act on their own even if the scenario does not say so")
	activity := fs.Duration("activity", 10*time.Minute, "mean time between a device's own activities")
	qos := fs.Int("telemetry-qos", 0, "QoS of telemetry: 0 or 1")
	spread := fs.Duration("connect-spread", 2*time.Second, "spread the first connections over this time")
	seed := fs.Uint64("seed", 0, "random seed (0: random)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var errs []error
	if *hb < 0 {
		errs = append(errs, errors.New("-heartbeat: must not be negative"))
	}
	if *qos != 0 && *qos != 1 {
		errs = append(errs, fmt.Errorf("-telemetry-qos: %d is not 0 or 1", *qos))
	}
	if *activity <= 0 {
		errs = append(errs, errors.New("-activity: must be positive"))
	}
	sc := &scenario.Scenario{Name: "none"}
	if *scenarioFile != "" {
		s, err := scenario.Load(*scenarioFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("-scenario: %w", err))
		} else {
			sc = s
		}
	}
	if c.dialect != "" {
		sc.Dialect = c.dialect
	}
	var counts *scenario.Counts
	if *cb >= 0 || *lk >= 0 || *ch >= 0 {
		n := sc.Fleet
		for _, o := range []struct {
			flag string
			v    int
			dst  *int
		}{{"-callbuttons", *cb, &n.CallButton}, {"-lockers", *lk, &n.Locker}, {"-chargers", *ch, &n.Charger}} {
			switch {
			case o.v > 9999:
				errs = append(errs, fmt.Errorf("%s: %d is more than 9999", o.flag, o.v))
			case o.v >= 0:
				*o.dst = o.v
			}
		}
		counts = &n
	}
	log, creds, models, err := c.setup(stderr, errs)
	if err != nil {
		return err
	}
	fleet, err := sim.NewFleet(sim.FleetConfig{Broker: c.broker, Site: c.site, Scenario: sc, Counts: counts,
		Credentials: creds, Models: models, Heartbeat: *hb, AutoEvents: *auto, ActivityEvery: *activity,
		TelemetryQoS: byte(*qos), Seed: *seed, ConnectSpread: *spread}, log)
	if err != nil {
		return usageError{err}
	}
	return fleet.Run(ctx)
}

func check(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fwsim check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: fwsim check scenario.yaml…") }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{errors.New("no scenario file given")}
	}
	var errs []error
	for _, f := range fs.Args() {
		s, err := scenario.Load(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(stdout, "%s: ok (%s: %d devices, %d steps)\n", f, s.Name, len(s.Expand(nil)), len(s.Steps))
	}
	return errors.Join(errs...)
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fwsim load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	devices := fs.Int("devices", 100, "number of device connections")
	rate := fs.Float64("rate", 1000, "total messages per second (0: as fast as acknowledged)")
	duration := fs.Duration("duration", 10*time.Second, "how long to send (0: until -messages)")
	messages := fs.Int64("messages", 0, "stop after this many messages (0: no limit)")
	families := fs.String("family", "all", "comma-separated families: callbutton, locker, charger or all")
	qos := fs.Int("qos", 1, "QoS of the messages: 0 or 1")
	events := fs.Float64("events", 0.1, "fraction of messages that are events (0..1)")
	prefix := fs.String("id-prefix", "load-", "prefix of the device ids")
	inflight := fs.Int("inflight", 500, "unacknowledged messages per connection")
	if err := parse(fs, args); err != nil {
		return err
	}
	var errs []error
	var fams []drivers.Family
	if *families != "all" {
		for _, f := range strings.Split(*families, ",") {
			fam := drivers.Family(strings.TrimSpace(f))
			if !fam.Valid() {
				errs = append(errs, fmt.Errorf("-family: %q is not callbutton, locker, charger or all", f))
			}
			fams = append(fams, fam)
		}
	}
	if *qos != 0 && *qos != 1 {
		errs = append(errs, fmt.Errorf("-qos: %d is not 0 or 1", *qos))
	}
	if *devices <= 0 {
		errs = append(errs, fmt.Errorf("-devices: %d must be positive", *devices))
	}
	if *rate < 0 {
		errs = append(errs, fmt.Errorf("-rate: %g must not be negative", *rate))
	}
	if *events < 0 || *events > 1 {
		errs = append(errs, fmt.Errorf("-events: %g is not in 0..1", *events))
	}
	if *duration <= 0 && *messages <= 0 {
		errs = append(errs, errors.New("-duration or -messages must be positive"))
	}
	log, creds, models, err := c.setup(stderr, errs)
	if err != nil {
		return err
	}
	g, err := load.New(load.Config{Broker: c.broker, Site: c.site, Devices: *devices, Rate: *rate, Duration: *duration,
		Messages: *messages, Families: fams, QoS: byte(*qos), EventRatio: *events, Dialect: c.dialect, Models: models,
		Credentials: creds, IDPrefix: *prefix, Inflight: *inflight}, log)
	if err != nil {
		return usageError{err}
	}
	rep, err := g.Run(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "fwsim load: %s\n", rep)
	if len(rep.ConnectErrors) > 0 {
		fmt.Fprintf(stdout, "fwsim load: %d devices could not connect, the first: %v\n", len(rep.ConnectErrors), rep.ConnectErrors[0])
	}
	if rep.Errors > 0 {
		return fmt.Errorf("%d publish errors", rep.Errors)
	}
	return nil
}
