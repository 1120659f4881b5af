package compare_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reprove/reprove/compare/exe"
	"github.com/reprove/reprove/compare/format"
	"github.com/reprove/reprove/compare/internal/testexe"
	"github.com/reprove/reprove/compare/render"
	"github.com/reprove/reprove/compare/report"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/schemas"
)

var platforms = []struct{ goos, goarch string }{{"linux", "amd64"}, {"windows", "amd64"}, {"darwin", "arm64"}, {"linux", "arm64"}}

func text(t *testing.T, r *report.Report) []string {
	t.Helper()
	var b bytes.Buffer
	if err := render.Text(&b, r); err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

func validJSON(t *testing.T, r *report.Report) {
	t.Helper()
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := schemas.Validate("compare-report", js.Bytes()); err != nil {
		t.Errorf("report does not match its schema: %v", err)
	}
}

func contains(lines []string, s string) bool {
	return slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, s) })
}

// Two stripped builds that differ in one string literal: the text report
// is short and names the function and both strings near its top.
func TestOneStringLiteral(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go programs")
	}
	for _, p := range platforms {
		t.Run(p.goos+"-"+p.goarch, func(t *testing.T) {
			a := testexe.Build(t, p.goos, p.goarch, testexe.Hello("hello, world"), testexe.Shipped...)
			b := testexe.Build(t, p.goos, p.goarch, testexe.Hello("hello, reprove"), testexe.Shipped...)
			r := filesReport(t, a, b)
			lines := text(t, r)
			if len(lines) > 30 {
				t.Errorf("text report is %d lines, want at most 30:\n%s", len(lines), strings.Join(lines, "\n"))
			}
			top := lines[:min(15, len(lines))]
			for _, want := range []string{"main.main", `"hello, world"`, `"hello, reprove"`} {
				if !contains(top, want) {
					t.Errorf("first 15 lines do not name %s:\n%s", want, strings.Join(lines, "\n"))
				}
			}
			validJSON(t, r)
		})
	}
}

// funcAt finds a function of a Go binary by name.
func funcAt(t *testing.T, path, name string) (exe.Symbol, []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := exe.Parse(bytes.NewReader(data), int64(len(data)), format.Detect(data, int64(len(data))), exe.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range f.Funcs {
		if fn.Name == name {
			return fn, data
		}
	}
	t.Fatalf("no function %s in %s", name, path)
	return exe.Symbol{}, nil
}

func find(n *report.Node, name string) *report.Node {
	if n == nil {
		return nil
	}
	if n.Name == name {
		return n
	}
	for _, c := range n.Children {
		if f := find(c, name); f != nil {
			return f
		}
	}
	return nil
}

// One byte flipped in the code of a stripped binary: the report names the
// section, the function and the instruction before and after.
func TestByteFlipInText(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go programs")
	}
	for _, p := range platforms {
		t.Run(p.goos+"-"+p.goarch, func(t *testing.T) {
			a := testexe.Build(t, p.goos, p.goarch, testexe.Hello("hello, world"), testexe.Shipped...)
			fn, data := funcAt(t, a, "main.main")
			flipped := slices.Clone(data)
			flipped[fn.Offset+fn.Size/2] ^= 0x01
			b := filepath.Join(t.TempDir(), "flipped")
			os.WriteFile(b, flipped, 0o755)
			r := filesReport(t, a, b)
			n := find(r.Differences, "main.main")
			if n == nil || n.Change != report.ChangeChanged || n.Effect {
				t.Fatalf("main.main = %+v, want a changed function among the causes", n)
			}
			if !strings.Contains(n.Summary, fn.Section) {
				t.Errorf("summary %q does not name section %s", n.Summary, fn.Section)
			}
			var minus, plus bool
			for _, l := range n.Lines {
				minus = minus || strings.HasPrefix(l, "- ")
				plus = plus || strings.HasPrefix(l, "+ ")
			}
			if !minus || !plus {
				t.Errorf("no instruction before and after in %q", n.Lines)
			}
			lines := text(t, r)
			if !contains(lines[:min(15, len(lines))], "main.main") {
				t.Errorf("main.main not in the first 15 lines:\n%s", strings.Join(lines, "\n"))
			}
			if r.Counts.Causes != 1 {
				t.Errorf("%d causes, want 1 (the function)", r.Counts.Causes)
			}
			validJSON(t, r)
		})
	}
}

// One function inserted: it is added, its caller changed, the rest moved.
func TestFunctionInserted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go programs")
	}
	for _, p := range platforms[:2] {
		t.Run(p.goos+"-"+p.goarch, func(t *testing.T) {
			a := testexe.Build(t, p.goos, p.goarch, testexe.Hello("hello, world"), testexe.Shipped...)
			b := testexe.Build(t, p.goos, p.goarch, testexe.HelloExtra("hello, world"), testexe.Shipped...)
			r := filesReport(t, a, b)
			if n := find(r.Differences, "main.extra"); n == nil || n.Change != report.ChangeAdded || len(n.Lines) == 0 {
				t.Errorf("main.extra = %+v, want an added function with its instructions", n)
			}
			if n := find(r.Differences, "main.main"); n == nil || n.Change != report.ChangeChanged {
				t.Errorf("main.main = %+v, want changed", n)
			}
			validJSON(t, r)
		})
	}
}

// A byte changed in the padding after a function's last instruction is a
// cause too: padding runs when something jumps there.
func TestPaddingAfterFunction(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go programs")
	}
	a := testexe.Build(t, "linux", "amd64", testexe.Hello("hello, world"), testexe.Shipped...)
	fn, data := funcAt(t, a, "main.main")
	// The linker pads functions to 32 bytes with INT3: find padding after
	// main.main's last instruction.
	end := fn.Offset + fn.Size
	if data[end-1] != 0xcc || data[end-2] != 0xcc {
		t.Fatalf("no INT3 padding at the end of main.main: % x", data[end-8:end])
	}
	tampered := slices.Clone(data)
	tampered[end-1] = 0x90
	b := filepath.Join(t.TempDir(), "tampered")
	os.WriteFile(b, tampered, 0o755)
	r := filesReport(t, a, b)
	if n := find(r.Differences, "main.main"); r.Verdict != verdict.Different || n == nil || n.Change != report.ChangeChanged || n.Effect {
		t.Fatalf("verdict %v, main.main %+v; leaves %q", r.Verdict, n, leaves(r))
	}
}
