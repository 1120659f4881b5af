package builder

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
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

// KeepLog moves the build log at logPath (of a failed build, whose output
// directory is not made) into the cache's logs/ directory and returns its
// new path. The name carries the recipe, the time to the nanosecond and a
// random suffix, and the move never replaces a file: two builds failing at
// once keep two logs.
func KeepLog(cacheDir, recipe, logPath string, now time.Time) (string, error) {
	dir := filepath.Join(cacheDir, "logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	recipe = strings.Map(func(c rune) rune {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_', c == '+':
			return c
		}
		return '_'
	}, recipe)
	stamp := now.UTC().Format("20060102T150405.000000000Z")
	for range 10 {
		var rnd [4]byte
		rand.Read(rnd[:])
		dest := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.log", recipe, stamp, hex.EncodeToString(rnd[:])))
		err := os.Link(logPath, dest)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("keep build log: %w", err)
		}
		return dest, os.Remove(logPath)
	}
	return "", errors.New("keep build log: no free name")
}
