package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/pipeline"
	"github.com/reprove/reprove/recipes"
	"github.com/reprove/reprove/schemas"
)

func sampleRebuild() *pipeline.RebuildResult {
	v := verdict.Different
	i := verdict.Identical
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	return &pipeline.RebuildResult{
		SchemaVersion: pipeline.RebuildSchemaVersion,
		Recipe:        recipes.Ref{Name: "hello", Version: "1.0.0", Digest: digest.FromString("recipe")},
		Verdict:       pipeline.NotReproduced,
		Outputs: []pipeline.OutputResult{
			{Path: "bin/hello-linux-amd64", Rebuilt: digest.FromString("a"), Size: 10, Verdict: &v, Differences: 12, Causes: 3,
				Shipped: &pipeline.ShippedRef{Location: "https://example.com/hello", Digest: digest.FromString("b")},
				Report:  "/tmp/out/compare/bin/hello-linux-amd64.json"},
			{Path: "bin/hello-linux-arm64", Rebuilt: digest.FromString("c"), Size: 10, Verdict: &i, Normalizers: nil,
				Shipped: &pipeline.ShippedRef{Location: "https://example.com/hello-arm", Digest: digest.FromString("c")}},
		},
		Dir: "/tmp/out",
		Rebuild: &attest.Rebuild{
			Source: attest.Source{URI: "git+https://example.com/hello.git", GitCommit: strings.Repeat("ab", 20)}, StartedOn: start, FinishedOn: start.Add(8 * time.Second),
			BaseImage: &attest.Dependency{Name: "reprove.local/base", Digest: digest.FromString("image")},
		},
		Build: pipeline.BuildFacts{Image: "debian bookworm + go1.26.8"},
	}
}

// On a terminal the table fits 100 columns with short digests; elsewhere
// the digests are whole and nothing is coloured.
func TestRebuildTableWidth(t *testing.T) {
	rep := sampleRebuild()
	var term, pipe bytes.Buffer
	printRebuild(&term, style{terminal: true}, rep)
	printRebuild(&pipe, style{}, rep)
	for _, l := range strings.Split(term.String(), "\n") {
		if strings.HasPrefix(l, "  ") && len(l) > 100 {
			t.Errorf("table line is %d columns on a terminal:\n%s", len(l), l)
		}
	}
	if !strings.Contains(pipe.String(), digest.FromString("a").String()) {
		t.Errorf("piped output lost the full digest:\n%s", pipe.String())
	}
	if strings.Contains(term.String(), digest.FromString("a").String()) || !strings.Contains(term.String(), "sha256:"+digest.FromString("a").Encoded()[:12]) {
		t.Errorf("terminal output does not shorten digests:\n%s", term.String())
	}
	if strings.Contains(pipe.String(), "\x1b[") || strings.Contains(term.String(), "\x1b[") {
		t.Error("colour without colour on")
	}
}

func TestColour(t *testing.T) {
	env := func(vars map[string]string, tty bool) *Env {
		return &Env{StdoutIsTerminal: tty, Getenv: func(k string) string { return vars[k] }}
	}
	tests := []struct {
		name   string
		env    *Env
		colour bool
	}{
		{"terminal", env(nil, true), true},
		{"pipe", env(nil, false), false},
		{"NO_COLOR", env(map[string]string{"NO_COLOR": "1"}, true), false},
		{"TERM=dumb", env(map[string]string{"TERM": "dumb"}, true), false},
	}
	for _, tc := range tests {
		var b bytes.Buffer
		printRebuild(&b, stdoutStyle(tc.env), sampleRebuild())
		got := strings.Contains(b.String(), sgrRed+"not reproduced"+sgrReset)
		if got != tc.colour {
			t.Errorf("%s: coloured %v, want %v:\n%q", tc.name, got, tc.colour, b.String())
		}
	}
}

func TestVersionJSON(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"version", "--json"}, Env{Stdout: &out, Stderr: &errb}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if err := schemas.Validate("version", out.Bytes()); err != nil {
		t.Error(err)
	}
}

func TestVerdictLineColour(t *testing.T) {
	on, off := style{terminal: true, colour: true}, style{}
	if got := on.verdictLine("not verified: x\nreasons:\n"); got != sgrRed+"not verified:"+sgrReset+" x\nreasons:\n" {
		t.Errorf("not verified: %q", got)
	}
	if got := on.verdictLine("verified: x\n"); got != sgrGreen+"verified:"+sgrReset+" x\n" {
		t.Errorf("verified: %q", got)
	}
	if got := off.verdictLine("verified: x\n"); got != "verified: x\n" {
		t.Errorf("colour off: %q", got)
	}
}
