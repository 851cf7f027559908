//go:build !unix

package runlock

import "os"

// tryLock is a no-op where flock does not exist: the gateway ships for Linux only.
func tryLock(*os.File) (bool, error) { return false, nil }
