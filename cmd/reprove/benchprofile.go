//go:build benchprofile

package main

// A CPU profile of one window of a benchmark run, for builds with
// -tags benchprofile only (ci/benchcentre's profiling runs): a release
// binary has no such hook. REPROVE_CPUPROFILE names the file (and
// REPROVE_MEMPROFILE, if set, a heap profile written at the window's end);
// REPROVE_CPUPROFILE_WINDOW is "START:LENGTH" (Go durations, default
// "6s:10s"), counted from the process's start, so that the profile is
// written however the process is later ended.

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"
)

func init() {
	path := os.Getenv("REPROVE_CPUPROFILE")
	if path == "" || len(os.Args) < 2 || os.Args[1] != "serve" || (len(os.Args) > 2 && os.Args[2] == "keys") {
		return
	}
	win := os.Getenv("REPROVE_CPUPROFILE_WINDOW")
	if win == "" {
		win = "6s:10s"
	}
	a, b, _ := strings.Cut(win, ":")
	start, err1 := time.ParseDuration(a)
	length, err2 := time.ParseDuration(b)
	if err1 != nil || err2 != nil {
		fmt.Fprintf(os.Stderr, "REPROVE_CPUPROFILE_WINDOW %q: want START:LENGTH\n", win)
		os.Exit(2)
	}
	go func() {
		time.Sleep(start)
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return
		}
		time.Sleep(length)
		pprof.StopCPUProfile()
		f.Close()
		if mpath := os.Getenv("REPROVE_MEMPROFILE"); mpath != "" {
			if mf, err := os.Create(mpath); err == nil {
				pprof.Lookup("allocs").WriteTo(mf, 0)
				mf.Close()
			}
		}
	}()
}
