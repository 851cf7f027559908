//go:build !unix

package doctor

import (
	"errors"
	"syscall"
)

var errAddrInUse = syscall.Errno(0x2740) // WSAEADDRINUSE

// diskSpace is not implemented off Unix.
func diskSpace(string) (free, total uint64, err error) {
	return 0, 0, errors.New("doctor: free space unknown on this system")
}
