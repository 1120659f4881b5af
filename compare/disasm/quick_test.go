package disasm

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"testing"
)

// sameReduced reports how a (from DecodeRefs) differs from b (from
// Decode) in what DecodeRefs promises: length, badness, bytes, Refs and
// the PC-relative field.
func sameReduced(a, b *Inst) string {
	switch {
	case a.PC != b.PC || a.Len != b.Len || a.Bad != b.Bad || !bytes.Equal(a.raw, b.raw):
		return fmt.Sprintf("pc/len/bad/raw %#x/%d/%v/% x, want %#x/%d/%v/% x", a.PC, a.Len, a.Bad, a.raw, b.PC, b.Len, b.Bad, b.raw)
	case a.relOff != b.relOff || a.relLen != b.relLen || a.relRef != b.relRef:
		return fmt.Sprintf("rel field %d+%d ref %d, want %d+%d ref %d", a.relOff, a.relLen, a.relRef, b.relOff, b.relLen, b.relRef)
	case fmt.Sprint(a.Refs) != fmt.Sprint(b.Refs):
		return fmt.Sprintf("refs %v, want %v", a.Refs, b.Refs)
	}
	return ""
}

// Address spaces the immediates and displacements below fall in or out
// of: a Go binary's, and a shared library's that starts at 0.
var quickSpaces = map[string]func(uint64) bool{
	"go":  inImage,
	"all": func(v uint64) bool { return v < 0x500000 || v >= 0xffffffffffffff00 },
}

// TestQuickMatchesX86asm checks every instruction the quick table knows,
// under each prefix and REX byte, with every ModRM and SIB byte, against
// x86asm's decoding as Decode reduces it.
func TestQuickMatchesX86asm(t *testing.T) {
	tails := [][]byte{
		{0x00, 0x10, 0x40, 0x00, 0x00, 0x10, 0x40, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08},
		{0xf0, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x80, 0x7f, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77},
	}
	prefixes := [][]byte{nil, {0x66}, {0xf2}, {0xf3}}
	rexes := []byte{0, 0x40, 0x43, 0x48, 0x4f}
	// SIB bytes worth trying with every ModRM byte that takes one: base 5
	// (no base under mod 0), index 4 (none), each scale.
	sibs := []byte{0x00, 0x05, 0x20, 0x24, 0x25, 0x65, 0xa5, 0xe4, 0xe5, 0xff}
	const pc = 0x401000
	var n, quick int
	failed := map[string]int{}
	var head []byte
	check := func(d *Decoder, code []byte) {
		var refs, refs2 []Ref
		var q Inst
		if !d.quickX86(code, pc, &refs, &q) {
			return
		}
		quick++
		full := d.decodeOne(code, 0, pc, nil, &refs2)
		if why := sameReduced(&q, &full[0]); why != "" {
			if k := fmt.Sprintf("% x", head); failed[k] < 3 {
				failed[k]++
				t.Errorf("% x: %s", code[:min(len(code), 15)], why)
			}
		}
	}
	// One address space whose immediates and displacements above are
	// addresses in some readings and not in others.
	for _, name := range []string{"all"} {
		d, _ := New("amd64", quickSpaces[name])
		for two := 0; two < 2; two++ {
			table := &quick1
			if two == 1 {
				table = &quick2
			}
			for op := range 256 {
				q := table[op]
				if !q.ok {
					continue
				}
				for _, p := range prefixes {
					for _, rex := range rexes {
						for _, tail := range tails {
							head = append([]byte{}, p...)
							if rex != 0 {
								head = append(head, rex)
							}
							if two == 1 {
								head = append(head, 0x0f)
							}
							head = append(head, byte(op))
							if !q.modrm {
								n++
								check(d, append(append([]byte{}, head...), tail...))
								continue
							}
							for m := range 256 {
								withM := append(append([]byte{}, head...), byte(m))
								if m == 0x04 {
									// Every SIB byte, with one ModRM byte.
									for sib := range 256 {
										n++
										check(d, append(append(append([]byte{}, withM...), byte(sib)), tail...))
									}
									continue
								}
								if m>>6 != 3 && m&7 == 4 {
									for _, sib := range sibs {
										n++
										check(d, append(append(append([]byte{}, withM...), sib), tail...))
									}
									continue
								}
								n++
								check(d, append(withM, tail...))
							}
						}
					}
				}
			}
		}
		if t.Failed() {
			t.Logf("address space %s", name)
		}
	}
	t.Logf("%d encodings, %d read by the quick table", n, quick)
}

// TestDecodeRefsOwnText decodes the test binary's own code both ways.
func TestDecodeRefsOwnText(t *testing.T) {
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(p)
	if err != nil {
		t.Skip("the test binary is not ELF")
	}
	defer f.Close()
	s := f.Section(".text")
	if s == nil || f.Machine != elf.EM_X86_64 {
		t.Skip("no amd64 .text")
	}
	code, err := s.Data()
	if err != nil {
		t.Fatal(err)
	}
	d, _ := New("amd64", func(v uint64) bool { return v >= s.Addr && v < s.Addr+1<<26 })
	full, err := d.Decode(code, s.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	light, err := d.DecodeRefs(code, s.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	compareDecodes(t, light, full)
	partial := 0
	for i := range light {
		if light[i].partial {
			partial++
		}
	}
	t.Logf("%d instructions, %d read by the quick table", len(light), partial)
	// Equal and Shapes complete what DecodeRefs read, and say what they
	// say of Decode's instructions.
	n := min(len(full), 30000)
	var sl, sf Shapes
	for from := 0; from < n; from += 1000 {
		sl.Reset(maxShapes)
		sf.Reset(maxShapes)
		for i := from; i < from+1000 && i < n; i++ {
			if a, b := sl.ID(&light[i]), sf.ID(&full[i]); a != b {
				t.Fatalf("instruction %d at %#x: shape %d, want %d", i, full[i].PC, a, b)
			}
		}
	}
	light, _ = d.DecodeRefs(code, s.Addr, light)
	for i := 0; i+7 < n; i++ {
		for _, j := range []int{i + 1, i + 7, (i * 7919) % n} {
			if got, want := Equal(&light[i], &light[j]), Equal(&full[i], &full[j]); got != want {
				t.Fatalf("Equal(%d, %d) = %v, want %v", i, j, got, want)
			}
		}
	}
}

const maxShapes = 1 << 14

// TestCachedText renders the test binary's own code with and without a
// Texts, with a name function that names some addresses and not others.
func TestCachedText(t *testing.T) {
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(p)
	if err != nil {
		t.Skip("the test binary is not ELF")
	}
	defer f.Close()
	s := f.Section(".text")
	if s == nil || f.Machine != elf.EM_X86_64 {
		t.Skip("no amd64 .text")
	}
	code, err := s.Data()
	if err != nil {
		t.Fatal(err)
	}
	code = code[:min(len(code), 1<<20)]
	d, _ := New("amd64", func(v uint64) bool { return v >= s.Addr && v < s.Addr+1<<26 })
	ins, _ := d.DecodeRefs(code, s.Addr, nil)
	name := func(v uint64) string {
		if v%16 == 0 && v >= s.Addr {
			return fmt.Sprintf("f%x", v)
		}
		return ""
	}
	var c Texts
	for pass := 0; pass < 2; pass++ {
		for i := range ins {
			k := ins[i].Keep()
			raw := code[k.PC-s.Addr : k.PC-s.Addr+uint64(k.Len())]
			if got, want := d.CachedText(&c, &k, raw, name), d.KeptText(&k, raw, name); got != want {
				t.Fatalf("% x at %#x: %q, want %q", raw, k.PC, got, want)
			}
		}
	}
	t.Logf("%d instructions, %d texts remembered", len(ins), len(c.m))
}

func compareDecodes(t *testing.T, light, full []Inst) {
	t.Helper()
	if len(light) != len(full) {
		t.Fatalf("%d instructions, want %d", len(light), len(full))
	}
	for i := range light {
		if why := sameReduced(&light[i], &full[i]); why != "" {
			t.Fatalf("instruction %d at %#x: %s", i, full[i].PC, why)
		}
	}
}

func FuzzQuick(f *testing.F) {
	f.Add([]byte{0x48, 0x8d, 0x05, 0x00, 0x10, 0x00, 0x00, 0xe8, 0x01, 0x02, 0x03, 0x04})
	f.Add([]byte{0xb8, 0x00, 0x10, 0x45, 0x00, 0xc7, 0x04, 0x25, 0x00, 0x10, 0x40, 0x00, 0x00, 0x10, 0x40, 0x00})
	f.Add([]byte{0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00, 0xf2, 0x0f, 0x10, 0x05, 0xf0, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, code []byte) {
		for _, space := range quickSpaces {
			d, _ := New("amd64", space)
			full, err := d.Decode(code, 0x401000, nil)
			if err != nil {
				t.Fatal(err)
			}
			light, err := d.DecodeRefs(code, 0x401000, nil)
			if err != nil {
				t.Fatal(err)
			}
			compareDecodes(t, light, full)
		}
	})
}

// TestShapesNumbering numbers the test binary's instructions with Shapes
// and with a map keyed by the whole shapeKey, in runs of 1000.
func TestShapesNumbering(t *testing.T) {
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(p)
	if err != nil {
		t.Skip("the test binary is not ELF")
	}
	defer f.Close()
	s := f.Section(".text")
	if s == nil || f.Machine != elf.EM_X86_64 {
		t.Skip("no amd64 .text")
	}
	code, err := s.Data()
	if err != nil {
		t.Fatal(err)
	}
	code = code[:min(len(code), 1<<20)]
	d, _ := New("amd64", func(v uint64) bool { return v >= s.Addr && v < s.Addr+1<<26 })
	ins, _ := d.Decode(code, s.Addr, nil)
	var sh Shapes
	for from := 0; from < len(ins); from += 1000 {
		sh.Reset(maxShapes)
		ref := map[shapeKey]int{}
		for i := from; i < min(from+1000, len(ins)); i++ {
			in := &ins[i]
			k := shapeKey{bad: in.Bad, refs: len(in.Refs)}
			if in.Bad {
				k.raw0 = in.raw[0]
			} else {
				k.x86 = in.x86
				for j, r := range in.Refs {
					if r.Soft {
						k.soft |= 1 << j
					}
				}
			}
			want, ok := ref[k]
			if !ok {
				want = len(ref)
				ref[k] = want
			}
			if got := sh.ID(in); got != want {
				t.Fatalf("instruction %d (% x): number %d, want %d", i, in.raw, got, want)
			}
		}
	}
}
