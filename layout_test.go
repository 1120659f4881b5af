// The module's floors, checked: which of reprove's packages may import
// which (README, "Layout"). The rules are what keeps the customer's
// verifier small and each package to one job; a change that breaks one is
// a change of design, to be made here on purpose.
package reprove_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/reprove/reprove/"

// rule: packages under from (a path below the module, "" for every
// package), apart from those under except, must not import, directly or
// not (only directly when direct is set), any package under one of
// forbidden, except those under allowed.
type rule struct {
	from      string
	except    []string
	forbidden []string
	allowed   []string
	direct    bool
	why       string
}

// model is the compare report model and the vocabulary it stands on:
// what a reader of reports may import without the compare engine.
var model = []string{"compare/verdict", "compare/report", "compare/format"}

var rules = []rule{
	{from: "internal/", forbidden: []string{""}, allowed: []string{"internal/"},
		why: "internal/ is the ground floor: helpers every domain package may use, standing on nothing of reprove's"},
	{from: "attest", forbidden: []string{"builder", "compare", "centre", "pipeline", "recipes", "cmd"}, allowed: []string{"compare/verdict"},
		why: "attest (what the customer's verifier runs) needs neither the builder nor the compare engine nor the centre nor the recipe format"},
	{from: "attest", except: []string{"attest/policy"}, forbidden: []string{"internal/strictyaml"}, direct: true,
		why: "attest reads JSON; only the trust policy is YAML (attest/depcheck_test.go pins the verifier's modules)"},
	{from: "compare/verdict", forbidden: []string{""},
		why: "verdict words, kinds of difference and the normalizer registry are the ground floor"},
	{from: "compare/format", forbidden: []string{""},
		why: "the formats compare recognises are vocabulary of the report model"},
	{from: "compare/report", forbidden: []string{""}, allowed: model,
		why: "the report model is vocabulary: who reads a report does not carry the engine's parsers"},
	{from: "compare/render", forbidden: []string{"compare", "attest", "builder", "centre", "pipeline", "recipes", "cmd"}, allowed: model,
		why: "the renderings read the report model only; they never run the engine"},
	{from: "compare", forbidden: []string{"attest", "builder", "centre", "pipeline", "recipes", "cmd"},
		why: "compare explains two files; it knows nothing of how they were made or attested"},
	{from: "builder", forbidden: []string{"attest", "centre", "pipeline", "compare", "cmd"}, allowed: []string{"compare/verdict"},
		why: "builder builds; comparing and attesting are pipeline's to join"},
	{from: "recipes", forbidden: []string{"attest", "builder", "centre", "pipeline", "compare", "cmd"}, allowed: []string{"compare/verdict"},
		why: "recipes is vocabulary: the format and what infers it"},
	{from: "centre", forbidden: []string{"builder", "pipeline", "cmd"},
		why: "the centre logs and serves attestations; it never builds"},
	{from: "fleet/queue", forbidden: []string{"builder", "pipeline", "centre", "compare", "attest", "cmd", "fleet"}, allowed: []string{"compare/verdict"},
		why: "the queue is River and the fleet's records: the centre's dashboard reads it, so it must not bring the builder in"},
	{from: "fleet/watch", forbidden: []string{"builder", "pipeline", "centre", "compare", "attest", "cmd", "fleet/worker"}, allowed: []string{"compare/verdict"},
		why: "a watcher reads documents and enqueues; the workers build"},
	{from: "fleet/worker", forbidden: []string{"cmd", "centre"}, allowed: []string{"centre/client", "centre/api", "centre/item"},
		why: "a worker publishes to a centre as any client does; it is not part of one"},
	{from: "centre", except: []string{"centre/centretest"}, forbidden: []string{"compare"}, allowed: append([]string{"compare/render"}, model...),
		why: "the centre renders reports from the model; it never runs the compare engine (its test kit, which makes reports to publish, may)"},
	{from: "debian", forbidden: []string{"attest", "builder", "centre", "pipeline", "compare", "cmd"}, allowed: []string{"compare/verdict"},
		why: "debian is an archive client (signed indexes, control files, resolving, locks); it builds nothing"},
	{from: "pipeline", forbidden: []string{"cmd"},
		why: "no library imports the CLI"},
	{from: "schemas", forbidden: []string{""},
		why: "schemas are documents"},
}

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Module     *struct{ Path string }
}

// TestLayout checks every rule against the packages `go list` reports
// (tests' imports left aside: a test may stand on anything).
func TestLayout(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	cmd := exec.Command("go", "list", "-deps=false", "-json", "./...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rel, ok := strings.CutPrefix(p.ImportPath, module)
		if !ok {
			continue
		}
		seen++
		for _, r := range rules {
			if !under(rel, r.from) || anyUnder(rel, r.except) {
				continue
			}
			deps := p.Deps
			if r.direct {
				deps = p.Imports
			}
			for _, d := range deps {
				drel, ok := strings.CutPrefix(d, module)
				if !ok || under(drel, r.from) {
					continue
				}
				if anyUnder(drel, r.forbidden) && !anyUnder(drel, r.allowed) {
					t.Errorf("%s imports %s: %s", rel, drel, r.why)
				}
			}
		}
	}
	if seen < 20 {
		t.Fatalf("go list named only %d of reprove's packages", seen)
	}
}

// under reports whether package path rel is dir or below it ("" is the
// whole module; "internal/" everything below internal).
func under(rel, dir string) bool {
	switch {
	case dir == "":
		return true
	case strings.HasSuffix(dir, "/"):
		return strings.HasPrefix(rel, dir)
	}
	return rel == dir || strings.HasPrefix(rel, dir+"/")
}

func anyUnder(rel string, dirs []string) bool {
	for _, d := range dirs {
		if under(rel, d) {
			return true
		}
	}
	return false
}
