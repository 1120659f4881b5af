package pclntab

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"strings"
	"testing"
)

// ownTable returns the pclntab of this test binary (a Go ELF program) and
// the address of its text.
func ownTable(t testing.TB) ([]byte, uint64) {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(p)
	if err != nil {
		t.Skipf("the test binary is not ELF: %v", err)
	}
	defer f.Close()
	s, text := f.Section(".gopclntab"), f.Section(".text")
	if s == nil || text == nil {
		t.Skip("no .gopclntab")
	}
	data, err := s.Data()
	if err != nil {
		t.Fatal(err)
	}
	return data, text.Addr
}

func TestFuncsOfThisBinary(t *testing.T) {
	data, text := ownTable(t)
	h, err := ParseHeader(data)
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != Go120 || h.PtrSize != 8 || h.NFunc < 1000 {
		t.Errorf("header %+v, want go1.20 layout, 8-byte pointers, thousands of functions", h)
	}
	fs, err := Funcs(data, text)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != h.NFunc {
		t.Errorf("%d functions, header says %d", len(fs), h.NFunc)
	}
	var found bool
	for i, f := range fs {
		if i > 0 && f.Entry < fs[i-1].Entry {
			t.Fatalf("function %d out of order", i)
		}
		found = found || f.Name == "github.com/reprove/reprove/compare/pclntab.TestFuncsOfThisBinary"
	}
	if !found {
		t.Error("this test function is not in the table")
	}
}

func TestParseHeaderRefuses(t *testing.T) {
	data, _ := ownTable(t)
	set := func(f func(b []byte)) []byte {
		b := bytes.Clone(data[:4096])
		f(b)
		return b
	}
	le := binary.LittleEndian
	tests := []struct {
		name, want string
		data       []byte
	}{
		{"short", "too short", data[:8]},
		{"magic", "no known magic", set(func(b []byte) { b[0] = 0 })},
		{"padding", "padding", set(func(b []byte) { b[4] = 1 })},
		{"quantum", "quantum", set(func(b []byte) { b[6] = 3 })},
		{"pointer size", "pointer size", set(func(b []byte) { b[7] = 2 })},
		{"function count over the limit", "over the limit", set(func(b []byte) { le.PutUint64(b[8:], 1<<40) })},
		// A count that fits the limit but not the data: gosym would
		// allocate for every one before noticing.
		{"function table past the data", "does not fit", set(func(b []byte) { le.PutUint64(b[8:], 3_000_000) })},
		{"table offset past the data", "does not fit", set(func(b []byte) { le.PutUint64(b[8+7*8:], 1<<50) })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseHeader(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
			if _, err := Funcs(tc.data, 0x401000); err == nil {
				t.Error("Funcs accepted it")
			}
		})
	}
}

// A table cut short decodes to an error, never a partial list.
func TestFuncsTruncated(t *testing.T) {
	data, text := ownTable(t)
	for _, n := range []int{64, 4096, len(data) / 3, len(data) / 2} {
		if fs, err := Funcs(data[:n], text); err == nil {
			t.Errorf("%d bytes: %d functions and no error", n, len(fs))
		}
	}
}

func TestFind(t *testing.T) {
	data, _ := ownTable(t)
	junk := bytes.Repeat([]byte{0xf1, 0xff, 0xff, 0xff, 0, 0, 9, 9}, 100) // the magic, with a bad header
	buf := append(append(bytes.Clone(junk), make([]byte, 4)...), data...)
	if got, want := Find(buf), len(junk)+4; got != want {
		t.Errorf("Find = %d, want %d", got, want)
	}
	if got := Find(junk); got != -1 {
		t.Errorf("Find in junk = %d, want -1", got)
	}
}

// FuzzFuncs feeds corrupted tables to the reader: an error is fine; a
// panic, a runaway allocation or functions out of order are not.
func FuzzFuncs(f *testing.F) {
	data, text := ownTable(f)
	f.Add(data[:8192], text)
	f.Add(data, text)
	f.Add(data[:16], uint64(0))
	f.Fuzz(func(t *testing.T, b []byte, text uint64) {
		fs, err := Funcs(b, text)
		if err != nil {
			return
		}
		if len(fs) > len(b)/8 {
			t.Fatalf("%d functions from %d bytes", len(fs), len(b))
		}
		for i, fn := range fs {
			if fn.End < fn.Entry || (i > 0 && fn.Entry < fs[i-1].Entry) {
				t.Fatalf("function %d: [%#x, %#x) out of order", i, fn.Entry, fn.End)
			}
		}
	})
}
