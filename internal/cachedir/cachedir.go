// Package cachedir locates reprove's cache: the private containerd's root,
// base images, fetched toolchains, sources and module caches.
package cachedir

import (
	"fmt"
	"os"
	"path/filepath"
)

// EnvVar overrides the cache location.
const EnvVar = "REPROVE_CACHE"

// Dir returns reprove's cache directory: $REPROVE_CACHE if set, else
// reprove/ under the user's cache directory ($XDG_CACHE_HOME or ~/.cache).
// getenv reads the caller's environment (os.Getenv in production).
func Dir(getenv func(string) string) (string, error) {
	if d := getenv(EnvVar); d != "" {
		return filepath.Abs(d)
	}
	if d := getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "reprove"), nil
	}
	home := getenv("HOME")
	if home == "" {
		var err error
		home, err = os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("locate cache directory: %w (set %s)", err, EnvVar)
		}
	}
	return filepath.Join(home, ".cache", "reprove"), nil
}
