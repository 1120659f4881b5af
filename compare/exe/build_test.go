package exe_test

import (
	"os"
	"strings"
	"testing"

	"github.com/reprove/reprove/compare/exe"
	"github.com/reprove/reprove/compare/format"
	"github.com/reprove/reprove/compare/internal/testexe"
)

// Real Go binaries as releases ship them (-trimpath, CGO off) and with
// the linker flags that strip or change them: every one parses, the
// sections without file bytes (.bss, .noptrbss, past the end of a -s -w
// file) included, and the functions come from the pclntab.
func TestParseGoBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go programs")
	}
	tests := []struct {
		goos, goarch string
		flags        []string
		symbols      bool
	}{
		{"linux", "amd64", []string{"-ldflags=-s -w"}, false},
		{"linux", "amd64", []string{"-ldflags=-s"}, false},
		{"linux", "amd64", []string{"-ldflags=-w"}, true},
		{"linux", "amd64", []string{"-ldflags=-buildid="}, true},
		{"linux", "amd64", []string{"-ldflags=-s -w -buildid="}, false},
		{"linux", "amd64", []string{"-buildmode=pie", "-ldflags=-s -w"}, false},
		{"linux", "amd64", nil, true},
		{"linux", "arm64", []string{"-ldflags=-s -w"}, false},
		{"linux", "386", []string{"-ldflags=-s -w"}, false},
		{"windows", "amd64", []string{"-ldflags=-s -w"}, false},
		{"windows", "amd64", nil, true},
		{"darwin", "arm64", []string{"-ldflags=-s -w"}, false},
		{"darwin", "amd64", nil, true},
	}
	for _, tc := range tests {
		name := tc.goos + "-" + tc.goarch + "-" + strings.Join(tc.flags, " ")
		t.Run(name, func(t *testing.T) {
			p := testexe.Build(t, tc.goos, tc.goarch, testexe.Hello("hi"), tc.flags...)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			f, err := exe.Parse(strings.NewReader(string(data)), int64(len(data)), format.Detect(data, int64(len(data))), exe.DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			if f.Arch != tc.goarch {
				t.Errorf("Arch = %q, want %q", f.Arch, tc.goarch)
			}
			if f.BuildInfo == nil {
				t.Error("no build info")
			}
			if f.FuncsFrom != "pclntab" || len(f.Funcs) < 500 {
				t.Fatalf("%d functions from %q (%s), want hundreds from the pclntab", len(f.Funcs), f.FuncsFrom, f.FuncsSkipped)
			}
			if got := len(f.Symbols) > 0; got != tc.symbols {
				t.Errorf("symbols present = %v, want %v (%s)", got, tc.symbols, f.SymbolsSkipped)
			}
			var main *exe.Symbol
			for i, fn := range f.Funcs {
				if fn.Name == "main.main" {
					main = &f.Funcs[i]
				}
				if fn.Offset < 0 || fn.Offset+fn.Size > int64(len(data)) {
					t.Fatalf("function %s lies outside the file", fn.Name)
				}
			}
			if main == nil {
				t.Fatal("no main.main")
			}
			var hasBSS bool
			for _, s := range f.Sections {
				if s.Size == 0 && s.MemSize > 0 {
					hasBSS = true
				}
			}
			// PE keeps bss in .data's virtual size.
			if !hasBSS && tc.goos != "windows" {
				t.Error("no section without file bytes (bss) found")
			}
			wantID := !strings.Contains(strings.Join(tc.flags, " "), "-buildid=")
			if f.HasBuildID && (f.BuildID != "") != wantID {
				t.Errorf("build ID %q, want one: %v", f.BuildID, wantID)
			}
		})
	}
}
