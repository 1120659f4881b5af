package exefile

import (
	"bytes"
	"encoding/binary"
	"os"
	"strings"
	"testing"
)

func self(t testing.TB) []byte {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpen(t *testing.T) {
	exe := self(t)
	// A universal file holding one (empty) arm64 Mach-O program.
	thin := []byte{0xcf, 0xfa, 0xed, 0xfe, 0x0c, 0, 0, 0x01, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	fat := make([]byte, 0x1000+len(thin))
	be := binary.BigEndian
	be.PutUint32(fat, 0xcafebabe)
	be.PutUint32(fat[4:], 1)
	be.PutUint32(fat[8:], 0x0100000c) // CPU_TYPE_ARM64
	be.PutUint32(fat[16:], 0x1000)
	be.PutUint32(fat[20:], uint32(len(thin)))
	be.PutUint32(fat[24:], 12)
	copy(fat[0x1000:], thin)
	tests := []struct {
		name string
		data []byte
		lim  Limits
		want string // error substring; "" for success
	}{
		{"this test program", exe, DefaultLimits(), ""},
		{"too short", []byte("MZ"), DefaultLimits(), "not an executable (too short)"},
		{"not an executable", []byte("#!/bin/sh\necho hi\n"), DefaultLimits(), "not an executable (ELF, PE or Mach-O)"},
		{"over the size limit", exe, Limits{MaxSize: 1000, MaxRead: 1 << 30}, "is over the 1000-byte limit"},
		{"over the read budget", exe, Limits{MaxSize: 1 << 40, MaxRead: 100}, "more reading than any real executable needs"},
		{"truncated ELF", exe[:100], DefaultLimits(), "parse elf"},
		{"fat Mach-O", fat, DefaultLimits(), "universal (fat) Mach-O"},
		{"PE without headers", []byte("MZ\x90\x00garbage garbage garbage"), DefaultLimits(), "parse pe"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Open(bytes.NewReader(tc.data), int64(len(tc.data)), tc.lim)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want %q", err, tc.want)
			case tc.want == "" && (f.Format != ELF || f.ELF == nil):
				t.Fatalf("format %v", f.Format)
			}
		})
	}
}

func TestBudgetAndBuildInfo(t *testing.T) {
	exe := self(t)
	f, err := Open(bytes.NewReader(exe), int64(len(exe)), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	before := f.Left()
	bi, err := f.BuildInfo()
	if err != nil || bi.Path == "" {
		t.Fatalf("build info %v, %v", bi, err)
	}
	if f.Left() >= before {
		t.Error("reading build info cost nothing from the budget")
	}
	// Enough to open the file, not to read its build information.
	opened := DefaultLimits().MaxRead - before
	small, err := Open(bytes.NewReader(exe), int64(len(exe)), Limits{MaxSize: 1 << 40, MaxRead: opened + 8})
	if err != nil {
		t.Fatal(err)
	}
	// debug/buildinfo reports a failed first read as an unknown format;
	// either way nothing past the budget is read.
	if _, err := small.BuildInfo(); err == nil || small.Left() < 0 {
		t.Errorf("build info past the budget: %v (%d bytes left)", err, small.Left())
	}
}

func TestGuard(t *testing.T) {
	f := &File{b: &budget{}}
	err := f.Guard(func() error { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "malformed executable (boom)") {
		t.Errorf("Guard = %v", err)
	}
}

// FuzzOpen opens arbitrary bytes: an error is fine, a panic is not, and
// the parsers never read past the budget.
func FuzzOpen(f *testing.F) {
	exe := self(f)
	f.Add(exe[:4096])
	f.Add([]byte("MZ\x90\x00"))
	f.Add([]byte("\xcf\xfa\xed\xfe\x07\x00\x00\x01"))
	f.Add([]byte("\xca\xfe\xba\xbe\x00\x00\x00\x02"))
	lim := Limits{MaxSize: 1 << 20, MaxRead: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := Open(bytes.NewReader(data), int64(len(data)), lim)
		if err != nil {
			return
		}
		x.BuildInfo()
		if x.Left() < 0 {
			t.Fatal("budget overdrawn")
		}
	})
}
