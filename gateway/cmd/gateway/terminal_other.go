//go:build !linux

package main

import (
	"errors"
	"os"
)

// The gateway runs on Linux; elsewhere the password comes with -password-stdin.
func isTerminal(*os.File) bool { return false }

func readNoEcho(*os.File) (string, error) {
	return "", errors.New("terminal: not supported here; use -password-stdin")
}
