package disasm

import (
	"debug/elf"
	"os"
	"testing"
)

// ownText returns up to 1 MiB of the test binary's own code.
func ownText(b *testing.B) ([]byte, uint64) {
	p, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	f, err := elf.Open(p)
	if err != nil {
		b.Skip("the test binary is not ELF")
	}
	defer f.Close()
	s := f.Section(".text")
	if s == nil || f.Machine != elf.EM_X86_64 {
		b.Skip("no amd64 .text")
	}
	code, err := s.Data()
	if err != nil {
		b.Fatal(err)
	}
	return code[:min(len(code), 1<<20)], s.Addr
}

func BenchmarkDecode(b *testing.B) {
	code, pc := ownText(b)
	d, _ := New("amd64", func(v uint64) bool { return v >= pc && v < pc+1<<30 })
	var ins []Inst
	b.SetBytes(int64(len(code)))
	for i := 0; i < b.N; i++ {
		ins, _ = d.Decode(code, pc, ins)
	}
}

// BenchmarkShiftRefs takes the references of code that moved from the
// instructions decoded where it was (here: the same bytes 4 KiB further
// on, whose PC-relative references then point elsewhere).
func BenchmarkShiftRefs(b *testing.B) {
	code, pc := ownText(b)
	d, _ := New("amd64", func(v uint64) bool { return v >= pc && v < pc+1<<30 })
	ins, _ := d.Decode(code, pc, nil)
	var refs []Ref
	b.SetBytes(int64(len(code)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var ok bool
		if refs, ok = d.ShiftRefs(ins, code, pc+4096, refs); !ok {
			b.Fatal("ShiftRefs refused the same bytes")
		}
	}
}
