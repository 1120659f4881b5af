package compare_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reprove/reprove/compare"
	"github.com/reprove/reprove/compare/fixture"
	"github.com/reprove/reprove/compare/report"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/schemas"
)

type M = fixture.Member

func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func compareBytes(t testing.TB, a, b []byte, opts compare.Options) (*report.Report, error) {
	t.Helper()
	dir := t.TempDir()
	return compare.Files(context.Background(), writeFile(t, dir, "rebuilt", a), writeFile(t, dir, "shipped", b), opts)
}

// leaves flattens the report tree to "path: kind[, normalizer accepted|not
// allowed]", sorted (the order of the report is pinned by render's goldens).
func leaves(r *report.Report) []string {
	var out []string
	var walk func(n *report.Node, path string)
	walk = func(n *report.Node, path string) {
		if n.Leaf() {
			k := n.Kind.String()
			if n.Change != report.ChangeNone {
				k = n.Change.String() + " " + k
			}
			s := fmt.Sprintf("%s: %s", path, k)
			switch {
			case n.Accepted:
				s += " (" + n.Normalizer + ")"
			case n.Normalizer != "":
				s += " (" + n.Normalizer + " not allowed)"
			}
			out = append(out, s)
			return
		}
		for _, c := range n.Children {
			walk(c, path+"/"+c.Name)
		}
	}
	if r.Differences != nil {
		for _, c := range r.Differences.Children {
			walk(c, c.Name)
		}
	}
	slices.Sort(out)
	return out
}

var t0 = fixture.Epoch
var t1 = fixture.Epoch.Add(90 * time.Minute)

type outcome struct {
	Verdict     verdict.Verdict
	Normalizers []string
	Suggested   []string
	Leaves      []string
}

func TestFiles(t *testing.T) {
	base := []M{
		{Name: "pkg/", Type: tar.TypeDir},
		{Name: "pkg/bin/tool", Mode: 0o755, Body: []byte("#!/bin/sh\necho tool\n")},
		{Name: "pkg/README", Body: []byte("hello\nworld\n")},
		{Name: "pkg/lib", Type: tar.TypeSymlink, Link: "bin"},
	}
	with := func(f func(ms []M) []M) []M {
		ms := append([]M(nil), base...)
		return f(ms)
	}
	mtimes := with(func(ms []M) []M {
		for i := range ms {
			ms[i].Mtime = t1
		}
		return ms
	})
	swapped := with(func(ms []M) []M { ms[1], ms[2] = ms[2], ms[1]; return ms })
	chmod := with(func(ms []M) []M { ms[1].Mode = 0o644; ms[1].Mtime = t1; return ms })
	setuid := with(func(ms []M) []M { ms[1].Mode = 0o4755; return ms })
	relink := with(func(ms []M) []M { ms[3].Link = "/etc"; return ms })
	retype := with(func(ms []M) []M { ms[3] = M{Name: "pkg/lib", Type: tar.TypeDir}; return ms })
	dup := with(func(ms []M) []M { return append(ms, M{Name: "pkg/README", Body: []byte("evil\n")}) })
	edited := with(func(ms []M) []M { ms[2].Body = []byte("hello\nthere\n"); return ms })
	added := with(func(ms []M) []M { return append(ms, M{Name: "pkg/NEW", Body: []byte("x")}) })
	all := verdict.NormalizerNames()

	tests := []struct {
		name  string
		a, b  []byte
		norms []string
		want  outcome
	}{{
		name: "identical",
		a:    fixture.Tar(base...), b: fixture.Tar(base...),
		want: outcome{Verdict: verdict.Identical},
	}, {
		name: "text",
		a:    []byte("a\nb\nc\n"), b: []byte("a\nB\nc\n"),
		want: outcome{Verdict: verdict.Different, Leaves: []string{"text: text"}},
	}, {
		name: "binary bytes",
		a:    []byte{0, 1, 2, 3, 4, 5}, b: []byte{0, 1, 9, 3, 4, 5, 6},
		want: outcome{Verdict: verdict.Different, Leaves: []string{"bytes: bytes"}},
	}, {
		name: "tar mtimes, not allowed",
		a:    fixture.Tar(base...), b: fixture.Tar(mtimes...),
		want: outcome{Verdict: verdict.Different, Suggested: []string{"archive-mtime"}, Leaves: []string{
			"pkg//mtime: mtime (archive-mtime not allowed)", "pkg/README/mtime: mtime (archive-mtime not allowed)",
			"pkg/bin/tool/mtime: mtime (archive-mtime not allowed)", "pkg/lib/mtime: mtime (archive-mtime not allowed)"}},
	}, {
		name: "tar mtimes, allowed",
		a:    fixture.Tar(base...), b: fixture.Tar(mtimes...), norms: []string{"archive-mtime"},
		want: outcome{Verdict: verdict.Equivalent, Normalizers: []string{"archive-mtime"}, Leaves: []string{
			"pkg//mtime: mtime (archive-mtime)", "pkg/README/mtime: mtime (archive-mtime)",
			"pkg/bin/tool/mtime: mtime (archive-mtime)", "pkg/lib/mtime: mtime (archive-mtime)"}},
	}, {
		name: "tar.gz header and member mtimes",
		a:    fixture.Gzip(fixture.Tar(base...), t0, 6), b: fixture.Gzip(fixture.Tar(mtimes...), t1, 6), norms: all,
		want: outcome{Verdict: verdict.Equivalent, Normalizers: []string{"archive-mtime", "gzip-header"}, Leaves: []string{
			"gzip mtime: header (gzip-header)",
			"pkg//mtime: mtime (archive-mtime)", "pkg/README/mtime: mtime (archive-mtime)",
			"pkg/bin/tool/mtime: mtime (archive-mtime)", "pkg/lib/mtime: mtime (archive-mtime)"}},
	}, {
		name: "gzip level only",
		a:    fixture.Gzip(fixture.Tar(base...), t0, 1), b: fixture.Gzip(fixture.Tar(base...), t0, 9), norms: all,
		want: outcome{Verdict: verdict.Different, Leaves: []string{"gzip extra flags: header (gzip-header)", "compressed data: compression"}},
	}, {
		name: "tar order",
		a:    fixture.Tar(base...), b: fixture.Tar(swapped...), norms: []string{"archive-order"},
		want: outcome{Verdict: verdict.Equivalent, Normalizers: []string{"archive-order"}, Leaves: []string{"member order: order (archive-order)"}},
	}, {
		name: "mode change is never normalized",
		a:    fixture.Tar(base...), b: fixture.Tar(chmod...), norms: all,
		want: outcome{Verdict: verdict.Different, Leaves: []string{"pkg/bin/tool/mode: mode", "pkg/bin/tool/mtime: mtime (archive-mtime)"}},
	}, {
		name: "setuid is never normalized",
		a:    fixture.Tar(base...), b: fixture.Tar(setuid...), norms: all,
		want: outcome{Verdict: verdict.Different, Leaves: []string{"pkg/bin/tool/mode: mode"}},
	}, {
		name: "symlink target is never normalized",
		a:    fixture.Tar(base...), b: fixture.Tar(relink...), norms: all,
		want: outcome{Verdict: verdict.Different, Leaves: []string{"pkg/lib/link target: link"}},
	}, {
		name: "file type is never normalized",
		a:    fixture.Tar(base...), b: fixture.Tar(retype...), norms: all,
		want: outcome{Verdict: verdict.Different, Leaves: []string{"pkg/lib/type: type", "pkg/lib/mode: mode", "pkg/lib/link target: link"}},
	}, {
		name: "duplicate entry is never normalized",
		a:    fixture.Tar(base...), b: fixture.Tar(dup...), norms: all,
		want: outcome{Verdict: verdict.Different, Leaves: []string{"pkg/README: duplicate"}},
	}, {
		name: "order among repeated names is never normalized",
		a:    fixture.Tar(append(base, M{Name: "pkg/README", Body: []byte("2\n")})...),
		b:    fixture.Tar(append([]M{{Name: "pkg/README", Body: []byte("2\n")}}, base...)...), norms: all,
		want: outcome{Verdict: verdict.Different, Leaves: []string{"member order: order", "pkg/README/text: text", "pkg/README#2/text: text"}},
	}, {
		name: "added member",
		a:    fixture.Tar(base...), b: fixture.Tar(added...), norms: all,
		want: outcome{Verdict: verdict.Different, Leaves: []string{"pkg/NEW: added"}},
	}, {
		name: "content inside tar.xz",
		a:    fixture.Xz(fixture.Tar(base...)), b: fixture.Xz(fixture.Tar(edited...)),
		want: outcome{Verdict: verdict.Different, Leaves: []string{"pkg/README/text: text"}},
	}, {
		name: "content inside tar.zst",
		a:    fixture.Zstd(fixture.Tar(base...)), b: fixture.Zstd(fixture.Tar(edited...)),
		want: outcome{Verdict: verdict.Different, Leaves: []string{"pkg/README/text: text"}},
	}, {
		name: "zip modes and order (a Go toolchain zip)",
		a:    fixture.Zip(6, base...), b: fixture.Zip(6, with(func(ms []M) []M { ms[1].Mode = 0o644; ms[1], ms[2] = ms[2], ms[1]; return ms })...), norms: []string{"archive-order"},
		want: outcome{Verdict: verdict.Different, Leaves: []string{"member order: order (archive-order)", "pkg/bin/tool/mode: mode"}},
	}, {
		name: "zip mtimes",
		a:    fixture.Zip(6, base...), b: fixture.Zip(6, mtimes...), norms: []string{"archive-mtime"},
		want: outcome{Verdict: verdict.Equivalent, Normalizers: []string{"archive-mtime"}, Leaves: []string{
			"pkg//times: mtime (archive-mtime)", "pkg/README/times: mtime (archive-mtime)",
			"pkg/bin/tool/times: mtime (archive-mtime)", "pkg/lib/times: mtime (archive-mtime)",
		}},
	}, {
		name: "zip compression level",
		a:    fixture.Zip(1, M{Name: "a", Body: []byte(strings.Repeat("abcabcabd", 2000))}), b: fixture.Zip(9, M{Name: "a", Body: []byte(strings.Repeat("abcabcabd", 2000))}), norms: all,
		want: outcome{Verdict: verdict.Different, Leaves: []string{"a/compressed data: compression"}},
	}, {
		name: "deb: ar holding tar.gz holding a changed file",
		a:    fixture.Ar(M{Name: "debian-binary", Body: []byte("2.0\n")}, M{Name: "data.tar.gz", Body: fixture.Gzip(fixture.Tar(base...), t0, 6)}),
		b:    fixture.Ar(M{Name: "debian-binary", Body: []byte("2.0\n"), Mtime: t1}, M{Name: "data.tar.gz", Body: fixture.Gzip(fixture.Tar(edited...), t0, 6)}),
		want: outcome{Verdict: verdict.Different, Suggested: nil, Leaves: []string{
			"data.tar.gz/pkg/README/text: text", "debian-binary/mtime: mtime (archive-mtime not allowed)"}},
	}, {
		name: "text became binary",
		a:    []byte("abc\ndef\n"), b: []byte("abc\nd\x00f\n"),
		want: outcome{Verdict: verdict.Different, Leaves: []string{"format: format", "bytes: bytes"}},
	}, {
		name: "format change",
		a:    fixture.Gzip([]byte("x"), t0, 6), b: fixture.Zip(6, M{Name: "x"}),
		want: outcome{Verdict: verdict.Different, Leaves: []string{"format: format"}},
	}, {
		name: "gzip of non-tar content",
		a:    fixture.Gzip([]byte("one\ntwo\n"), t0, 6), b: fixture.Gzip([]byte("one\n2\n"), t0, 6),
		want: outcome{Verdict: verdict.Different, Leaves: []string{"(decompressed)/text: text"}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := compareBytes(t, tc.a, tc.b, compare.Options{Normalizers: tc.norms})
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Leaves = sorted(tc.want.Leaves)
			got := outcome{Verdict: r.Verdict, Normalizers: r.Normalizers, Suggested: r.Suggested, Leaves: leaves(r)}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("compare (-want +got):\n%s", diff)
			}
			if r.Verdict != verdict.Different && (r.Counts.Accepted != r.Counts.Differences) {
				t.Errorf("verdict %v with %d of %d differences accepted", r.Verdict, r.Counts.Accepted, r.Counts.Differences)
			}
			var js bytes.Buffer
			if err := r.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			if err := schemas.Validate("compare-report", js.Bytes()); err != nil {
				t.Errorf("report does not match its schema: %v\n%s", err, js.Bytes())
			}
		})
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestBzip2(t *testing.T) {
	bz := func(b []byte) []byte {
		cmd := exec.Command("bzip2", "-c")
		cmd.Stdin = bytes.NewReader(b)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bzip2 (ci/setup.sh installs it): %v", err)
		}
		return out
	}
	a := bz(fixture.Tar(M{Name: "f", Body: []byte("one\n")}))
	b := bz(fixture.Tar(M{Name: "f", Body: []byte("two\n"), Mtime: t1}))
	r, err := compareBytes(t, a, b, compare.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"f/mtime: mtime (archive-mtime not allowed)", "f/text: text"}
	if diff := cmp.Diff(want, leaves(r)); diff != "" {
		t.Errorf("leaves (-want +got):\n%s", diff)
	}
}

// A name that merely contains "#2" is not a repeat.
func TestHashInNames(t *testing.T) {
	a := fixture.Tar(M{Name: "a"}, M{Name: "a#2", Body: []byte("x")})
	b := fixture.Tar(M{Name: "a"}, M{Name: "a", Body: []byte("y")})
	r, err := compareBytes(t, a, b, compare.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a#2: removed", "a: duplicate"}
	if diff := cmp.Diff(want, leaves(r)); diff != "" {
		t.Errorf("leaves (-want +got):\n%s", diff)
	}
}

// Two releases of a Go module zip: every name starts with module@version/,
// so nothing would pair; below the prefix they do, and the one member that
// changed is the only content difference.
func TestVersionedPrefix(t *testing.T) {
	files := func(v, body string) []M {
		p := "example.com/mod@" + v + "/"
		return []M{{Name: p + "go.mod", Body: []byte("module example.com/mod\n")}, {Name: p + "a.go", Body: []byte(body)}, {Name: p + "LICENSE", Body: []byte("BSD\n")}}
	}
	r, err := compareBytes(t, fixture.Zip(6, files("v1.0.7", "package mod // 7\n")...), fixture.Zip(6, files("v1.0.8", "package mod // 8\n")...), compare.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := leaves(r)
	want := []string{"example.com/mod@v1.0.7/a.go/text: text", "member prefix: metadata"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("leaves (-want +got):\n%s", diff)
	}
}
