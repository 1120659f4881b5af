package pipeline

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/recipes"
)

func testRecord() *attest.Rebuild {
	start := time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)
	return &attest.Rebuild{
		SchemaVersion:  attest.RebuildSchemaVersion,
		Recipe:         attest.RecipeRef{Name: "hello", Version: "1.0.0", Digest: digest.FromString("recipe")},
		Source:         attest.Source{URI: "file:///src/hello", Tree: digest.FromString("tree")},
		BuilderID:      "https://rebuilder.example/reprove",
		ReproveVersion: "v0.0.0-test",
		Commands:       [][]string{{"go", "build", "-o", "/out/hello", "."}},
		StartedOn:      start,
		FinishedOn:     start.Add(3 * time.Second),
		Outputs:        []attest.Output{{Name: "hello", Digest: digest.FromString("hello")}},
	}
}

// TestParseRebuildRecord: attest rebuild --result takes rebuild.json or
// result.json (the README's own guess, which failed with unknown field
// "verdict"), and reads the same record from both.
func TestParseRebuildRecord(t *testing.T) {
	rec := testRecord()
	recJSON, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	id := verdict.Identical
	result := &RebuildResult{
		SchemaVersion: RebuildSchemaVersion,
		Recipe:        recipes.Ref(rec.Recipe),
		Verdict:       Reproduced,
		Outputs:       []OutputResult{{Path: "hello", Rebuilt: rec.Outputs[0].Digest, Verdict: &id}},
		Dir:           "/work/reprove-out/hello-1.0.0",
		Rebuild:       rec,
	}
	resJSON, err := json.Marshal(result)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"rebuild.json": recJSON, "result.json": resJSON} {
		got, err := ParseRebuildRecord(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(rec, got); diff != "" {
			t.Errorf("%s: record (-want +got):\n%s", name, diff)
		}
	}

	bad := map[string]struct {
		doc  string
		want string
	}{
		"failed build":                {`{"schemaVersion": 2, "verdict": "failed", "rebuild": null}`, "the result records no build"},
		"other result version":        {`{"schemaVersion": 1, "verdict": "reproduced", "rebuild": {}}`, "schemaVersion 1"},
		"record with a typo":          {strings.Replace(string(resJSON), `"builderId"`, `"builderID"`, 1), `result.json: rebuild: `},
		"record with a stray verdict": {strings.Replace(string(recJSON), `{`, `{"verdict": "x",`, 1), `unknown field "verdict"`},
		"not JSON":                    {`{"schemaVersion": 2,`, "parse rebuild result"},
	}
	for name, tt := range bad {
		_, err := ParseRebuildRecord([]byte(tt.doc))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to say %q", name, err, tt.want)
		}
	}
}
