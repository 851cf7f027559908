package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/doctor"
)

// cmdDoctor checks the installation and prints a table of pass / warn / fail with the fix for
// each; the exit status is 1 when any check fails.
func cmdDoctor(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "/etc/community-gateway/gateway.yaml", "configuration file")
	lang := fs.String("lang", "zh", "language of the report: zh or en")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if !doctor.ValidLang(*lang) {
		fmt.Fprintf(stderr, "doctor: -lang must be zh or en, got %q\n", *lang)
		return 2
	}
	cfg, err := config.Load(*path, os.Getenv)
	rep := doctor.New(doctor.Options{ConfigPath: *path, Config: cfg, ConfigErr: err, Lang: *lang,
		Log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}).Run(context.Background())
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		f, ok := stdout.(*os.File)
		doctor.WriteTable(stdout, rep, ok && isTerminal(f))
	}
	if !rep.OK {
		return 1
	}
	return 0
}
