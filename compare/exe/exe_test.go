package exe_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprove/reprove/compare/exe"
	"github.com/reprove/reprove/compare/fixture"
	"github.com/reprove/reprove/compare/format"
	"github.com/reprove/reprove/internal/exefile"
)

func TestParseSections(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		f    format.Format
		want []string
	}{
		{"elf", fixture.ELF([]byte("\x90\x90\xc3")), format.ELF, []string{".text", ".shstrtab"}},
		{"pe", fixture.PE([]byte("\x90\x90\xc3"), 7, nil), format.PE, []string{".text"}},
	}
	for _, tc := range tests {
		f, err := exe.Parse(bytes.NewReader(tc.data), int64(len(tc.data)), tc.f, exe.DefaultLimits())
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []string
		for _, s := range f.Sections {
			got = append(got, s.Name)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s sections (-want +got):\n%s", tc.name, diff)
		}
	}
	if _, err := exe.Parse(bytes.NewReader([]byte("\x7fELF")), 4, format.ELF, exe.DefaultLimits()); err == nil {
		t.Error("truncated ELF parsed without error")
	}
	big := fixture.ELF(nil)
	if _, err := exe.Parse(bytes.NewReader(big), int64(len(big)), format.ELF, exe.Limits{File: exefile.Limits{MaxSize: 10, MaxRead: 10}, MaxSymbols: 1, MaxSections: 1}); err == nil {
		t.Error("size limit not enforced")
	}
}

func FuzzParse(f *testing.F) {
	// A real Go binary: this test program.
	if p, err := os.Executable(); err == nil {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add(fixture.ELF([]byte("\x90\xc3")))
	f.Add(fixture.PE([]byte("\x90\xc3"), 1, nil))
	f.Add(fixture.PE([]byte("\x90\xc3"), 1, []byte("0\x82\x00\x01")))
	f.Add([]byte{0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1, 3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	lim := exe.Limits{File: exefile.Limits{MaxSize: 1 << 20, MaxRead: 4 << 20}, MaxSymbols: 10000, MaxSections: 1000, MaxPclntab: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		fm := format.Detect(data, int64(len(data)))
		if !fm.Executable() {
			return
		}
		file, err := exe.Parse(bytes.NewReader(data), int64(len(data)), fm, lim)
		if err != nil {
			return
		}
		// Sections without file bytes may name any offset (a -s -w
		// binary's .noptrbss lies past its end); the others lie inside,
		// and so do the functions.
		for _, s := range file.Sections {
			if s.Size > 0 && (s.Offset < 0 || s.Offset+s.Size > int64(len(data))) {
				t.Fatalf("section %q outside the file", s.Name)
			}
		}
		for _, fn := range file.Funcs {
			if fn.Size <= 0 || fn.Offset < 0 || fn.Offset+fn.Size > int64(len(data)) {
				t.Fatalf("function %q outside the file", fn.Name)
			}
		}
	})
}
