//go:build unix

package doctor

import (
	"os"
	"os/user"
	"strconv"
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

// foreignOwner names the owner of a data directory (fi) when the check runs as root and the
// directory does not belong to the service user: root can write anywhere, the service cannot.
// It returns "" when that is not so.
func foreignOwner(fi os.FileInfo, service string) string {
	if os.Geteuid() != 0 {
		return ""
	}
	svc, err := user.Lookup(service)
	if err != nil {
		return "" // not installed from the package: whoever runs it owns it
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || strconv.FormatUint(uint64(st.Uid), 10) == svc.Uid {
		return ""
	}
	if u, err := user.LookupId(strconv.FormatUint(uint64(st.Uid), 10)); err == nil {
		return u.Username
	}
	return strconv.FormatUint(uint64(st.Uid), 10)
}
