package disasm

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func inImage(v uint64) bool { return v >= 0x400000 && v < 0x800000 }

func decode(t *testing.T, arch string, code []byte, pc uint64) []Inst {
	t.Helper()
	d, err := New(arch, inImage)
	if err != nil {
		t.Fatal(err)
	}
	ins, err := d.Decode(code, pc, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ins
}

func refs(ins []Inst) [][]uint64 {
	var out [][]uint64
	for _, in := range ins {
		var r []uint64
		for _, x := range in.Refs {
			r = append(r, x.Addr)
		}
		out = append(out, r)
	}
	return out
}

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func TestRefsAMD64(t *testing.T) {
	const pc = 0x401000
	tests := []struct {
		name string
		code []byte
		want [][]uint64
	}{
		// CALL rel32: the target counts from the end of the instruction.
		{"call", cat([]byte{0xe8}, u32(0x100)), [][]uint64{{pc + 5 + 0x100}}},
		{"jmp rel8", []byte{0xeb, 0x10}, [][]uint64{{pc + 2 + 0x10}}},
		// LEAQ 0x2000(IP), AX.
		{"lea rip", cat([]byte{0x48, 0x8d, 0x05}, u32(0x2000)), [][]uint64{{pc + 7 + 0x2000}}},
		// MOVQ 0x10(AX), BX: no address.
		{"mov reg", []byte{0x48, 0x8b, 0x58, 0x10}, [][]uint64{nil}},
		// MOVL $0x450000, AX: a 32-bit move of an address in the image.
		{"mov imm address", cat([]byte{0xb8}, u32(0x450000)), [][]uint64{{0x450000}}},
		{"mov imm number", cat([]byte{0xb8}, u32(7)), [][]uint64{nil}},
		// VMOVDQU 0x100(IP), Y13 (VEX): x86asm leaves it absolute.
		{"vex rip", cat([]byte{0xc5, 0x7e, 0x6f, 0x2d}, u32(0x100)), [][]uint64{{pc + 8 + 0x100}}},
		{"bad byte", []byte{0x06}, [][]uint64{nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ins := decode(t, "amd64", tc.code, pc)
			if diff := cmp.Diff(tc.want, refs(ins)); diff != "" {
				t.Errorf("refs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEqual(t *testing.T) {
	one := func(code []byte, pc uint64) *Inst { return &decode(t, "amd64", code, pc)[0] }
	tests := []struct {
		name string
		a, b *Inst
		want bool
	}{
		{"call elsewhere", one(cat([]byte{0xe8}, u32(0x100)), 0x401000), one(cat([]byte{0xe8}, u32(0x300)), 0x402000), true},
		{"short and long jump", one([]byte{0xeb, 0x10}, 0x401000), one(cat([]byte{0xe9}, u32(0x1000)), 0x401000), true},
		{"other register", one(cat([]byte{0x48, 0x8d, 0x05}, u32(0x2000)), 0x401000), one(cat([]byte{0x48, 0x8d, 0x1d}, u32(0x2000)), 0x401000), false},
		{"other immediate", one(cat([]byte{0xb8}, u32(7)), 0x401000), one(cat([]byte{0xb8}, u32(8)), 0x401000), false},
		{"same bad byte", one([]byte{0x06}, 0x401000), one([]byte{0x06}, 0x402000), true},
		{"other bad byte", one([]byte{0x06}, 0x401000), one([]byte{0x07}, 0x401000), false},
	}
	for _, tc := range tests {
		if got := Equal(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: Equal = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestADRPPairs(t *testing.T) {
	// ADRP X0, page+0x2000 (immlo=2: 0x2000>>12 = 2); ADD X0, X0, #0x123; B .+8.
	adrp := uint32(0x90000000) | 2<<29
	add := uint32(0x91000000) | 0x123<<10
	b := uint32(0x14000002)
	code := cat(u32(adrp), u32(add), u32(b))
	const pc = 0x401004
	ins := decode(t, "arm64", code, pc)
	want := [][]uint64{{0x401000 + 0x2000 + 0x123}, nil, {pc + 8 + 8}}
	if diff := cmp.Diff(want, refs(ins)); diff != "" {
		t.Errorf("refs (-want +got):\n%s", diff)
	}
	// The same pair for another address, further on: equal once refs
	// are set aside.
	other := decode(t, "arm64", cat(u32(uint32(0x90000000)|3<<29), u32(uint32(0x91000000)|0x456<<10)), 0x500000)
	if !Equal(&ins[0], &other[0]) || !Equal(&ins[1], &other[1]) {
		t.Error("ADRP+ADD pairs to other addresses are not equal")
	}
	var seen []uint64
	Candidates("arm64", code, pc, 0, 1<<62, func(at, target uint64) { seen = append(seen, target) })
	if !cmp.Equal(seen, []uint64{0x403123}) {
		t.Errorf("Candidates = %#x, want the ADRP+ADD target", seen)
	}
}

// flat lists the instructions' Refs one after another.
func flat(ins []Inst) []Ref {
	var out []Ref
	for _, in := range ins {
		out = append(out, in.Refs...)
	}
	return out
}

func TestShiftRefs(t *testing.T) {
	d, _ := New("amd64", inImage)
	a := cat([]byte{0x48, 0x8d, 0x05}, u32(0x2000), []byte{0xe8}, u32(0x100), []byte{0xc3})
	ia, _ := d.Decode(a, 0x401000, nil)
	// The same code 0x40 bytes on, pointing at other places.
	b := cat([]byte{0x48, 0x8d, 0x05}, u32(0x2010), []byte{0xe8}, u32(0x0c0), []byte{0xc3})
	shifted, ok := d.ShiftRefs(ia, b, 0x401040, nil)
	if !ok {
		t.Fatal("ShiftRefs refused code that differs only in displacements")
	}
	decoded, _ := d.Decode(b, 0x401040, nil)
	if diff := cmp.Diff(flat(decoded), shifted); diff != "" {
		t.Errorf("ShiftRefs differ from decoding (-decoded +shifted):\n%s", diff)
	}
	if len(decoded) != len(ia) {
		t.Fatalf("decoded %d instructions, want %d", len(decoded), len(ia))
	}
	for i := range decoded {
		if !Equal(&decoded[i], &ia[i]) {
			t.Errorf("instruction %d differs", i)
		}
	}
	// Another register: not a displacement.
	c := bytes.Clone(b)
	c[2] = 0x1d
	if _, ok := d.ShiftRefs(ia, c, 0x401040, nil); ok {
		t.Error("ShiftRefs took another register for a displacement")
	}
	if _, ok := d.ShiftRefs(ia, b[:len(b)-1], 0x401040, nil); ok {
		t.Error("ShiftRefs took shorter code")
	}
}

func TestText(t *testing.T) {
	d, _ := New("amd64", inImage)
	ins, _ := d.Decode(cat([]byte{0xe8}, u32(0x100)), 0x401000, nil)
	got := d.Text(&ins[0], func(a uint64) string {
		if a == 0x401105 {
			return "main.f"
		}
		return ""
	})
	if got != "CALL main.f(SB)" {
		t.Errorf("Text = %q", got)
	}
	bad, _ := d.Decode([]byte{0x06}, 0x401000, nil)
	if got := d.Text(&bad[0], func(uint64) string { return "" }); !strings.HasPrefix(got, "?") {
		t.Errorf("bad byte renders as %q", got)
	}
}

func TestUnsupported(t *testing.T) {
	if _, err := New("riscv64", nil); err == nil {
		t.Error("riscv64 accepted")
	}
}

// FuzzDecode decodes arbitrary bytes: it never fails, every byte belongs
// to one instruction, ShiftRefs of code onto itself agrees with decoding it,
// and Text never panics.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0xe8, 0, 1, 0, 0, 0x48, 0x8d, 0x05, 0, 0x20, 0, 0, 0xc3}, false)
	f.Add([]byte{0xc5, 0x7e, 0x6f, 0x2d, 0, 1, 0, 0, 0x62, 0xf1, 0xfe, 0x48, 0x6f, 0x05, 0, 1, 0, 0}, false)
	f.Add(cat(u32(0x90000000|2<<29), u32(0x91000000|0x123<<10), u32(0x14000002), u32(0x39400000)), true)
	f.Add([]byte{0x0f, 0x0f, 0x0f}, false)
	f.Fuzz(func(t *testing.T, code []byte, arm bool) {
		arch := "amd64"
		if arm {
			arch = "arm64"
		}
		d, _ := New(arch, inImage)
		ins, err := d.Decode(code, 0x401000, nil)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for i := range ins {
			if ins[i].PC != 0x401000+uint64(n) || ins[i].Len <= 0 {
				t.Fatalf("instruction %d at %#x, length %d, after %d bytes", i, ins[i].PC, ins[i].Len, n)
			}
			n += ins[i].Len
			d.Text(&ins[i], func(uint64) string { return "x" })
		}
		if n != len(code) {
			t.Fatalf("instructions cover %d of %d bytes", n, len(code))
		}
		if s, ok := d.ShiftRefs(ins, code, 0x401000, nil); ok && !cmp.Equal(s, flat(ins), cmpopts.EquateEmpty()) {
			t.Fatalf("ShiftRefs onto itself changed the references: %v, decoded %v", s, flat(ins))
		}
		Candidates(arch, code, 0x401000, 0, ^uint64(0), func(uint64, uint64) {})
		// Numbering by bytes gives the numbers numbering by decoded
		// instruction does, also for the same bytes seen from an image
		// where other values are addresses.
		other, _ := New(arch, func(v uint64) bool { return v&1 == 0 })
		ins2, _ := other.Decode(code, 0x402000, nil)
		var fast, slow Shapes
		for _, x := range [][]Inst{ins, ins2, ins} {
			for i := range x {
				if a, b := fast.ID(&x[i]), slow.id(&x[i]); a != b {
					t.Fatalf("instruction at %#x numbered %d by its bytes, %d decoded", x[i].PC, a, b)
				}
			}
		}
	})
}

func TestShapes(t *testing.T) {
	a, _ := New("amd64", inImage)
	b, _ := New("amd64", func(uint64) bool { return false })
	one := func(d *Decoder, code []byte, pc uint64) *Inst {
		ins, _ := d.Decode(code, pc, nil)
		return &ins[0]
	}
	movAddr := cat([]byte{0xb8}, u32(0x450000))
	tests := []struct {
		name string
		x, y *Inst
	}{
		{"call elsewhere", one(a, cat([]byte{0xe8}, u32(0x100)), 0x401000), one(b, cat([]byte{0xe8}, u32(0x300)), 0x402000)},
		{"same bytes, an address in one image only", one(a, movAddr, 0x401000), one(b, movAddr, 0x401000)},
		{"other immediate", one(a, cat([]byte{0xb8}, u32(7)), 0x401000), one(a, cat([]byte{0xb8}, u32(8)), 0x401000)},
		{"same bad byte", one(a, []byte{0x06}, 0x401000), one(b, []byte{0x06}, 0x402000)},
	}
	for _, tc := range tests {
		var s Shapes
		if got, want := s.ID(tc.x) == s.ID(tc.y), Equal(tc.x, tc.y); got != want {
			t.Errorf("%s: same number %v, Equal %v", tc.name, got, want)
		}
		// Twice: the second time from the numbers by bytes.
		if got, want := s.ID(tc.x) == s.ID(tc.y), Equal(tc.x, tc.y); got != want {
			t.Errorf("%s (again): same number %v, Equal %v", tc.name, got, want)
		}
	}
}
