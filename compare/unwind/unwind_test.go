package unwind_test

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/reprove/reprove/compare/internal/testexe"
	"github.com/reprove/reprove/compare/unwind"
)

// The FDEs of a real gcc build describe exactly the functions its symbol
// table names (those compiled with unwind tables: every function of ours).
func TestEHFrameMatchesSymbols(t *testing.T) {
	for _, flags := range [][]string{{"-O2", "-fPIE", "-pie"}, {"-O0", "-no-pie"}} {
		t.Run(flags[0]+flags[len(flags)-1], func(t *testing.T) {
			p := testexe.BuildC(t, testexe.Year, append(flags, "-DYEAR=2025")...)
			ef, err := elf.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer ef.Close()
			sec := ef.Section(".eh_frame")
			data, err := sec.Data()
			if err != nil {
				t.Fatal(err)
			}
			ptr := 8
			if ef.Class == elf.ELFCLASS32 {
				ptr = 4
			}
			got, err := unwind.EHFrame(data, sec.Addr, ptr, ef.ByteOrder)
			if err != nil {
				t.Fatal(err)
			}
			syms, err := ef.Symbols()
			if err != nil {
				t.Fatal(err)
			}
			byStart := map[uint64]unwind.Range{}
			for _, r := range got {
				byStart[r.Start] = r
			}
			seen := 0
			for _, s := range syms {
				switch s.Name {
				case "main", "twice", "sum", "helper":
				default:
					continue
				}
				if elf.ST_TYPE(s.Info) != elf.STT_FUNC {
					continue
				}
				seen++
				want := unwind.Range{Start: s.Value, Size: s.Size}
				if diff := cmp.Diff(want, byStart[s.Value]); diff != "" {
					t.Errorf("%s (-symbol table +FDE):\n%s", s.Name, diff)
				}
			}
			if seen < 3 {
				t.Errorf("the symbol table named only %d of our functions", seen)
			}
		})
	}
}

// Hand-made tables: encodings, a 64-bit length, the terminator, and the
// ways a table can be malformed.
func TestEHFrame(t *testing.T) {
	le := binary.LittleEndian
	rec := func(id uint32, body ...byte) []byte {
		b := make([]byte, 8, 8+len(body))
		le.PutUint32(b, uint32(4+len(body)))
		le.PutUint32(b[4:], id)
		return append(b, body...)
	}
	cieZR := rec(0, 1, 'z', 'R', 0, 1, 0x78, 16, 1, 0x1b) // pcrel|sdata4
	fde := func(cieOff, at int, begin int32, size uint32) []byte {
		body := make([]byte, 9)
		// pc_begin is relative to the field, at at+8.
		le.PutUint32(body, uint32(begin-int32(at+8)))
		le.PutUint32(body[4:], size)
		return rec(uint32(at+4-cieOff), body...)
	}
	table := append([]byte{}, cieZR...)
	table = append(table, fde(0, len(table), 0x1000, 0x20)...)
	table = append(table, fde(0, len(table), 0x1100, 0x30)...)
	table = append(table, 0, 0, 0, 0)
	got, err := unwind.EHFrame(table, 0, 8, le)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]unwind.Range{{0x1000, 0x20}, {0x1100, 0x30}}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for name, bad := range map[string][]byte{
		"truncated length":   table[:2],
		"record past end":    append(append([]byte{}, cieZR...), 0xff, 0, 0, 0, 0, 0, 0, 0),
		"FDE without CIE":    fde(-64, 0, 0x1000, 0x20),
		"unknown encoding":   rec(0, 1, 'z', 'R', 0, 1, 0x78, 16, 1, 0x0f),
		"bad version":        rec(0, 9, 0, 1, 0x78, 16),
		"augmentation bytes": rec(0, 1, 'z', 'R', 0, 1, 0x78, 16, 0x7f),
	} {
		if _, err := unwind.EHFrame(bad, 0, 8, le); !errors.Is(err, unwind.ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestPData(t *testing.T) {
	le := binary.LittleEndian
	b := make([]byte, 12*3)
	put := func(i int, begin, end uint32) { le.PutUint32(b[12*i:], begin); le.PutUint32(b[12*i+4:], end) }
	put(0, 0x2000, 0x2040)
	put(1, 0x1000, 0x1010)
	got, err := unwind.PData(b, 0x140000000)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]unwind.Range{{0x140001000, 0x10}, {0x140002000, 0x40}}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	put(2, 0x3000, 0x2000)
	if _, err := unwind.PData(b, 0); !errors.Is(err, unwind.ErrMalformed) {
		t.Errorf("an entry ending before it begins: err = %v", err)
	}
}
