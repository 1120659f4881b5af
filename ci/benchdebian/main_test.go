package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/reprove/reprove/compare/render"
	"github.com/reprove/reprove/compare/report"
	"github.com/reprove/reprove/compare/verdict"
)

// firstCause finds the first difference that is not an effect, and the
// line of the text report that shows it, past the effects shown before it.
func TestFirstCause(t *testing.T) {
	bytesLeaf := func(summary string) *report.Node {
		return &report.Node{Name: "bytes", Kind: verdict.KindBytes, Summary: summary, Lines: []string{"@0x0 rebuilt: 00", "     shipped: 01"}}
	}
	tree := func(extra int) *report.Node {
		data := &report.Node{Name: "data.tar.xz", Kind: verdict.KindFile}
		for i := 0; i < extra; i++ {
			data.Children = append(data.Children, &report.Node{Name: "./usr/share/doc/f" + string(rune('a'+i)), Kind: verdict.KindFile, Effect: true, Children: []*report.Node{bytesLeaf("1 byte differs")}})
		}
		data.Children = append(data.Children, &report.Node{Name: "./usr/bin/prog", Kind: verdict.KindFile, Children: []*report.Node{
			{Name: ".note.gnu.build-id", Kind: verdict.KindSection, Summary: "the build ID differs", Children: []*report.Node{bytesLeaf("20 bytes differ")}},
		}})
		return &report.Node{Name: "prog_1_amd64.deb", Kind: verdict.KindFile, Children: []*report.Node{
			{Name: "control.tar.xz", Kind: verdict.KindFile, Children: []*report.Node{
				{Name: "./md5sums", Kind: verdict.KindFile, Effect: true, Children: []*report.Node{{Name: "usr/bin/prog", Kind: verdict.KindContent, Effect: true}}},
			}},
			data,
		}}
	}
	for _, tc := range []struct {
		extra int
		want  string
	}{
		{0, "data.tar.xz / ./usr/bin/prog / .note.gnu.build-id / bytes: the build ID differs [line 12]"},
		{6, "data.tar.xz / ./usr/bin/prog / .note.gnu.build-id / bytes: the build ID differs [cause NOT in the first 15 lines: line 18]"},
	} {
		r := &report.Report{Verdict: verdict.Different, Differences: tree(tc.extra)}
		dir := t.TempDir()
		var txt bytes.Buffer
		if err := render.Text(&txt, r); err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "r.txt"), txt.Bytes(), 0o644)
		os.WriteFile(filepath.Join(dir, "r.json"), raw, 0o644)
		if got := firstCause(filepath.Join(dir, "r.json"), filepath.Join(dir, "r.txt")); got != tc.want {
			t.Errorf("%d effects first: got %q, want %q\n%s", tc.extra, got, tc.want, txt.String())
		}
	}
}
