// Package runlock marks a data directory as in use by a running gateway: the daemon holds an
// advisory lock (flock) on a file in it for as long as it runs, and commands that must not
// work under a running gateway (restore) take the same lock or are refused. The kernel drops
// the lock when the process ends, however it ends, so a crash leaves no stale lock behind.
package runlock

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FileName is the lock file in the data directory.
const FileName = "gateway.lock"

// HeldError says another process holds the lock.
type HeldError struct {
	Path string
	PID  int // the holder as it wrote itself into the file; 0 if unknown
}

func (e *HeldError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = "process " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("runlock: %s is held by %s: a gateway is running on this data directory", e.Path, who)
}

// ErrHeld matches every HeldError with errors.Is.
var ErrHeld = errors.New("runlock: held")

// Is makes errors.Is(err, ErrHeld) true for a HeldError.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// Lock is a held lock; Release gives it up.
type Lock struct {
	f *os.File
}

// Acquire takes the lock of dir (created if needed) without waiting; a lock another process
// holds is a *HeldError.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("runlock: %w", err)
	}
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if errors.Is(err, fs.ErrPermission) {
		// Left by root (a restore): flock needs no write access, only the pid goes unwritten.
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, fmt.Errorf("runlock: %w", err)
	}
	held, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("runlock: %s: %w", path, err)
	}
	if held {
		raw, _ := os.ReadFile(path)
		pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
		f.Close()
		return nil, &HeldError{Path: path, PID: pid}
	}
	// The pid is for people and error messages only; the lock itself is the flock.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Release gives the lock up. It is safe on a nil Lock and to call twice.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the descriptor drops the flock
	l.f = nil
	return err
}
