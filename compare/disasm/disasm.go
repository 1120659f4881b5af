// Package disasm decodes machine code with golang.org/x/arch (x86asm for
// amd64 and 386, arm64asm for arm64) into instructions reduced for
// comparison: each keeps its operation and operands, with the addresses it
// refers to (branch and call targets, PC-relative and absolute memory
// operands, address immediates) taken out as Refs. Two instructions that
// differ only in those addresses are Equal; whether the addresses agree is
// for the caller to decide, through each side's layout.
//
// Code is untrusted: a byte sequence that decodes to nothing is one Bad
// instruction of one byte (as objdump prints "?"), never an error, and a
// panic inside a decoder is an error.
package disasm

import (
	"bytes"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/arch/arm64/arm64asm"
	"golang.org/x/arch/x86/x86asm"
)

// Supported reports whether arch (GOARCH spelling) can be decoded.
func Supported(arch string) bool { return arch == "amd64" || arch == "386" || arch == "arm64" }

// Ref is an address an instruction refers to.
type Ref struct {
	Addr uint64
	// Soft marks an immediate that looks like an address (it lies in the
	// image) but may be a plain number: equal values are equal whatever
	// the layout says.
	Soft bool
}

// Inst is one decoded instruction.
type Inst struct {
	PC   uint64
	Len  int
	Refs []Ref
	// Bad: the byte at PC decodes to no instruction.
	Bad bool
	// The instruction with its Refs' fields zeroed, for Equal.
	x86 x86asm.Inst
	arm arm64asm.Inst
	raw []byte
	// The PC-relative field of an x86 instruction: where in raw, how
	// long, and which Ref it gives (relLen 0: none).
	relOff, relLen, relRef int8
	// partial: read by DecodeRefs without its decoded form (x86 is
	// zero until dec completes it: see complete).
	partial bool
	dec     *Decoder
	// odd: x86asm does not decode the bytes DecodeRefs read as this
	// instruction (TestQuickMatchesX86asm says it never happens): it is
	// Equal only to the same bytes.
	odd bool
}

// complete decodes a partial instruction's form with x86asm.
func (in *Inst) complete() {
	if !in.partial {
		return
	}
	in.partial = false
	x, err := x86asm.Decode(in.raw, in.dec.mode)
	if err != nil || x.Len != len(in.raw) {
		in.odd = true
		return
	}
	block := make([]Ref, 0, len(x.Args))
	in.x86 = in.dec.reduceX86(x, in.PC, in.raw, &block).x86
}

// sameBytes reports whether a and b have the same bytes outside their
// PC-relative fields and the same kinds of Refs: then they decode alike
// (see rawKey) and are Equal.
func sameBytes(a, b *Inst) bool {
	if len(a.raw) != len(b.raw) || a.relOff != b.relOff || a.relLen != b.relLen || len(a.Refs) != len(b.Refs) {
		return false
	}
	for i := range a.Refs {
		if a.Refs[i].Soft != b.Refs[i].Soft {
			return false
		}
	}
	if a.relLen == 0 {
		return bytes.Equal(a.raw, b.raw)
	}
	f0, f1 := int(a.relOff), int(a.relOff)+int(a.relLen)
	return bytes.Equal(a.raw[:f0], b.raw[:f0]) && bytes.Equal(a.raw[f1:], b.raw[f1:])
}

// Equal reports whether a and b are the same instruction once the
// addresses in their Refs are set aside (their counts must match).
//
// Instructions from DecodeRefs are decoded fully here when their bytes
// alone do not settle it.
func Equal(a, b *Inst) bool {
	if a.partial || b.partial {
		if !a.Bad && !b.Bad && sameBytes(a, b) {
			return true
		}
		a.complete()
		b.complete()
		if a.odd || b.odd {
			return false
		}
	}
	if a.Bad || b.Bad {
		return a.Bad && b.Bad && a.raw[0] == b.raw[0]
	}
	if len(a.Refs) != len(b.Refs) {
		return false
	}
	for i := range a.Refs {
		if a.Refs[i].Soft != b.Refs[i].Soft {
			return false
		}
	}
	return a.x86 == b.x86 && a.arm == b.arm
}

// Shapes gives each distinct instruction, its addresses set aside (what
// Equal compares), a small number: sequences of them compare much faster
// than rendered text. Not safe for concurrent use.
type Shapes struct {
	ids map[shapeKey]int
	// byRaw numbers x86 instructions by their bytes, the PC-relative
	// field zeroed, and their Refs (see rawKey): a much smaller key to
	// hash than the decoded instruction, looked up first (and, for an
	// instruction from DecodeRefs, without decoding it).
	byRaw map[rawKey]int
	odd   uint64 // odd instructions numbered so far
}

// rawKey determines an x86 instruction's shapeKey: decoding does not
// depend on a PC-relative field's value (zeroed here, as in the decoded
// instruction); whether an absolute address or an immediate was taken for
// a Ref (which depends on the side's image) shows in how many Refs there
// are and which are soft, as an instruction has at most one of each.
type rawKey struct {
	raw  [15]byte
	n    uint8
	bad  bool
	refs uint8
	soft uint8
}

type shapeKey struct {
	x86  x86asm.Inst
	arm  arm64asm.Inst
	bad  bool
	raw0 byte
	soft uint64 // bit i: Refs[i].Soft
	refs int
	odd  uint64 // for an odd instruction: a number of its own
}

// Reset forgets the numbers given out, keeping the room they took unless
// there were more than max of them.
func (s *Shapes) Reset(max int) {
	if len(s.ids) > max || len(s.byRaw) > max {
		s.ids, s.byRaw = nil, nil
		return
	}
	clear(s.ids)
	clear(s.byRaw)
}

// ID returns in's number: equal for two instructions exactly when Equal
// holds for them.
func (s *Shapes) ID(in *Inst) int {
	// arm64 decoding looks at the instruction before (pairADRP): only
	// x86 instructions (and undecodable bytes) are numbered by bytes.
	if in.arm.Op != 0 || len(in.raw) > 15 || len(in.Refs) > 8 {
		return s.id(in)
	}
	rk := rawKey{n: uint8(len(in.raw)), bad: in.Bad, refs: uint8(len(in.Refs))}
	copy(rk.raw[:], in.raw)
	if in.relLen > 0 {
		clear(rk.raw[in.relOff : in.relOff+in.relLen])
	}
	for i, r := range in.Refs {
		if r.Soft {
			rk.soft |= 1 << i
		}
	}
	if id, ok := s.byRaw[rk]; ok {
		return id
	}
	id := s.id(in)
	if s.byRaw == nil {
		s.byRaw = map[rawKey]int{}
	}
	s.byRaw[rk] = id
	return id
}

func (s *Shapes) id(in *Inst) int {
	in.complete()
	if s.ids == nil {
		s.ids = map[shapeKey]int{}
	}
	k := shapeKey{bad: in.Bad, refs: len(in.Refs)}
	if in.odd {
		s.odd++
		k.odd = s.odd
	}
	if in.Bad {
		k.raw0 = in.raw[0]
	} else {
		k.x86, k.arm = in.x86, in.arm
		for i, r := range in.Refs {
			if r.Soft && i < 64 {
				k.soft |= 1 << i
			}
		}
	}
	id, ok := s.ids[k]
	if !ok {
		id = len(s.ids)
		s.ids[k] = id
	}
	return id
}

// Decoder decodes one architecture's code.
type Decoder struct {
	arch string
	mode int // x86 mode in bits
	// isAddr reports whether a value lies in the image's address space.
	isAddr func(uint64) bool
}

// Arch is the decoder's architecture.
func (d *Decoder) Arch() string { return d.arch }

// New returns a decoder for arch; isAddr says which values are addresses
// in the image the code comes from (nil: none).
func New(arch string, isAddr func(uint64) bool) (*Decoder, error) {
	if isAddr == nil {
		isAddr = func(uint64) bool { return false }
	}
	d := &Decoder{arch: arch, isAddr: isAddr}
	switch arch {
	case "amd64":
		d.mode = 64
	case "386":
		d.mode = 32
	case "arm64":
	default:
		return nil, fmt.Errorf("disassemble: architecture %q is not supported", arch)
	}
	return d, nil
}

// Decode decodes code, whose first byte is at address pc, appending to dst
// (reused when it has room). The instructions' raw bytes alias code.
func (d *Decoder) Decode(code []byte, pc uint64, dst []Inst) (out []Inst, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("disassemble at %#x: decoder panic: %v", pc, r)
		}
	}()
	out = dst[:0]
	// An instruction takes 4 bytes on arm64 and about as many on average
	// on amd64: room for that many up front, rather than growing (and
	// copying) a slice of large structs many times over.
	if want := len(code)/4 + 8; cap(out) < want {
		out = make([]Inst, 0, want)
	}
	if d.arch == "arm64" {
		return d.decodeARM64(code, pc, out), nil
	}
	// The instructions' Refs are cut from blocks shared by many, rather
	// than allocated one instruction at a time.
	var refs []Ref
	for off := 0; off < len(code); {
		out = d.decodeOne(code, off, pc+uint64(off), out, &refs)
		off += out[len(out)-1].Len
	}
	return out, nil
}

// decodeOne appends the x86 instruction at code[off:] (at address at),
// whose Refs are cut from *refs.
func (d *Decoder) decodeOne(code []byte, off int, at uint64, out []Inst, refs *[]Ref) []Inst {
	in, err := x86asm.Decode(code[off:], d.mode)
	if err != nil || in.Len <= 0 || off+in.Len > len(code) {
		return append(out, Inst{PC: at, Len: 1, Bad: true, raw: code[off : off+1]})
	}
	if cap(*refs)-len(*refs) < len(in.Args) {
		*refs = make([]Ref, 0, max(len(in.Args), min(len(code)/8, 1024)))
	}
	return append(out, d.reduceX86(in, at, code[off:off+in.Len], refs))
}

// fixVEX marks the RIP-relative memory operand of a VEX- or EVEX-encoded
// (AVX, AVX-512) instruction, which x86asm v0.33 decodes as an absolute
// address: in 64-bit mode, ModRM mod=00 rm=101 after the VEX or EVEX
// bytes and the opcode means RIP+disp32 (Intel SDM vol. 2A, 2.2.1.6 and
// table 2-7), as for every other encoding.
func (d *Decoder) fixVEX(in *x86asm.Inst, raw []byte) {
	if d.mode != 64 || len(raw) < 4 {
		return
	}
	var modrm int
	switch raw[0] {
	case 0xc5:
		modrm = 3
	case 0xc4:
		modrm = 4
	case 0x62:
		modrm = 5
	default:
		return
	}
	if len(raw) <= modrm || raw[modrm]&0xc7 != 0x05 {
		return
	}
	for i, a := range in.Args {
		if m, ok := a.(x86asm.Mem); ok && m.Base == 0 && m.Index == 0 {
			m.Base = x86asm.RIP
			in.Args[i] = m
			// mod=00 rm=101 takes no SIB byte: disp32 follows ModRM.
			in.PCRel, in.PCRelOff = 4, modrm+1
		}
	}
}

// reduceX86 makes an Inst of in, appending its Refs to block (which has
// room for one per argument: they are never appended to again).
func (d *Decoder) reduceX86(in x86asm.Inst, pc uint64, raw []byte, block *[]Ref) Inst {
	d.fixVEX(&in, raw)
	r := Inst{PC: pc, Len: in.Len, raw: raw}
	start := len(*block)
	r.Refs = (*block)[start:start]
	next := pc + uint64(in.Len)
	for i, a := range in.Args {
		switch a := a.(type) {
		case x86asm.Rel:
			r.relRef = int8(len(r.Refs))
			r.Refs = append(r.Refs, Ref{Addr: next + uint64(int64(a))})
			in.Args[i] = x86asm.Rel(0)
		case x86asm.Mem:
			switch {
			case a.Base == x86asm.RIP || a.Base == x86asm.EIP || a.Base == x86asm.IP:
				r.relRef = int8(len(r.Refs))
				r.Refs = append(r.Refs, Ref{Addr: next + uint64(a.Disp)})
				a.Disp = 0
				in.Args[i] = a
			case a.Base == 0 && a.Segment == 0 && a.Disp > 0 && d.isAddr(uint64(a.Disp)):
				r.Refs = append(r.Refs, Ref{Addr: uint64(a.Disp)})
				a.Disp = 0
				in.Args[i] = a
			}
		case x86asm.Imm:
			// As the Go disassembler does, only 32-bit moves and pushes
			// of an immediate are taken for addresses.
			if (in.Op == x86asm.MOV || in.Op == x86asm.PUSH) && in.DataSize == 32 && d.isAddr(uint64(a)) {
				r.Refs = append(r.Refs, Ref{Addr: uint64(a), Soft: true})
				in.Args[i] = x86asm.Imm(0)
			}
		}
	}
	if len(r.Refs) == 0 {
		r.Refs = nil
	} else {
		r.Refs = r.Refs[:len(r.Refs):len(r.Refs)]
		*block = (*block)[:start+len(r.Refs)]
	}
	if in.PCRel > 0 && in.PCRelOff+in.PCRel <= len(raw) {
		r.relOff, r.relLen = int8(in.PCRelOff), int8(in.PCRel)
	}
	in.Len, in.PCRel, in.PCRelOff, in.Opcode = 0, 0, 0, 0
	r.x86 = in
	return r
}

// TrimPadding returns ins without the padding after a function's last
// instruction: INT3 bytes on x86, zero words on arm64, as the Go linker
// pads. Anything else is kept, so a changed pad byte still shows.
func TrimPadding(ins []Inst) []Inst {
	n := len(ins)
	for n > 0 {
		r := ins[n-1].raw
		if !(len(r) == 1 && r[0] == 0xcc) && !(len(r) == 4 && r[0]|r[1]|r[2]|r[3] == 0) {
			break
		}
		n--
	}
	return ins[:n]
}

// ShiftRefs returns the Refs of the instructions of code (at address
// pc), one after another, when code differs from a's bytes only inside
// a's PC-relative displacement fields: x86 decoding does not depend on a
// displacement's value, so such code is a's instructions with other
// displacements (instruction i is Equal to a[i] and has as many Refs), and
// need not be decoded, nor its instructions held. ok is false when that
// does not hold (or for arm64): decode code.
func (d *Decoder) ShiftRefs(a []Inst, code []byte, pc uint64, dst []Ref) (out []Ref, ok bool) {
	if d.arch == "arm64" {
		return dst, false
	}
	out = dst[:0]
	off := 0
	for i := range a {
		x := &a[i]
		if off+x.Len > len(code) {
			return dst, false
		}
		y := code[off : off+x.Len]
		if x.relLen > 0 {
			f0, f1 := int(x.relOff), int(x.relOff)+int(x.relLen)
			if !bytes.Equal(x.raw[:f0], y[:f0]) || !bytes.Equal(x.raw[f1:], y[f1:]) {
				return dst, false
			}
			var disp int64
			switch x.relLen {
			case 1:
				disp = int64(int8(y[f0]))
			case 2:
				disp = int64(int16(uint16(y[f0]) | uint16(y[f0+1])<<8))
			case 4:
				disp = int64(int32(le32(y[f0:])))
			default:
				return dst, false
			}
			n := len(out)
			out = append(out, x.Refs...)
			out[n+int(x.relRef)].Addr = pc + uint64(off) + uint64(x.Len) + uint64(disp)
		} else {
			if !bytes.Equal(x.raw, y) {
				return dst, false
			}
			out = append(out, x.Refs...)
		}
		off += x.Len
	}
	if off != len(code) {
		return dst, false
	}
	return out, true
}

func (d *Decoder) decodeARM64(code []byte, pc uint64, out []Inst) []Inst {
	for off := 0; off+4 <= len(code); off += 4 {
		at := pc + uint64(off)
		in, err := arm64asm.Decode(code[off:])
		if err != nil {
			out = append(out, Inst{PC: at, Len: 4, Bad: true, raw: code[off : off+4]})
			continue
		}
		r := Inst{PC: at, Len: 4, raw: code[off : off+4]}
		for i, a := range in.Args {
			p, ok := a.(arm64asm.PCRel)
			if !ok {
				continue
			}
			target := at + uint64(int64(p))
			if in.Op == arm64asm.ADRP {
				target = at&^0xfff + uint64(int64(p))
			}
			r.Refs = append(r.Refs, Ref{Addr: target})
			in.Args[i] = arm64asm.PCRel(0)
		}
		in.Enc = 0
		r.arm = in
		out = append(out, r)
	}
	if rest := len(code) % 4; rest != 0 {
		out = append(out, Inst{PC: pc + uint64(len(code)-rest), Len: rest, Bad: true, raw: code[len(code)-rest:]})
	}
	pairADRP(out)
	return out
}

// pairADRP folds the low twelve bits that the instruction after an ADRP
// adds (ADD immediate, or a load or store with an unsigned offset, on the
// ADRP's register) into the ADRP's Ref, so a symbol's address is one Ref.
// arm64asm keeps those immediates in unexported fields, so they are read
// from the encoding (Arm ARM C4.1: ADD (immediate), LDR/STR (immediate,
// unsigned offset)).
func pairADRP(ins []Inst) {
	for i := 0; i+1 < len(ins); i++ {
		a, b := &ins[i], &ins[i+1]
		if a.Bad || b.Bad || a.arm.Op != arm64asm.ADRP || len(a.Refs) != 1 {
			continue
		}
		rd := le32(a.raw) & 31
		enc := le32(b.raw)
		rn := (enc >> 5) & 31
		if rn != rd {
			continue
		}
		var lo uint64
		switch {
		case enc&0x7fc00000 == 0x11000000: // ADD (immediate), 32 or 64 bit, no shift
			lo = uint64(enc>>10) & 0xfff
			for j, arg := range b.arm.Args {
				if _, ok := arg.(arm64asm.ImmShift); ok {
					b.arm.Args[j] = arm64asm.ImmShift{}
				}
			}
		case enc&0x3b000000 == 0x39000000: // LDR/STR (immediate, unsigned offset)
			scale := enc >> 30
			if enc&(1<<26) != 0 && (enc>>22)&2 != 0 { // 128-bit SIMD
				scale = 4
			}
			lo = uint64((enc>>10)&0xfff) << scale
			for j, arg := range b.arm.Args {
				if m, ok := arg.(arm64asm.MemImmediate); ok {
					b.arm.Args[j] = arm64asm.MemImmediate{Base: m.Base, Mode: m.Mode}
				}
			}
		default:
			continue
		}
		a.Refs[0].Addr += lo
	}
}

// Candidates calls fn for every address the code might refer to, found
// by a scan without decoding: on x86, each 32-bit field read both as a
// displacement from its end and as an absolute address; on arm64, each
// ADRP with the ADD or load that completes it. Only targets in [lo, hi]
// are reported. It over-reports (the scan does not know where
// instructions start): decode to confirm.
func Candidates(arch string, code []byte, pc, lo, hi uint64, fn func(at, target uint64)) {
	switch arch {
	case "amd64", "386":
		for i := 0; i+4 <= len(code); i++ {
			d := int64(int32(le32(code[i:])))
			at := pc + uint64(i)
			if t := at + 4 + uint64(d); t >= lo && t <= hi {
				fn(at, t)
			}
			if t := uint64(uint32(d)); t >= lo && t <= hi {
				fn(at, t)
			}
		}
	case "arm64":
		for i := 0; i+8 <= len(code); i += 4 {
			a := le32(code[i:])
			if a&0x9f000000 != 0x90000000 { // ADRP
				continue
			}
			imm := int64(int32((a>>29&3|(a>>5&0x7ffff)<<2)<<13) >> 13)
			page := (pc+uint64(i))&^0xfff + uint64(imm<<12)
			b := le32(code[i+4:])
			var low uint64
			switch {
			case b&0x7fc00000 == 0x11000000:
				low = uint64(b>>10) & 0xfff
			case b&0x3b000000 == 0x39000000:
				low = uint64((b>>10)&0xfff) << (b >> 30)
			}
			if t := page + low; t >= lo && t <= hi {
				fn(pc+uint64(i), t)
			}
		}
	}
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// Kept is what Text needs of an instruction besides its bytes: a small
// copy to hold for an instruction a report shows once its names are
// known, rather than decoding its function again then.
type Kept struct {
	PC  uint64
	adr uint64 // an arm64 ADRP's one Ref, with the offset paired to it
	n   uint8  // how many bytes
	bad bool
	one bool // it has exactly one Ref
	// The PC-relative field, as in Inst.
	relOff, relLen int8
}

// Len is how many bytes the kept instruction takes.
func (k *Kept) Len() int { return int(k.n) }

// Keep returns what Text needs of in besides its bytes.
func (in *Inst) Keep() Kept {
	k := Kept{PC: in.PC, n: uint8(len(in.raw)), bad: in.Bad, one: len(in.Refs) == 1, relOff: in.relOff, relLen: in.relLen}
	if k.one {
		k.adr = in.Refs[0].Addr
	}
	return k
}

// Text renders in in Go assembler syntax; name labels an address (it
// returns "" for one it cannot name).
func (d *Decoder) Text(in *Inst, name func(uint64) string) string {
	k := in.Keep()
	return d.KeptText(&k, in.raw, name)
}

// KeptText renders a kept instruction as Text does; raw is its bytes
// (Len of them at its PC).
func (d *Decoder) KeptText(in *Kept, raw []byte, name func(uint64) string) string {
	s, _ := d.keptText(in, raw, name)
	return s
}

// Texts remembers the text of x86 instructions by their bytes: of those
// that say nothing relative to their own address, and of those whose one
// PC-relative operand (a branch, a call, memory named by a symbol) is
// known by where it points, its field set aside. Many lines of a large
// diff repeat such an instruction (a call of the same function, a load of
// the same variable). It is safe for concurrent use.
type Texts struct {
	mu sync.RWMutex
	m  map[textKey]string
}

type textKey struct {
	raw    [15]byte // the PC-relative field zeroed when target is set
	n      uint8
	byDest bool
	target uint64
}

// maxTexts bounds what a Texts holds.
const maxTexts = 1 << 16

// textKind says what an instruction's text depends on besides its bytes.
type textKind int

const (
	textHere     textKind = iota // its address
	textAnywhere                 // nothing
	textByTarget                 // the address its PC-relative field points at
)

// CachedText is KeptText, looked up in c first; c must only ever be used
// with one name function.
func (d *Decoder) CachedText(c *Texts, in *Kept, raw []byte, name func(uint64) string) string {
	if d.arch == "arm64" || in.bad || len(raw) > len(textKey{}.raw) {
		return d.KeptText(in, raw, name)
	}
	k := textKey{n: uint8(len(raw))}
	copy(k.raw[:], raw)
	if f0, f1 := int(in.relOff), int(in.relOff)+int(in.relLen); in.relLen > 0 && f1 <= len(raw) && in.PC != 0 {
		var disp int64
		switch in.relLen {
		case 1:
			disp = int64(int8(raw[f0]))
		case 2:
			disp = int64(int16(uint16(raw[f0]) | uint16(raw[f0+1])<<8))
		case 4:
			disp = int64(int32(le32(raw[f0:])))
		}
		clear(k.raw[f0:f1])
		k.byDest, k.target = true, in.PC+uint64(len(raw))+uint64(disp)
	}
	c.mu.RLock()
	s, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return s
	}
	s, kind := d.keptText(in, raw, name)
	if (kind == textAnywhere && !k.byDest) || (kind == textByTarget && k.byDest) {
		c.mu.Lock()
		if c.m == nil {
			c.m = map[textKey]string{}
		}
		if len(c.m) < maxTexts {
			c.m[k] = s
		}
		c.mu.Unlock()
	}
	return s
}

// keptText is KeptText, and what the text depends on besides the bytes.
// x86asm's GoSyntax reads the address only for a Rel operand (the target:
// named when a symbol starts there, else the number) and for memory
// relative to the instruction pointer (the target named by a symbol, else
// the displacement as it is).
func (d *Decoder) keptText(in *Kept, raw []byte, name func(uint64) string) (s string, kind textKind) {
	if in.bad {
		return fmt.Sprintf("? % x", raw), textHere
	}
	defer func() {
		if recover() != nil {
			s, kind = fmt.Sprintf("? % x", raw), textHere
		}
	}()
	sym := func(addr uint64) (string, uint64) {
		if n := name(addr); n != "" {
			return n, addr
		}
		return "", 0
	}
	if d.arch == "arm64" {
		x, err := arm64asm.Decode(raw)
		if err != nil {
			return fmt.Sprintf("? % x", raw), textHere
		}
		t := arm64asm.GoSyntax(x, in.PC, sym, nil)
		if x.Op == arm64asm.ADRP && in.one {
			// GoSyntax shows the page offset; show what it resolves to.
			if n := name(in.adr); n != "" {
				if i := strings.Index(t, "(PC)"); i >= 0 {
					if j := strings.LastIndexAny(t[:i], " $"); j >= 0 {
						t = t[:j+1] + n + "(SB)" + t[i+len("(PC)"):]
					}
				}
			}
		}
		return t, textHere
	}
	x, err := x86asm.Decode(raw, d.mode)
	if err != nil {
		return fmt.Sprintf("? % x", raw), textAnywhere
	}
	d.fixVEX(&x, raw)
	here, byTarget := 0, false
	for _, a := range x.Args {
		switch a := a.(type) {
		case x86asm.Rel:
			here++
			byTarget = true
		case x86asm.Mem:
			if a.Base == x86asm.RIP || a.Base == x86asm.EIP || a.Base == x86asm.IP {
				here++
				target := uint64(a.Disp + int64(in.PC) + int64(x.Len))
				byTarget = a.Base == x86asm.RIP && a.Segment == 0 && a.Index == 0 && a.Scale == 0 && a.Disp != 0 && name(target) != ""
			}
		}
	}
	switch {
	case here == 0:
		kind = textAnywhere
	case here == 1 && byTarget && in.PC != 0 && x.PCRel == int(in.relLen) && x.PCRelOff == int(in.relOff):
		kind = textByTarget
	}
	return x86asm.GoSyntax(x, in.PC, sym), kind
}
