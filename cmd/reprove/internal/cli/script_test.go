package cli

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/reprove/reprove/builder/buildertest"
)

// TestMain lets testscript run reprove in-process as the "reprove" command,
// with the signal handling of cmd/reprove (scripts stop servers with kill).
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"reprove": func() {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			code := Main(ctx, os.Args[1:], OSEnv())
			stop()
			os.Exit(code)
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
			return nil
		},
	})
}
