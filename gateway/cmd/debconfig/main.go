// Command debconfig writes the configuration file a Debian package installs under /etc,
// derived from the repository's example configuration: debconfig gateway|cloud EXAMPLE OUT.
// `make package` runs it; see gateway/internal/packaging.
package main

import (
	"fmt"
	"os"

	"github.com/community-edge/edge/gateway/internal/packaging"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "debconfig:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: debconfig gateway|cloud EXAMPLE OUT")
	}
	var d packaging.Derivation
	switch args[0] {
	case "gateway":
		d = packaging.Gateway()
	case "cloud":
		d = packaging.Cloud()
	default:
		return fmt.Errorf("unknown package %q (gateway or cloud)", args[0])
	}
	example, err := os.ReadFile(args[1])
	if err != nil {
		return err
	}
	out, err := d.Derive(example)
	if err != nil {
		return fmt.Errorf("%s: %w", args[1], err)
	}
	return os.WriteFile(args[2], out, 0o644)
}
