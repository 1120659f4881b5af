package cli

import (
	"archive/zip"
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/centre/centretest"
	"github.com/reprove/reprove/centre/client"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/internal/escape"
)

// hostile is what an attacker writes into any string reprove shows: it
// clears the screen, homes the cursor, returns to the line's start, and
// prints a verdict of its own, then reverses what follows and ends with a
// line break and a byte that is not UTF-8.
const hostile = "\x1b[2J\x1b[H\rverified: FAKE by 2 of 2 trusted rebuilders \u202egnp.exe\n\xff"

// hostileShown is how the start of hostile reads once escaped.
const hostileShown = `\x1b[2J\x1b[H\rverified: FAKE`

// runUntrusted runs reprove in dir as a user would see it: once with
// pipes, once with both streams on a terminal (colour on), and checks that
// neither output holds anything a terminal acts on but reprove's own
// colours and line breaks, and that no line of it is the attacker's. It
// returns the piped run's exit code, stdout and stderr.
func runUntrusted(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	cwd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(cwd)
	var code int
	var outs [2][2]string
	for i, term := range []bool{false, true} {
		var stdout, stderr bytes.Buffer
		c := Main(context.Background(), args, Env{
			Stdout: &stdout, Stderr: &stderr,
			Getenv:     func(string) string { return "" },
			Now:        func() time.Time { return goldenClock },
			IsTerminal: term, StdoutIsTerminal: term,
		})
		if i == 0 {
			code = c
		} else if c != code {
			t.Errorf("reprove %s: exit %d on a terminal, %d piped", strings.Join(args, " "), c, code)
		}
		outs[i] = [2]string{stdout.String(), stderr.String()}
		for j, s := range outs[i] {
			stream := []string{"stdout", "stderr"}[j]
			checkShown(t, args, stream, term, s)
		}
	}
	return code, outs[0][0], outs[0][1]
}

// checkShown fails when s holds a control or format character other than
// a line break or tab (on a terminal, reprove's own colours aside), or a
// line that begins with what the attacker wrote.
func checkShown(t *testing.T, args []string, stream string, term bool, s string) {
	t.Helper()
	bare := s
	if term {
		for _, sgr := range []string{sgrGreen, sgrRed, sgrReset} {
			bare = strings.ReplaceAll(bare, sgr, "")
		}
	}
	for i, r := range bare {
		if r != '\n' && (escape.Unsafe(r) || r == '\ufffd' && !strings.HasPrefix(bare[i:], "\ufffd")) {
			t.Errorf("reprove %s (terminal %v): %s holds %U at %d:\n%s", strings.Join(args, " "), term, stream, r, i, s)
			return
		}
	}
	for _, l := range strings.Split(bare, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "verified: FAKE") {
			t.Errorf("reprove %s (terminal %v): %s has the attacker's line %q", strings.Join(args, " "), term, stream, l)
		}
	}
}

// A stranger's attestation (signed by no key the policy trusts) with a
// hostile predicate type, in a file with a hostile name, beside a chain
// that does not verify: verify says "not verified", and the stranger's
// text is shown escaped in its note, never as a verdict of its own.
func TestVerifyShowsUntrustedTextEscaped(t *testing.T) {
	dir := t.TempDir()
	f := newVerifyFixture(t, dir)
	f.rebuilder("a", goldenShipped, verdict.Identical)
	writeFiles(t, dir, map[string]string{
		"hello":       string(goldenShipped),
		"policy.yaml": goldenPolicy(2, []string{"a", "b"}, ""),
	})
	atts := filepath.Join(dir, "atts")
	f.write(atts, true, "a")
	st := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"hello","digest":{"sha256":"` +
		digest.FromBytes(goldenShipped).Encoded() + `"}}],"predicateType":` + jsonString(hostile) + `,"predicate":{}}`
	env, err := envelope.Sign(context.Background(), []byte(st), f.signers["stranger"])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(atts, "x"+hostile[:len(hostile)-1]+".json"), env, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := runUntrusted(t, dir, "verify", "hello", "--policy", "policy.yaml", "-a", "atts")
	if code != ExitNotReproduced || !strings.HasPrefix(stdout, "not verified:") {
		t.Fatalf("exit %d, want %d and not verified:\n%s", code, ExitNotReproduced, stdout)
	}
	if !strings.Contains(stdout, hostileShown) {
		t.Errorf("the stranger's note does not show its type escaped:\n%s", stdout)
	}
}

// Names a trusted rebuilder signed are shown escaped too, when the file
// verifies; and so is what the customer expected, when it does not.
func TestVerifiedSentenceShowsNamesEscaped(t *testing.T) {
	dir := t.TempDir()
	f := newVerifyFixture(t, dir)
	f.program = hostile
	f.rebuilder("a", goldenShipped, verdict.Identical)
	writeFiles(t, dir, map[string]string{
		"hello":       string(goldenShipped),
		"policy.yaml": goldenPolicy(1, []string{"a"}, ""),
	})
	f.write(filepath.Join(dir, "atts"), true, "a")
	code, stdout, _ := runUntrusted(t, dir, "verify", "hello", "--policy", "policy.yaml", "-a", "atts")
	if code != ExitOK || !strings.HasPrefix(stdout, "verified: ") || !strings.Contains(stdout, hostileShown) {
		t.Fatalf("exit %d, want verified with the program's name escaped:\n%s", code, stdout)
	}
	code, stdout, _ = runUntrusted(t, dir, "verify", "hello", "--policy", "policy.yaml", "-a", "atts", "--name", "hello"+hostile)
	if code != ExitNotReproduced || !strings.Contains(stdout, hostileShown) {
		t.Fatalf("exit %d, want not verified with both names escaped:\n%s", code, stdout)
	}
}

// compare shows member names and contents from the archives escaped.
func TestCompareShowsMembersEscaped(t *testing.T) {
	dir := t.TempDir()
	mk := func(name, content string) {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		for _, m := range []struct{ name, body string }{
			{"bin/" + hostile, content},
			{"README", "text " + hostile + "\nline two " + content + "\n"},
		} {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: zip.Store, Modified: goldenClock})
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte(m.body))
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		writeFiles(t, dir, map[string]string{name: b.String()})
	}
	mk("a.zip", "one")
	mk("b.zip", "two")
	code, stdout, _ := runUntrusted(t, dir, "compare", "a.zip", "b.zip")
	if code != ExitNotReproduced {
		t.Fatalf("exit %d:\n%s", code, stdout)
	}
	if !strings.Contains(stdout, hostileShown) {
		t.Errorf("the member's name is not shown escaped:\n%s", stdout)
	}
}

// The monitor lists a logged review whose reviewer's name is hostile,
// escaped: a registered key can log any name.
func TestLogMonitorShowsEntriesEscaped(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a centre")
	}
	ctx := context.Background()
	c := centretest.Start(t, centretest.Options{})
	alice := centretest.Alice
	st, err := attest.ReviewStatement(&attest.ReviewPredicate{
		Reviewer:   attest.Party{ID: "mailto:alice@audits.example", Name: hostile},
		Source:     attest.Source{URI: "https://example.com/x.tar.gz", Archive: digest.FromString("x")},
		Scope:      attest.Scope{All: true},
		Verdict:    attest.Approved,
		ReviewedAt: goldenClock.Add(-time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	env, err := envelope.Sign(ctx, st, alice.Signer)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Publish(ctx, [][]byte{env}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Each run is a first run on its own state, so both list the entry.
	code, stdout, stderr := runUntrusted(t, dir, "log", "monitor", "--server", c.URL, "--state", filepath.Join(dir, "piped"))
	if code != ExitOK {
		t.Fatalf("exit %d:\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, `\x1b[2J`) {
		t.Errorf("the reviewer's name is not shown escaped:\n%s", stdout)
	}
}

// Errors quote what the user gave and what came from outside: a recipe
// full of hostile strings is refused with every problem escaped.
func TestErrorsShowUntrustedTextEscaped(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"r.yaml": "name: " + jsonString(hostile) + "\nversion: " + jsonString(hostile) + "\n" + jsonString(hostile) + ": 1\n",
	})
	code, _, stderr := runUntrusted(t, dir, "recipe", "lint", "r.yaml")
	if code != ExitFailure {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	code, _, stderr = runUntrusted(t, dir, "verify", "no-such-file"+hostile, "--policy", "p"+hostile)
	if code == ExitOK || stderr == "" {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
}

// infer names the file it was given, and what it found in it, escaped.
func TestInferShowsNamesEscaped(t *testing.T) {
	dir := t.TempDir()
	name := "prog" + strings.TrimSuffix(hostile, "\xff")
	writeFiles(t, dir, map[string]string{name: "#!/bin/sh\necho " + hostile + "\n"})
	code, _, stderr := runUntrusted(t, dir, "infer", name)
	if code == ExitOK {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range []byte(s) {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r < 0x20:
			b.WriteString(`\u00` + "0123456789abcdef"[r>>4:r>>4+1] + "0123456789abcdef"[r&15:r&15+1])
		default:
			b.WriteByte(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// TestOutputGoesThroughEscaper: the CLI's files print only through printf,
// printLine and printError (out.go), which escape what they are given; a
// direct fmt.Fprint call would bypass them. The status line draws with
// its own escapes and escapes what it draws.
func TestOutputGoesThroughEscaper(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || name == "out.go" || name == "statusline.go" {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "fmt" && strings.HasPrefix(sel.Sel.Name, "Fprint") {
				t.Errorf("%s: fmt.%s: print through printf or printLine (out.go), which escape untrusted text", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "io" && sel.Sel.Name == "WriteString" {
				t.Errorf("%s: io.WriteString: print through printf or printLine (out.go)", fset.Position(sel.Pos()))
			}
			return true
		})
	}
}
