// Package benchwork gives the benchmark programs under ci/ a temporary
// directory that is removed on every way out. os.Exit and log.Fatal skip
// deferred calls, and a benchmark's directory holds hundreds of MiB (a
// log, a Go cache, a rootfs), so a run that misses its target or fails
// would otherwise leave it behind in /tmp.
package benchwork

import (
	"log"
	"os"
	"sync"
)

var (
	mu   sync.Mutex
	dirs []string
)

// TempDir makes a temporary directory named after prefix, removed by
// Cleanup, Fatal, Fatalf and Exit. It exits the program if it cannot.
func TempDir(prefix string) string {
	d, err := os.MkdirTemp("", prefix)
	if err != nil {
		log.Fatal(err)
	}
	mu.Lock()
	dirs = append(dirs, d)
	mu.Unlock()
	return d
}

// Cleanup removes the directories TempDir made.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	for _, d := range dirs {
		os.RemoveAll(d)
	}
	dirs = nil
}

// Fatal is log.Fatal after Cleanup.
func Fatal(v ...any) {
	Cleanup()
	log.Fatal(v...)
}

// Fatalf is log.Fatalf after Cleanup.
func Fatalf(format string, v ...any) {
	Cleanup()
	log.Fatalf(format, v...)
}

// Exit is os.Exit after Cleanup.
func Exit(code int) {
	Cleanup()
	os.Exit(code)
}
