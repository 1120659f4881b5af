package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	"github.com/reprove/reprove/compare/format"
	"github.com/reprove/reprove/compare/report"
	"github.com/reprove/reprove/compare/verdict"
)

func sample() *report.Report {
	return &report.Report{
		SchemaVersion: report.SchemaVersion, Verdict: verdict.Different, Allowed: []string{},
		Rebuilt: report.Artifact{Path: "rebuilt/a", Digest: digest.FromString("a"), Size: 1, Format: format.Text},
		Shipped: report.Artifact{Path: "shipped/a", Digest: digest.FromString("b"), Size: 1, Format: format.Text},
		Counts:  report.Counts{Differences: 1, Causes: 1},
		Differences: &report.Node{Name: "a", Kind: verdict.KindFile, Children: []*report.Node{
			{Name: "main.main", Kind: verdict.KindFunction, Change: report.ChangeChanged, Lines: []string{"- a", "+ b"}},
		}},
	}
}

func TestReadRoundTrip(t *testing.T) {
	var b bytes.Buffer
	if err := sample().WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	got, err := report.Read(&b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sample(), got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestReadRefuses(t *testing.T) {
	var b bytes.Buffer
	if err := sample().WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	good := b.String()
	for name, tc := range map[string]struct{ edit, want string }{
		"schema version": {`"schemaVersion": 3`, "schema version 3, want 2"},
		"rebuilt digest": {`"digest": "sha256:00"`, "rebuilt digest"},
		"verdict":        {`"verdict": "same"`, "unknown verdict"},
		"change":         {`"change": "tweaked"`, "unknown change"},
	} {
		t.Run(name, func(t *testing.T) {
			key := tc.edit[:strings.Index(tc.edit, ":")]
			i := strings.Index(good, key)
			j := i + strings.Index(good[i:], ",")
			if strings.Contains(good[i:j], "\n") {
				j = i + strings.Index(good[i:], "\n")
			}
			bad := good[:i] + tc.edit + good[j:]
			if _, err := report.Read(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Read = %v, want an error containing %q\n%s", err, tc.want, bad)
			}
		})
	}
}

// The streamed JSON is byte for byte what encoding/json writes.
func TestWriteJSONAsEncodingJSON(t *testing.T) {
	deep := sample()
	deep.Notes = []string{"a note"}
	deep.Differences.Children[0].Children = []*report.Node{{Name: "x", Kind: verdict.KindBytes, Lines: []string{"<&>"}}}
	deep.Differences.ID = "n1"
	for name, r := range map[string]*report.Report{"sample": sample(), "deep with notes": deep, "identical": {SchemaVersion: 2, Verdict: verdict.Identical, Allowed: []string{}}} {
		var got, want bytes.Buffer
		if err := r.WriteJSON(&got); err != nil {
			t.Fatal(err)
		}
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want.String(), got.String()); diff != "" {
			t.Errorf("%s (-encoding/json +WriteJSON):\n%s", name, diff)
		}
	}
}
