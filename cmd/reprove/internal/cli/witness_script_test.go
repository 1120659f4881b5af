package cli

import (
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/reprove/reprove/centre/witness/witnesstest"
)

// scriptT lets witnesstest run under a script command.
type scriptT struct{ ts *testscript.TestScript }

func (scriptT) Helper()                             {}
func (s scriptT) Fatalf(format string, args ...any) { s.ts.Fatalf(format, args...) }
func (s scriptT) Cleanup(f func())                  { s.ts.Defer(f) }

func init() {
	var mu sync.Mutex
	witnesses := map[*testscript.TestScript]map[string]*witnesstest.Litewitness{}
	// litewitness NAME VAR: start a real litewitness (its own ssh-agent,
	// state and port) for the rest of the script; set VAR to it as serve
	// --witness takes it ("VKEY URL"), VAR_KEY to its verifier key and
	// VAR_DB to its database (which witnessctl edits).
	scriptCmds["litewitness"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 2 {
			ts.Fatalf("usage: litewitness NAME VAR")
		}
		lw := witnesstest.Start(scriptT{ts}, args[0])
		mu.Lock()
		if witnesses[ts] == nil {
			witnesses[ts] = map[string]*witnesstest.Litewitness{}
			ts.Defer(func() {
				mu.Lock()
				delete(witnesses, ts)
				mu.Unlock()
			})
		}
		witnesses[ts][args[0]] = lw
		mu.Unlock()
		ts.Setenv(args[1], lw.Spec())
		ts.Setenv(args[1]+"_KEY", lw.Key)
		ts.Setenv(args[1]+"_DB", lw.DB)
	}
	// witness-add-log NAME LOGKEYFILE: the witness's operator tells it of
	// a log by the log's verifier key (witnessctl add-log and add-key).
	scriptCmds["witness-add-log"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 2 {
			ts.Fatalf("usage: witness-add-log NAME LOGKEYFILE")
		}
		mu.Lock()
		lw := witnesses[ts][args[0]]
		mu.Unlock()
		if lw == nil {
			ts.Fatalf("no litewitness %s", args[0])
		}
		lw.AddLog(strings.TrimSpace(ts.ReadFile(args[1])))
	}
}
