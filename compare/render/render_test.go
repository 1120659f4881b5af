package render_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reprove/reprove/compare"
	"github.com/reprove/reprove/compare/fixture"
	"github.com/reprove/reprove/compare/render"
	"github.com/reprove/reprove/compare/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

type M = fixture.Member

// reports are made by the real comparison from fixtures generated in
// code; only the paths are fixed afterwards so the goldens are stable.
func reports(t *testing.T) map[string]golden {
	t1 := fixture.Epoch.Add(time.Hour)
	base := []M{{Name: "app/bin/tool", Mode: 0o755, Body: []byte("#!/bin/sh\necho tool\n")}, {Name: "app/README", Body: []byte("one\ntwo\nthree\n")}}
	later := []M{{Name: "app/bin/tool", Mode: 0o755, Body: []byte("#!/bin/sh\necho tool\n"), Mtime: t1}, {Name: "app/README", Body: []byte("one\ntwo\nthree\n"), Mtime: t1}}
	changed := []M{{Name: "app/bin/tool", Mode: 0o644, Body: []byte("#!/bin/sh\necho tool\n")}, {Name: "app/README", Body: []byte("one\n<b>2</b>\nthree\n")}, {Name: "app/NEW"}}
	var many1, many2 []M
	for i := 0; i < 8; i++ {
		many1 = append(many1, M{Name: fmt.Sprintf("f%d", i), Body: []byte("a")})
		many2 = append(many2, M{Name: fmt.Sprintf("f%d", i), Body: []byte("b")})
	}
	var mixed1, mixed2 []M
	for i := 0; i < 6; i++ {
		mixed1 = append(mixed1, M{Name: fmt.Sprintf("m%d", i), Body: []byte("same\n")})
		mixed2 = append(mixed2, M{Name: fmt.Sprintf("m%d", i), Body: []byte("same\n"), Mtime: t1})
	}
	mixed2[5].Body = []byte("changed\n")
	def := render.DefaultOptions()
	cases := []struct {
		name  string
		a, b  []byte
		norms []string
		show  render.Options
	}{
		{"identical", fixture.Tar(base...), fixture.Tar(base...), nil, def},
		{"equivalent", fixture.Gzip(fixture.Tar(base...), fixture.Epoch, 6), fixture.Gzip(fixture.Tar(later...), t1, 6), []string{"archive-mtime", "gzip-header"}, def},
		{"suggested", fixture.Gzip(fixture.Tar(base...), fixture.Epoch, 6), fixture.Gzip(fixture.Tar(later...), t1, 6), nil, def},
		{"different", fixture.Zip(6, base...), fixture.Zip(6, changed...), nil, def},
		{"capped", fixture.Tar(many1...), fixture.Tar(many2...), nil, render.Options{MaxEntries: 3, MaxLines: 1}},
		{"uncapped", fixture.Tar(many1...), fixture.Tar(many2...), nil, render.Options{}},
		// What counts against the verdict comes first, even past the cut.
		{"significant-first", fixture.Tar(mixed1...), fixture.Tar(mixed2...), []string{"archive-mtime"}, render.Options{MaxEntries: 2}},
		{"binary", append([]byte{0, 1, 2}, bytes.Repeat([]byte{7}, 40)...), append([]byte{0, 9, 2}, bytes.Repeat([]byte{8}, 41)...), nil, def},
	}
	out := map[string]golden{}
	for _, c := range cases {
		dir := t.TempDir()
		a, b := filepath.Join(dir, "rebuilt.bin"), filepath.Join(dir, "shipped.bin")
		os.WriteFile(a, c.a, 0o644)
		os.WriteFile(b, c.b, 0o644)
		r, err := compare.Files(context.Background(), a, b, compare.Options{Normalizers: c.norms})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		r.Rebuilt.Path, r.Shipped.Path = "rebuilt.bin", "shipped.bin"
		out[c.name] = golden{r, c.show}
	}
	return out
}

type golden struct {
	r    *report.Report
	show render.Options
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", p, diff)
	}
}

func TestGolden(t *testing.T) {
	for name, g := range reports(t) {
		r := g.r
		t.Run(name, func(t *testing.T) {
			var txt, js, html bytes.Buffer
			if err := g.show.Text(&txt, r); err != nil {
				t.Fatal(err)
			}
			if err := r.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			if err := g.show.HTML(&html, r); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, name+".txt", txt.Bytes())
			checkGolden(t, name+".json", js.Bytes())
			checkGolden(t, name+".html", html.Bytes())
			// The JSON is the source of truth: it reads back to the same
			// report.
			back, err := report.Read(bytes.NewReader(js.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(r, back); diff != "" {
				t.Errorf("JSON round trip (-want +got):\n%s", diff)
			}
		})
	}
}
