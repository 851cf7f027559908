//go:build unix

package doctor

import (
	"syscall"

	"golang.org/x/sys/unix"
)

var errAddrInUse = syscall.EADDRINUSE

// diskSpace returns the bytes free to an unprivileged user and the size of the file system
// holding dir.
func diskSpace(dir string) (free, total uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), uint64(st.Blocks) * uint64(st.Bsize), nil
}
