package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/reprove/reprove/internal/treehash"
)

// Script commands for the end-to-end pipeline scripts, which must write
// digests they compute into recipes and policies.
func init() {
	// treehash DIR VAR: set VAR to the tree digest of DIR.
	scriptCmds["treehash"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 2 {
			ts.Fatalf("usage: treehash DIR VAR")
		}
		d, err := treehash.Dir(context.Background(), ts.MkAbs(args[0]))
		ts.Check(err)
		ts.Setenv(args[1], d.String())
	}
	// sha256 FILE VAR: set VAR to sha256:<hex> of FILE.
	scriptCmds["sha256"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 2 {
			ts.Fatalf("usage: sha256 FILE VAR")
		}
		b, err := os.ReadFile(ts.MkAbs(args[0]))
		ts.Check(err)
		ts.Setenv(args[1], digest.FromBytes(b).String())
	}
	// capture VAR PROG ARGS...: run PROG and set VAR to its trimmed stdout.
	scriptCmds["capture"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) < 2 {
			ts.Fatalf("usage: capture VAR PROG [ARGS...]")
		}
		cmd := exec.Command(args[1], args[2:]...)
		cmd.Dir = ts.MkAbs(".")
		var env []string
		for _, k := range []string{"PATH", "HOME", "TMPDIR", "GOFLAGS", "GOTOOLCHAIN", "GOPROXY", "GOCACHE", "GOMODCACHE", "GOENV", "CGO_ENABLED"} {
			if v := ts.Getenv(k); v != "" {
				env = append(env, k+"="+v)
			}
		}
		cmd.Env = env
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil {
			ts.Fatalf("capture %s: %v\n%s", strings.Join(args[1:], " "), err, stderr.String())
		}
		ts.Setenv(args[0], strings.TrimSpace(out.String()))
	}
	// expand IN OUT: write IN to OUT with $VAR and ${VAR} replaced from the
	// script's environment.
	scriptCmds["expand"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 2 {
			ts.Fatalf("usage: expand IN OUT")
		}
		b, err := os.ReadFile(ts.MkAbs(args[0]))
		ts.Check(err)
		ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(os.Expand(string(b), ts.Getenv)), 0o644))
	}
}
