package exediff_test

import (
	"bytes"
	"context"
	"os"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprove/reprove/compare/exe"
	"github.com/reprove/reprove/compare/exediff"
	"github.com/reprove/reprove/compare/format"
	"github.com/reprove/reprove/compare/internal/testexe"
)

func side(t testing.TB, data []byte) exediff.Side {
	t.Helper()
	f, err := exe.Parse(bytes.NewReader(data), int64(len(data)), format.Detect(data, int64(len(data))), exe.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return exediff.Side{File: f, R: bytes.NewReader(data)}
}

func read(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type got struct {
	Funcs   map[string]exediff.Class // the non-identical, non-moved ones
	Strings []string
	Data    []string // names of data items that are causes
	// Extra allows that many more changed functions and data items (a
	// function inserted adds types and moves literals whose users the
	// layout alone cannot vouch for).
	Extra int
}

func summarize(r *exediff.Result) got {
	g := got{Funcs: map[string]exediff.Class{}}
	for _, it := range r.Funcs {
		if it.Class != exediff.Moved {
			g.Funcs[it.Name] = it.Class
		}
	}
	for _, it := range r.Strings {
		g.Strings = append(g.Strings, it.Class.String()+" "+it.Name)
	}
	for _, it := range r.Data {
		if !it.ShownWithCode {
			g.Data = append(g.Data, it.Name)
		}
	}
	slices.Sort(g.Strings)
	return g
}

func TestCompare(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go programs")
	}
	for _, p := range []struct{ goos, goarch string }{{"linux", "amd64"}, {"windows", "amd64"}, {"darwin", "arm64"}} {
		t.Run(p.goos+"-"+p.goarch, func(t *testing.T) {
			build := func(src string) []byte {
				return read(t, testexe.Build(t, p.goos, p.goarch, src, testexe.Shipped...))
			}
			hello := build(testexe.Hello("hello, world"))
			tests := []struct {
				name string
				b    []byte
				want got
			}{{
				name: "one string literal",
				b:    build(testexe.Hello("hello, reprove")),
				want: got{Funcs: map[string]exediff.Class{"main.main": exediff.Changed},
					Strings: []string{`added "hello, reprove"`, `removed "hello, world"`}},
			}, {
				name: "a function inserted",
				b:    build(testexe.HelloExtra("hello, world")),
				want: got{Funcs: map[string]exediff.Class{"main.main": exediff.Changed, "main.extra": exediff.Added}, Extra: 3},
			}, {
				name: "identical",
				b:    hello,
				want: got{Funcs: map[string]exediff.Class{}},
			}}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					r, err := exediff.Compare(context.Background(), side(t, hello), side(t, tc.b), exediff.Options{})
					if err != nil {
						t.Fatal(err)
					}
					g := summarize(r)
					extra := 0
					for name, c := range g.Funcs {
						if _, ok := tc.want.Funcs[name]; !ok && c == exediff.Changed {
							extra++
							delete(g.Funcs, name)
						}
					}
					if extra += len(g.Data); extra <= tc.want.Extra {
						g.Data = nil
						g.Extra = tc.want.Extra
					} else {
						g.Extra = extra
					}
					if diff := cmp.Diff(tc.want, g); diff != "" {
						t.Errorf("result (-want +got):\n%s", diff)
					}
					if r.FuncCounts.Total() < 500 || r.FuncsFrom != "pclntab" {
						t.Errorf("%d functions from %q", r.FuncCounts.Total(), r.FuncsFrom)
					}
					if tc.name == "identical" && r.FuncCounts[exediff.Identical] != r.FuncCounts.Total() {
						t.Errorf("identical files: counts %v", r.FuncCounts)
					}
				})
			}
		})
	}
}

func TestCancelled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go programs")
	}
	a := read(t, testexe.Build(t, "linux", "amd64", testexe.Hello("a"), testexe.Shipped...))
	b := read(t, testexe.Build(t, "linux", "amd64", testexe.HelloExtra("a"), testexe.Shipped...))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := exediff.Compare(ctx, side(t, a), side(t, b), exediff.Options{}); err == nil {
		t.Error("no error from a cancelled context")
	}
}

// FuzzCompare corrupts a real stripped Go binary in a few places and
// compares it with the original: parsing may fail, but once both parse,
// the comparison finishes without a panic.
func FuzzCompare(f *testing.F) {
	p, err := os.Executable()
	if err != nil {
		f.Fatal(err)
	}
	orig := read(f, p)
	if format.Detect(orig, int64(len(orig))) != format.ELF {
		f.Skip("the test binary is not ELF")
	}
	base := side(f, orig)
	f.Add(uint32(0), byte(0), uint32(0), byte(0), uint32(0))
	f.Add(uint32(0x1000), byte(0xff), uint32(0x2000), byte(0x48), uint32(0))
	f.Add(uint32(len(orig)/2), byte(0x90), uint32(len(orig)/3), byte(1), uint32(100))
	f.Fuzz(func(t *testing.T, off1 uint32, v1 byte, off2 uint32, v2 byte, cut uint32) {
		b := bytes.Clone(orig)
		b[int(off1)%len(b)] ^= v1
		b[int(off2)%len(b)] ^= v2
		b = b[:len(b)-int(cut)%len(b)]
		f, err := exe.Parse(bytes.NewReader(b), int64(len(b)), format.ELF, exe.DefaultLimits())
		if err != nil {
			return
		}
		if _, err := exediff.Compare(context.Background(), base, exediff.Side{File: f, R: bytes.NewReader(b)}, exediff.Options{}); err != nil {
			return
		}
	})
}
