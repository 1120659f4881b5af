package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/reprove/reprove/builder/buildertest"
)

// TestMain lets testscript run reprove in-process as the "reprove" command,
// with the signal handling of cmd/reprove (scripts stop servers with kill).
// Both are programs on the scripts' PATH, so the README's examples, run in
// bash, reach them too.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"reprove": func() {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			code := Main(ctx, os.Args[1:], OSEnv())
			stop()
			os.Exit(code)
		},
		// readme-sh FILE runs a README block (written by the script
		// command readme) in bash in a process group of its own, and
		// passes SIGINT and SIGTERM on to the whole group: a block whose
		// last command is a server (reprove serve) stops with it when the
		// script kills readme-sh, as a user's Ctrl-C stops it.
		"readme-sh": func() {
			os.Exit(runProcessGroup("bash", os.Args[1:]...))
		},
		// slsa-verifier is not served by the Go module proxy, so the
		// tests cannot build it; this stand-in does what its verify-vsa
		// (v2.7.1) checks, with the libraries it uses (slsaVerifyVSA), and
		// fails as it does.
		"slsa-verifier": func() {
			if err := slsaVerifyVSA(".", os.Args[1:]); err != nil {
				fmt.Fprintf(os.Stderr, "FAILED: SLSA verification failed: %v\n", err)
				os.Exit(1)
			}
			fmt.Println("PASSED: SLSA verification passed")
		},
	})
}

// scriptCmds are custom script commands; test files add theirs in init.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){}

// TestScripts runs the CLI end to end from testdata/script/*.txtar. Scripts
// that need containerd or the network start with `[short] skip`.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:  "testdata/script",
		Cmds: scriptCmds,
		Setup: func(e *testscript.Env) error {
			// Nothing from the host's Go configuration may reach reprove's
			// builds; scripts see a clean HOME and cache.
			e.Setenv("HOME", e.WorkDir+"/home")
			e.Setenv("XDG_CACHE_HOME", e.WorkDir+"/cache")
			// Scripts that build share the tests' cache (base images,
			// toolchains, modules) and so their private containerd.
			e.Setenv("REPROVE_CACHE", buildertest.CacheDir(t))
			// The repository, for scripts that use its catalogue.
			root, err := filepath.Abs("../../../..")
			if err != nil {
				return err
			}
			e.Setenv("REPO", root)
			// The Go caches of the machine running the tests, for scripts
			// that build reprove itself (the README's `make demo`).
			caches, err := hostGoCaches()
			if err != nil {
				return err
			}
			e.Setenv("HOST_GOCACHE", caches[0])
			e.Setenv("HOST_GOMODCACHE", caches[1])
			return nil
		},
	})
}

// hostGoCaches is `go env GOCACHE GOMODCACHE` of the machine running the
// tests, asked once.
var hostGoCaches = sync.OnceValues(func() ([]string, error) {
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE").Output()
	if err != nil {
		return nil, fmt.Errorf("go env: %v", err)
	}
	caches := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(caches) != 2 {
		return nil, fmt.Errorf("go env GOCACHE GOMODCACHE: %q", out)
	}
	return caches, nil
})

// runProcessGroup runs name in a new process group, sends the signals this
// process gets to the whole group, and returns the command's exit status.
func runProcessGroup(name string, args ...string) int {
	cmd := exec.Command(name, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() {
		for s := range sigs {
			syscall.Kill(-cmd.Process.Pid, s.(syscall.Signal))
		}
	}()
	err := cmd.Wait()
	if exit, ok := err.(*exec.ExitError); ok {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return exit.ExitCode()
	} else if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
