package cli

import (
	"os"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/reprove/reprove/schemas"
)

// Script commands for the centre's scripts.
func init() {
	// waitserver FILE VAR: wait until reprove serve --addr-file FILE has
	// written the server's URL, and set VAR to it.
	scriptCmds["waitserver"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 2 {
			ts.Fatalf("usage: waitserver FILE VAR")
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			b, err := os.ReadFile(ts.MkAbs(args[0]))
			if err == nil && strings.HasSuffix(string(b), "\n") {
				ts.Setenv(args[1], strings.TrimSpace(string(b)))
				return
			}
			if time.Now().After(deadline) {
				ts.Fatalf("no server wrote %s within a minute", args[0])
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// schema NAME FILE: FILE must be valid under schemas/NAME.schema.json.
	scriptCmds["schema"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 2 {
			ts.Fatalf("usage: schema NAME FILE")
		}
		b, err := os.ReadFile(ts.MkAbs(args[1]))
		ts.Check(err)
		ts.Check(schemas.Validate(args[0], b))
	}
}
