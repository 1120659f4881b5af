package cli

import (
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/reprove/reprove/schemas"
)

func init() {
	// jsonschema NAME FILE: FILE (one JSON document, for example a copy of
	// a command's stdout) is valid against schemas/NAME.schema.json.
	scriptCmds["jsonschema"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: jsonschema NAME FILE")
		}
		err := schemas.Validate(args[0], []byte(ts.ReadFile(args[1])))
		switch {
		case neg && err == nil:
			ts.Fatalf("%s is valid against %s", args[1], args[0])
		case !neg && err != nil:
			ts.Fatalf("%v", err)
		}
	}
}
