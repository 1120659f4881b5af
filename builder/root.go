package builder

import (
	"errors"
	"os"
)

// ErrNotRoot is returned when reprove is asked to build without root
// privileges.
var ErrNotRoot = errors.New("building needs root: reprove runs each build in a containerd container with runc, and mounts the build's size-limited disk and source overlay; run it as root (for example with sudo)")

// NeedRoot returns ErrNotRoot unless the process runs as root.
func NeedRoot() error {
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	return nil
}
