package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/community-edge/edge/gateway/internal/audit"
	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/daemon"
	"github.com/community-edge/edge/gateway/internal/store"
	"github.com/community-edge/edge/gateway/internal/users"
)

const userUsage = `Usage:
  gateway user add NAME -role ROLE [-display 名字] [-password-stdin] -config FILE
  gateway user passwd NAME [-password-stdin] -config FILE
  gateway user remove NAME -config FILE
  gateway user list -config FILE

Roles: admin, installer, duty, security. Passwords have at least 10 characters; without
-password-stdin the password is asked for on the terminal, twice.
`

// cmdUser manages console users in the data directory's database of the configuration.
func cmdUser(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" {
		fmt.Fprint(stderr, userUsage)
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "/etc/community-gateway/gateway.yaml", "configuration file")
	var role, display *string
	var fromStdin *bool
	switch sub {
	case "add":
		role = fs.String("role", "", "admin, installer, duty or security")
		display = fs.String("display", "", "the name shown in the console, e.g. 王芳")
		fallthrough
	case "passwd":
		fromStdin = fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	case "remove", "list":
	default:
		fmt.Fprintf(stderr, "gateway user: unknown command %q\n\n%s", sub, userUsage)
		return 2
	}
	// The name may come before, between or after the flags.
	var positional []string
	for rest := args[1:]; ; {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(positional) > 1 {
		fmt.Fprintf(stderr, "gateway user %s: unexpected arguments %q\n", sub, positional[1:])
		return 2
	}
	var name string
	if len(positional) == 1 {
		name = positional[0]
	}
	if (sub == "list") != (name == "") {
		fmt.Fprintf(stderr, "gateway user %s: %s\n\n%s", sub, map[bool]string{true: "takes no user name", false: "needs a user name"}[sub == "list"], userUsage)
		return 2
	}
	if sub == "add" && *role == "" {
		fmt.Fprintf(stderr, "gateway user add: -role is required (admin, installer, duty or security)\n")
		return 2
	}

	var password string
	if fromStdin != nil {
		var err error
		if password, err = readPassword(stdin, stderr, *fromStdin); err != nil {
			fmt.Fprintf(stderr, "gateway user %s: %v\n", sub, err)
			return 1
		}
		if err := users.CheckStrength(users.NormalizeName(name), password); err != nil {
			fmt.Fprintf(stderr, "gateway user %s: %s\n", sub, strings.TrimPrefix(err.Error(), "users: "))
			return 1
		}
	}

	cfg, err := config.Load(*cfgPath, os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", *cfgPath, err)
		return 1
	}
	ctx := context.Background()
	st, err := store.Open(ctx, daemon.DBPath(cfg))
	if err != nil {
		fmt.Fprintf(stderr, "gateway user: %v\n", err)
		return 1
	}
	defer st.Close()
	for _, m := range []store.Migrator{audit.Migrations, users.Migrations} {
		if err := st.Migrate(ctx, m); err != nil {
			fmt.Fprintf(stderr, "gateway user: %v\n", err)
			return 1
		}
	}
	dir := users.New(st.DB(), users.Options{}, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	by := users.Actor{Name: "cli"}
	switch sub {
	case "add":
		var u users.User
		if u, err = dir.Add(ctx, by, users.User{Name: name, Role: *role, Display: *display}, password); err == nil {
			fmt.Fprintf(stdout, "user %s added with role %s\n", u.Name, u.Role)
		}
	case "passwd":
		if err = dir.SetPassword(ctx, by, name, password); err == nil {
			fmt.Fprintf(stdout, "password of %s changed; their sessions are ended\n", users.NormalizeName(name))
		}
	case "remove":
		if err = dir.Remove(ctx, by, name); err == nil {
			fmt.Fprintf(stdout, "user %s removed; their sessions and tokens are ended\n", users.NormalizeName(name))
		}
	case "list":
		err = listUsers(ctx, dir, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "gateway user %s: %s\n", sub, strings.TrimPrefix(err.Error(), "users: "))
		return 1
	}
	return 0
}

func listUsers(ctx context.Context, dir *users.Directory, stdout io.Writer) error {
	us, err := dir.List(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tDISPLAY\tSTATE\tCREATED\tPASSWORD SET")
	for _, u := range us {
		state := "enabled"
		if u.Disabled {
			state = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Name, u.Role, u.Display, state,
			time.UnixMilli(u.CreatedMS).Format(time.DateTime), time.UnixMilli(u.PasswordMS).Format(time.DateTime))
	}
	if len(us) == 0 {
		fmt.Fprintln(tw, "(no users: add one with gateway user add NAME -role admin)")
	}
	return tw.Flush()
}

// readPassword reads the password from the first line of stdin, or asks for it twice on the
// terminal without echo.
func readPassword(stdin io.Reader, stderr io.Writer, fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	f, ok := stdin.(*os.File)
	if !ok || !isTerminal(f) {
		return "", errors.New("standard input is not a terminal: pass the password with -password-stdin")
	}
	fmt.Fprint(stderr, "New password: ")
	p1, err := readNoEcho(f)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", err
	}
	fmt.Fprint(stderr, "Again: ")
	p2, err := readNoEcho(f)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", err
	}
	if p1 != p2 {
		return "", errors.New("the two passwords differ")
	}
	return p1, nil
}
