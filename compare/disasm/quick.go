package disasm

import "fmt"

// A full decode with x86asm (every operand built, boxed in an interface)
// costs far more than what the comparison of code that only moved needs
// of most instructions: their lengths, their Refs and where their
// PC-relative fields are. DecodeRefs gets those for the common amd64
// instructions the Go and C compilers emit by reading the encoding
// directly (Intel SDM vol. 2A, chapter 2: prefixes, REX, opcode, ModRM,
// SIB, displacement, immediate), and hands everything else to x86asm.
// The table below is a whitelist, written by hand because no library
// exposes only the length and operand layout of an instruction;
// TestQuickMatchesX86asm checks every entry against x86asm over every
// ModRM and SIB byte and the prefixes it allows, and FuzzQuick on
// arbitrary bytes.

// quick operand kinds.
const (
	qNone  = iota
	qImm8  // an 8-bit immediate
	qImmZ  // 16 or 32 bits by operand size (REX.W keeps 32)
	qImmV  // 16, 32 or 64 bits by operand size (MOV r, imm)
	qRel8  // an 8-bit branch displacement
	qRel32 // a 32-bit branch displacement
)

// Legacy prefixes an entry allows (none is always allowed).
const (
	p66 = 1 << iota
	pF2
	pF3
)

type qop struct {
	ok    bool
	modrm bool
	imm   uint8
	pfx   uint8
	// regs: the ModRM reg values allowed (bit r), 0 meaning all.
	regs uint8
	// mem: ModRM must name memory (LEA).
	mem bool
	// rexW: REX.W is required (MOVSXD).
	rexW bool
	// noREX: no REX prefix (branches).
	noREX bool
	// mov: a MOV of an immediate, whose value may be taken for an
	// address (see reduceX86).
	mov bool
	// need: one of the prefixes in pfx is required (it selects the
	// instruction).
	need bool
}

var quick1, quick2 [256]qop

func init() {
	set := func(t *[256]qop, ops []int, q qop) {
		q.ok = true
		for _, o := range ops {
			t[o] = q
		}
	}
	span := func(lo, hi int) []int {
		var out []int
		for o := lo; o <= hi; o++ {
			out = append(out, o)
		}
		return out
	}
	// One-byte opcodes.
	for base := 0x00; base <= 0x38; base += 8 {
		set(&quick1, span(base, base+3), qop{modrm: true, pfx: p66})
		set(&quick1, []int{base + 4}, qop{imm: qImm8, pfx: p66})
		set(&quick1, []int{base + 5}, qop{imm: qImmZ, pfx: p66})
	}
	set(&quick1, span(0x50, 0x5f), qop{})
	set(&quick1, []int{0x63}, qop{modrm: true, rexW: true})
	set(&quick1, []int{0x69}, qop{modrm: true, imm: qImmZ, pfx: p66})
	set(&quick1, []int{0x6b}, qop{modrm: true, imm: qImm8, pfx: p66})
	set(&quick1, span(0x70, 0x7f), qop{imm: qRel8, noREX: true})
	set(&quick1, []int{0x80, 0x83}, qop{modrm: true, imm: qImm8, pfx: p66})
	set(&quick1, []int{0x81}, qop{modrm: true, imm: qImmZ, pfx: p66})
	set(&quick1, span(0x84, 0x8b), qop{modrm: true, pfx: p66})
	set(&quick1, []int{0x8d}, qop{modrm: true, pfx: p66, mem: true})
	set(&quick1, []int{0x90}, qop{noREX: true})
	set(&quick1, []int{0x98, 0x99}, qop{})
	set(&quick1, []int{0xa8}, qop{imm: qImm8, pfx: p66})
	set(&quick1, []int{0xa9}, qop{imm: qImmZ, pfx: p66})
	set(&quick1, span(0xb0, 0xb7), qop{imm: qImm8, pfx: p66, mov: true})
	set(&quick1, span(0xb8, 0xbf), qop{imm: qImmV, pfx: p66, mov: true})
	set(&quick1, []int{0xc0, 0xc1}, qop{modrm: true, imm: qImm8, pfx: p66, regs: 0xbf})
	set(&quick1, []int{0xd0, 0xd1, 0xd2, 0xd3}, qop{modrm: true, pfx: p66, regs: 0xbf})
	set(&quick1, []int{0xc3, 0xcc}, qop{noREX: true})
	set(&quick1, []int{0xc6}, qop{modrm: true, imm: qImm8, pfx: p66, regs: 1, mov: true})
	set(&quick1, []int{0xc7}, qop{modrm: true, imm: qImmZ, pfx: p66, regs: 1, mov: true})
	set(&quick1, []int{0xe8, 0xe9}, qop{imm: qRel32, noREX: true})
	set(&quick1, []int{0xeb}, qop{imm: qRel8, noREX: true})
	set(&quick1, []int{0xf6}, qop{modrm: true, pfx: p66, regs: 0xfc})
	set(&quick1, []int{0xf7}, qop{modrm: true, pfx: p66, regs: 0xfc})
	set(&quick1, []int{0xfe}, qop{modrm: true, pfx: p66, regs: 0x03})
	set(&quick1, []int{0xff}, qop{modrm: true, regs: 0x57})
	// Two-byte opcodes (after 0F).
	set(&quick2, []int{0x10, 0x11, 0x51, 0x58, 0x59, 0x5a, 0x5c, 0x5d, 0x5e, 0x5f}, qop{modrm: true, pfx: p66 | pF2 | pF3})
	set(&quick2, []int{0x28, 0x29, 0x2e, 0x2f, 0x54, 0x55, 0x56, 0x57}, qop{modrm: true, pfx: p66})
	set(&quick2, []int{0x2a, 0x2c, 0x2d}, qop{modrm: true, pfx: pF2 | pF3, need: true})
	set(&quick2, []int{0x1f}, qop{modrm: true, pfx: p66, regs: 1, noREX: true})
	set(&quick2, span(0x40, 0x4f), qop{modrm: true, pfx: p66})
	set(&quick2, span(0x80, 0x8f), qop{imm: qRel32, noREX: true})
	set(&quick2, span(0x90, 0x9f), qop{modrm: true, regs: 1})
	set(&quick2, []int{0xa3, 0xab, 0xb3, 0xbb, 0xa5, 0xad, 0xaf, 0xb6, 0xb7, 0xbe, 0xbf}, qop{modrm: true, pfx: p66})
	set(&quick2, []int{0xa4, 0xac}, qop{modrm: true, imm: qImm8, pfx: p66})
	set(&quick2, []int{0xba}, qop{modrm: true, imm: qImm8, pfx: p66, regs: 0xf0})
	set(&quick2, []int{0xbc, 0xbd}, qop{modrm: true, pfx: p66 | pF3})
	set(&quick2, []int{0xb8}, qop{modrm: true, pfx: pF3, need: true})
	set(&quick2, []int{0x6e, 0xd6, 0xef}, qop{modrm: true, pfx: p66, need: true})
	set(&quick2, []int{0x6f, 0x7f, 0x7e}, qop{modrm: true, pfx: p66 | pF3, need: true})
	set(&quick2, span(0xc8, 0xcf), qop{})
}

// quickX86 decodes the amd64 instruction at the start of code (at pc)
// as reduceX86 would reduce x86asm's decoding of it, without its decoded
// form; ok is false when the instruction is not one the table knows (or
// is cut short): decode it with x86asm.
func (d *Decoder) quickX86(code []byte, pc uint64, block *[]Ref, r *Inst) (ok bool) {
	if len(code) > 15 {
		code = code[:15]
	}
	i := 0
	var pfx uint8
	if i < len(code) {
		switch code[i] {
		case 0x66:
			pfx = p66
		case 0xf2:
			pfx = pF2
		case 0xf3:
			pfx = pF3
		}
		if pfx != 0 {
			i++
		}
	}
	var rex byte
	if i < len(code) && code[i]&0xf0 == 0x40 {
		rex = code[i]
		i++
	}
	if i >= len(code) {
		return false
	}
	q := &quick1[code[i]]
	if code[i] == 0x0f {
		i++
		if i >= len(code) {
			return false
		}
		q = &quick2[code[i]]
	}
	i++
	if !q.ok || pfx&^q.pfx != 0 || (q.need && pfx == 0) || (q.noREX && rex != 0) || (q.rexW && rex&8 == 0) {
		return false
	}
	wide := rex&8 != 0
	dataMode := 32
	switch {
	case wide:
		dataMode = 64
	case pfx == p66:
		dataMode = 16
	}
	if cap(*block)-len(*block) < 2 {
		*block = make([]Ref, 0, 256)
	}
	refs := len(*block)
	r.Refs = (*block)[refs:refs]
	memRef := -1 // where the disp32 of a RIP-relative operand starts
	var abs int64
	absRef := false
	if q.modrm {
		if i >= len(code) {
			return false
		}
		m := code[i]
		i++
		mod, reg, rm := m>>6, (m>>3)&7, m&7
		if q.regs != 0 && q.regs&(1<<reg) == 0 {
			return false
		}
		if mod == 3 {
			if q.mem {
				return false
			}
		} else {
			if rm == 4 {
				if i >= len(code) {
					return false
				}
				sib := code[i]
				i++
				if sib&7 == 5 && mod == 0 {
					if i+4 > len(code) {
						return false
					}
					abs, absRef = int64(int32(le32(code[i:]))), true
					i += 4
				}
			} else if rm == 5 && mod == 0 {
				memRef = i
				i += 4
			}
			switch mod {
			case 1:
				i++
			case 2:
				i += 4
			}
		}
	}
	immAt, immLen := i, 0
	switch q.imm {
	case qImm8, qRel8:
		immLen = 1
	case qRel32:
		immLen = 4
	case qImmZ:
		immLen = 4
		if dataMode == 16 {
			immLen = 2
		}
	case qImmV:
		immLen = dataMode / 8
	}
	i += immLen
	if i > len(code) {
		return false
	}
	next := pc + uint64(i)
	r.PC, r.Len, r.raw = pc, i, code[:i]
	switch {
	case memRef >= 0:
		r.relOff, r.relLen, r.relRef = int8(memRef), 4, int8(len(r.Refs))
		r.Refs = append(r.Refs, Ref{Addr: next + uint64(int64(int32(le32(code[memRef:]))))})
	case absRef && abs > 0 && d.isAddr(uint64(abs)):
		r.Refs = append(r.Refs, Ref{Addr: uint64(abs)})
	}
	switch q.imm {
	case qRel8:
		r.relOff, r.relLen, r.relRef = int8(immAt), 1, int8(len(r.Refs))
		r.Refs = append(r.Refs, Ref{Addr: next + uint64(int64(int8(code[immAt])))})
	case qRel32:
		r.relOff, r.relLen, r.relRef = int8(immAt), 4, int8(len(r.Refs))
		r.Refs = append(r.Refs, Ref{Addr: next + uint64(int64(int32(le32(code[immAt:]))))})
	}
	if q.mov && dataMode == 32 {
		// x86asm keeps the immediate sign- or zero-extended by the
		// operand's kind; where the two readings disagree on whether it
		// is an address, let x86asm say which it is.
		var vs, vz uint64
		switch immLen {
		case 1:
			vs, vz = uint64(int64(int8(code[immAt]))), uint64(code[immAt])
		case 4:
			u := le32(code[immAt:])
			vs, vz = uint64(int64(int32(u))), uint64(u)
		default:
			return false
		}
		as, az := d.isAddr(vs), d.isAddr(vz)
		switch {
		case as != az || (as && vs != vz):
			return false
		case as:
			r.Refs = append(r.Refs, Ref{Addr: vs, Soft: true})
		}
	}
	if len(r.Refs) == 0 {
		r.Refs = nil
	} else {
		*block = (*block)[:refs+len(r.Refs)]
		r.Refs = r.Refs[:len(r.Refs):len(r.Refs)]
	}
	r.partial, r.dec = true, d
	return true
}

// DecodeRefs decodes code as Decode does, but reads most instructions
// without their decoded form (see quickX86): Equal and Shapes decode one
// when its bytes do not settle what they say of it.
func (d *Decoder) DecodeRefs(code []byte, pc uint64, dst []Inst) (out []Inst, err error) {
	if d.mode != 64 {
		return d.Decode(code, pc, dst)
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("disassemble at %#x: decoder panic: %v", pc, r)
		}
	}()
	out = dst[:0]
	if want := len(code)/4 + 8; cap(out) < want {
		out = make([]Inst, 0, want)
	}
	var refs []Ref
	for off := 0; off < len(code); {
		if cap(refs)-len(refs) < 4 {
			refs = make([]Ref, 0, max(4, min(len(code)/8, 1024)))
		}
		at := pc + uint64(off)
		// Read into its place: an Inst is large (it has room for the
		// decoded forms), and copies of it cost more than reading it.
		n := len(out)
		out = append(out, Inst{})
		if d.quickX86(code[off:], at, &refs, &out[n]) {
			off += out[n].Len
			continue
		}
		out = d.decodeOne(code, off, at, out[:n], &refs)
		off += out[len(out)-1].Len
	}
	return out, nil
}
