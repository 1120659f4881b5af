package cli

import (
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/reprove/reprove/schemas"
)

// `schema NAME FILE` checks FILE against schemas/NAME.schema.json, so
// scripts check every JSON document reprove writes against its published
// schema; with `!` the file must not match.
func init() {
	scriptCmds["schema"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: schema NAME FILE")
		}
		err := schemas.Validate(args[0], []byte(ts.ReadFile(args[1])))
		switch {
		case err != nil && !neg:
			ts.Fatalf("%s does not match schema %s: %v", args[1], args[0], err)
		case err == nil && neg:
			ts.Fatalf("%s matches schema %s", args[1], args[0])
		}
	}
}
