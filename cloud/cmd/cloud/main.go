// Command cloud is the grid case system (网格化管理) of the community edge gateways: case intake
// from many gateways, the case workflow, and the grid centre's web UI.
//
//	cloud run -config FILE                 serve
//	cloud check-config -config FILE        validate the configuration and exit
//	cloud gateway add -config FILE NAME    register a gateway; prints its id and key once
//	cloud gateway list -config FILE
//	cloud gateway disable -config FILE ID
//	cloud user add -config FILE -role R [-department D] [-name N] USERNAME
//	                                       password from $CLOUD_USER_PASSWORD or the first line of stdin
//	cloud send-test-alert -url URL -gateway ID -key KEY [-type sos] [-alarm ID] [-grid CODE]
//	                                       report one alert as a gateway would (api.Client)
//	cloud version
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/community-edge/edge/cloud/api"
	"github.com/community-edge/edge/cloud/internal/auth"
	"github.com/community-edge/edge/cloud/internal/cases"
	"github.com/community-edge/edge/cloud/internal/config"
	"github.com/community-edge/edge/cloud/internal/server"
	"github.com/community-edge/edge/cloud/internal/store"
)

const usage = `usage:
  cloud run -config FILE
  cloud check-config -config FILE
  cloud gateway add -config FILE NAME
  cloud gateway list -config FILE
  cloud gateway disable -config FILE ID
  cloud user add -config FILE -role dispatcher|handler|inspector|admin [-department D] [-name N] USERNAME
  cloud send-test-alert -url URL -gateway ID -key KEY [-type sos] [-family callbutton] [-alarm ID] [-grid CODE]
  cloud version
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "cloud", buildVersion(), "schema", store.SchemaVersion())
		return nil
	case "run":
		cfg, _, err := loadConfig(cmd, rest)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stdout)
	case "check-config":
		cfg, _, err := loadConfig(cmd, rest)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "configuration valid: %s database, listening on %s\n", cfg.Database.Driver, cfg.Listen)
		if cfg.Database.Driver == "postgres" {
			if _, err := cfg.Database.ResolveDSN(); err != nil {
				fmt.Fprintf(stdout, "warning: %v (needed by run)\n", err)
			}
		}
		return nil
	case "send-test-alert":
		return sendTestAlert(ctx, rest, stdout)
	case "gateway", "user":
		if len(rest) == 0 {
			return errors.New(usage)
		}
		return admin(ctx, cmd+" "+rest[0], rest[1:], stdin, stdout)
	}
	return fmt.Errorf("cloud: unknown command %q\n%s", cmd, usage)
}

// version is set at build time: go build -ldflags "-X main.version=…".
var version string

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return bi.Main.Version + " " + s.Value[:12]
			}
		}
		return bi.Main.Version
	}
	return "unknown"
}

// loadConfig parses -config (default $CLOUD_CONFIG, then cloud.yaml) and any extra flags.
func loadConfig(name string, args []string, extra ...func(*flag.FlagSet)) (config.Config, []string, error) {
	fs := flag.NewFlagSet("cloud "+name, flag.ContinueOnError)
	def := os.Getenv("CLOUD_CONFIG")
	if def == "" {
		def = "cloud.yaml"
	}
	path := fs.String("config", def, "configuration file")
	for _, e := range extra {
		e(fs)
	}
	if err := fs.Parse(args); err != nil {
		return config.Config{}, nil, err
	}
	cfg, err := config.Load(*path)
	return cfg, fs.Args(), err
}

func openStore(ctx context.Context, cfg config.Config) (*store.Store, error) {
	o := store.Options{Driver: cfg.Database.Driver, Path: cfg.Database.Path}
	if o.Driver == "postgres" {
		dsn, err := cfg.Database.ResolveDSN()
		if err != nil {
			return nil, err
		}
		o.DSN = dsn
	}
	st, err := store.Open(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

func serve(ctx context.Context, cfg config.Config, stdout io.Writer) error {
	log := slog.New(slog.NewTextHandler(stdout, nil))
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, u := range cfg.Users {
		created, err := ensureUser(ctx, st, u)
		if err != nil {
			return err
		}
		if created {
			log.Info("user created from the configuration", "username", u.Username, "role", u.Role)
		}
	}
	for _, g := range cfg.Gateways {
		key, err := g.ResolveKey()
		if err != nil {
			return err
		}
		name := g.Name
		if name == "" {
			name = g.ID
		}
		err = st.AddGateway(ctx, store.Gateway{ID: g.ID, Name: name, Key: key, Created: time.Now()})
		if err == nil {
			log.Info("gateway registered from the configuration", "gateway", g.ID)
		} else if !errors.Is(err, store.ErrExists) {
			return err
		}
	}
	m := &cases.Machine{Policy: cfg.Deadlines, Centre: cfg.CentreDepartment}
	srv := server.New(server.Options{
		Listen: cfg.Listen, CertFile: cfg.TLS.CertFile, KeyFile: cfg.TLS.KeyFile, CookieSecure: cfg.CookieSecure,
		SessionTTL: cfg.Sessions.TTL, Heartbeat: cfg.Link.Heartbeat, LongPoll: cfg.Link.LongPoll,
		TimeZone: cfg.TimeZone, Language: cfg.Language, Departments: cfg.Departments,
	}, st, m, cfg.Classifier(), time.Now, log)
	log.Info("cloud starting", "version", buildVersion(), "database", st.Driver())
	return srv.Run(ctx)
}

func ensureUser(ctx context.Context, st *store.Store, u config.User) (bool, error) {
	if _, err := st.UserByName(ctx, u.Username); err == nil {
		return false, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	pw, err := u.ResolvePassword()
	if err != nil {
		return false, err
	}
	hash, err := auth.HashPassword(pw)
	if err != nil {
		return false, fmt.Errorf("cloud: user %s: %w", u.Username, err)
	}
	name := u.DisplayName
	if name == "" {
		name = u.Username
	}
	_, err = st.AddUser(ctx, store.User{Username: u.Username, DisplayName: name, Role: u.Role, Department: u.Department, PasswordHash: hash, Created: time.Now()})
	return err == nil, err
}

func admin(ctx context.Context, cmd string, args []string, stdin io.Reader, stdout io.Writer) error {
	var role, dept, name string
	userFlags := func(fs *flag.FlagSet) {
		fs.StringVar(&role, "role", "", "dispatcher, handler, inspector or admin")
		fs.StringVar(&dept, "department", "", "the user's department (required for handlers)")
		fs.StringVar(&name, "name", "", "display name")
	}
	var extra []func(*flag.FlagSet)
	if cmd == "user add" {
		extra = append(extra, userFlags)
	}
	cfg, rest, err := loadConfig(cmd, args, extra...)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	switch cmd {
	case "gateway add":
		if len(rest) != 1 {
			return errors.New("cloud gateway add: give one NAME")
		}
		id := make([]byte, 5)
		key := make([]byte, api.KeySize)
		rand.Read(id)
		rand.Read(key)
		g := store.Gateway{ID: "gw-" + hex.EncodeToString(id), Name: rest[0], Key: key, Created: time.Now()}
		if err := st.AddGateway(ctx, g); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "gateway added: %s\nid:  %s\nkey: %s\nThe key is shown only now: put it in the gateway's configuration.\n", g.Name, g.ID, api.EncodeKey(key))
		return nil
	case "gateway list":
		gws, err := st.Gateways(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tLINK\tLAST CONTACT\tDISABLED")
		for _, g := range gws {
			last := "-"
			if !g.LastSeen.IsZero() {
				last = g.LastSeen.Local().Format(time.DateTime)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", g.ID, g.Name, g.Link, last, g.Disabled)
		}
		return tw.Flush()
	case "gateway disable":
		if len(rest) != 1 {
			return errors.New("cloud gateway disable: give one ID")
		}
		return st.SetGatewayDisabled(ctx, rest[0], true)
	case "user add":
		if len(rest) != 1 {
			return errors.New("cloud user add: give one USERNAME")
		}
		u := config.User{Username: rest[0], DisplayName: name, Role: role, Department: dept, PasswordEnv: "CLOUD_USER_PASSWORD"}
		if !cases.Role(role).Valid() {
			return fmt.Errorf("cloud user add: -role must be dispatcher, handler, inspector or admin")
		}
		if role == string(cases.Handler) && dept == "" {
			return errors.New("cloud user add: a handler needs -department")
		}
		if os.Getenv(u.PasswordEnv) == "" {
			line, err := bufio.NewReader(stdin).ReadString('\n')
			if err != nil && line == "" {
				return errors.New("cloud user add: give the password in $CLOUD_USER_PASSWORD or on stdin")
			}
			u.PasswordEnv, u.Password = "", strings.TrimRight(line, "\r\n")
		}
		created, err := ensureUser(ctx, st, u)
		if err != nil {
			return err
		}
		if !created {
			return fmt.Errorf("cloud user add: %s already exists", u.Username)
		}
		fmt.Fprintf(stdout, "user added: %s (%s)\n", u.Username, role)
		return nil
	}
	return fmt.Errorf("cloud: unknown command %q\n%s", cmd, usage)
}

// sendTestAlert reports one alert through the gateway client, as a gateway's uplink does.
func sendTestAlert(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("cloud send-test-alert", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:8480", "cloud base URL")
	gw := fs.String("gateway", "", "gateway id (from cloud gateway add)")
	keyText := fs.String("key", "", "gateway key (from cloud gateway add)")
	typ := fs.String("type", "sos", "alarm type: sos, fall, inactivity, smoke, over_temperature, fault, tamper, …")
	family := fs.String("family", "callbutton", "device family")
	alarm := fs.String("alarm", "", "alarm id (default: a new one)")
	grid := fs.String("grid", "110105001002003", "15-digit grid code")
	if err := fs.Parse(args); err != nil {
		return err
	}
	key, err := api.DecodeKey(*keyText)
	if err != nil {
		return err
	}
	if *alarm == "" {
		*alarm = "test-" + time.Now().Format("20060102-150405.000")
	}
	c, err := api.NewClient(*base, *gw, key).SendAlert(ctx, api.Alert{
		AlarmID: *alarm, Type: *typ, Family: *family, Device: "test-device", OccurredAt: time.Now(),
		Site: "测试小区", GridCode: *grid, Address: "1号楼1单元101", Location: &api.Location{Lat: 39.9042, Lon: 116.4074},
		Resident:    &api.Resident{Name: "测试居民", Phone: "13800000000", Unit: "1-1-101", MedicalNotes: "高血压"},
		Description: "send-test-alert",
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "case %d: %s %s/%s %s, due %v\n", c.ID, c.State, c.Category.ClassName, c.Category.SubclassName, c.Priority, c.Due)
	return nil
}
