//go:build !unix

package doctor

import (
	"errors"
	"os"
	"syscall"
)

var errAddrInUse = syscall.Errno(0x2740) // WSAEADDRINUSE

// diskSpace is not implemented off Unix.
func diskSpace(string) (free, total uint64, err error) {
	return 0, 0, errors.New("doctor: free space unknown on this system")
}

// foreignOwner is not checked off Unix.
func foreignOwner(os.FileInfo, string) string { return "" }
