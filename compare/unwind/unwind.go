// Package unwind recovers function boundaries from the unwind tables that
// stripped executables keep: the call-frame information of ELF's
// .eh_frame (one FDE per function, whatever the compiler) and the
// RUNTIME_FUNCTION entries of PE's .pdata (x64, arm64). A binary stripped of
// its symbols still has them, because exceptions and stack unwinding
// need them at run time.
//
// Only the ranges are read, never the unwind instructions. The parsers are
// written here rather than taken from a debugger's frame package (delve's
// pkg/dwarf/frame reads whole CFI programs, panics on some malformed
// input and brings a debugger's module along): the tables come from
// untrusted files, and the little needed is easy to bound.
package unwind

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// Range is one function's code: [Start, Start+Size).
type Range struct {
	Start, Size uint64
}

// MaxRanges bounds how many functions one table may describe.
const MaxRanges = 1 << 20

// DW_EH_PE pointer encodings (LSB Core, "DWARF Extensions").
const (
	peAbsptr  = 0x00
	peULEB128 = 0x01
	peUdata2  = 0x02
	peUdata4  = 0x03
	peUdata8  = 0x04
	peSLEB128 = 0x09
	peSdata2  = 0x0a
	peSdata4  = 0x0b
	peSdata8  = 0x0c
	pePCRel   = 0x10
	peDataRel = 0x30
	peOmit    = 0xff
)

// ErrMalformed is wrapped by every error about the table's content.
var ErrMalformed = errors.New("malformed unwind table")

func malformed(off int, format string, args ...any) error {
	return fmt.Errorf("%w: at +%#x: %s", ErrMalformed, off, fmt.Sprintf(format, args...))
}

// reader reads one record's fields, refusing to run past its end.
type reader struct {
	b     []byte
	off   int // within b
	order binary.ByteOrder
	err   error
}

func (r *reader) need(n int) bool {
	if r.err != nil {
		return false
	}
	if n < 0 || r.off+n > len(r.b) || r.off+n < r.off {
		r.err = malformed(r.off, "field runs past the end of its record")
		return false
	}
	return true
}

func (r *reader) u8() uint8 {
	if !r.need(1) {
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

func (r *reader) fixed(n int) uint64 {
	if !r.need(n) {
		return 0
	}
	var v uint64
	switch n {
	case 2:
		v = uint64(r.order.Uint16(r.b[r.off:]))
	case 4:
		v = uint64(r.order.Uint32(r.b[r.off:]))
	case 8:
		v = r.order.Uint64(r.b[r.off:])
	}
	r.off += n
	return v
}

func (r *reader) uleb() uint64 {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		c := r.u8()
		if r.err != nil {
			return 0
		}
		if shift < 64 {
			v |= uint64(c&0x7f) << shift
		}
		if c&0x80 == 0 {
			return v
		}
		if shift > 63 {
			r.err = malformed(r.off, "LEB128 number longer than 64 bits")
			return 0
		}
	}
}

func (r *reader) sleb() int64 {
	var v int64
	var shift uint
	var c uint8
	for {
		c = r.u8()
		if r.err != nil {
			return 0
		}
		if shift < 64 {
			v |= int64(c&0x7f) << shift
		}
		shift += 7
		if c&0x80 == 0 {
			break
		}
		if shift > 70 {
			r.err = malformed(r.off, "LEB128 number longer than 64 bits")
			return 0
		}
	}
	if shift < 64 && c&0x40 != 0 {
		v |= -1 << shift
	}
	return v
}

func (r *reader) cstring() string {
	start := r.off
	for r.need(1) {
		if r.b[r.off] == 0 {
			s := string(r.b[start:r.off])
			r.off++
			return s
		}
		r.off++
	}
	return ""
}

// encoded reads a pointer in encoding enc; here is the address of the
// field (for pc-relative encodings); absolute ignores the application
// (a range length is encoded in the format but never relative).
func (r *reader) encoded(enc uint8, ptrSize int, here uint64, absolute bool) uint64 {
	var v uint64
	switch enc & 0x0f {
	case peAbsptr:
		v = r.fixed(ptrSize)
	case peULEB128:
		v = r.uleb()
	case peUdata2, peSdata2:
		v = r.fixed(2)
		if enc&0x0f == peSdata2 {
			v = uint64(int64(int16(v)))
		}
	case peUdata4, peSdata4:
		v = r.fixed(4)
		if enc&0x0f == peSdata4 {
			v = uint64(int64(int32(v)))
		}
	case peUdata8, peSdata8:
		v = r.fixed(8)
	case peSLEB128:
		v = uint64(r.sleb())
	default:
		if r.err == nil {
			r.err = malformed(r.off, "pointer encoding %#x", enc)
		}
		return 0
	}
	if absolute {
		return v
	}
	switch enc & 0x70 {
	case 0:
	case pePCRel:
		v += here
	default:
		// Data-, text- and function-relative pointers need bases
		// .eh_frame does not give; compilers do not use them for FDEs.
		if r.err == nil {
			r.err = malformed(r.off, "pointer application %#x", enc&0x70)
		}
	}
	return v
}

// cie is what an FDE needs of its CIE.
type cie struct {
	enc uint8 // FDE pointer encoding ('R' augmentation), absptr by default
	aug bool  // the augmentation has 'z': FDEs carry augmentation data
}

// EHFrame returns the functions an .eh_frame section describes, sorted by
// start and without repeats. data is the section's bytes, addr the
// address it is loaded at, ptrSize 4 or 8. An FDE whose range is empty is
// left out.
func EHFrame(data []byte, addr uint64, ptrSize int, order binary.ByteOrder) ([]Range, error) {
	if ptrSize != 4 && ptrSize != 8 {
		return nil, fmt.Errorf("read .eh_frame: pointer size %d", ptrSize)
	}
	cies := map[int]cie{}
	var out []Range
	for off := 0; off < len(data); {
		if len(data)-off < 4 {
			return nil, malformed(off, "truncated record length")
		}
		length := uint64(order.Uint32(data[off:]))
		hdr := 4
		if length == 0xffffffff {
			if len(data)-off < 12 {
				return nil, malformed(off, "truncated 64-bit record length")
			}
			length, hdr = order.Uint64(data[off+4:]), 12
		}
		if length == 0 {
			break // the terminator
		}
		if length > uint64(len(data)-off-hdr) {
			return nil, malformed(off, "record of %d bytes runs past the end of the section", length)
		}
		start := off + hdr
		rec := data[:start+int(length)] // fields stay within the record
		r := &reader{b: rec, off: start, order: order}
		idOff := r.off
		id := r.fixed(4)
		if r.err != nil {
			return nil, r.err
		}
		if id == 0 {
			c, err := readCIE(r, ptrSize)
			if err != nil {
				return nil, err
			}
			cies[off] = c
		} else {
			ciePos := idOff - int(id)
			c, ok := cies[ciePos]
			if !ok || id > uint64(idOff) {
				return nil, malformed(off, "FDE names no CIE before it (pointer %#x)", id)
			}
			here := addr + uint64(r.off)
			begin := r.encoded(c.enc, ptrSize, here, false)
			size := r.encoded(c.enc, ptrSize, 0, true)
			if r.err != nil {
				return nil, r.err
			}
			if ptrSize == 4 {
				begin &= 0xffffffff
			}
			if size > 0 && begin+size > begin {
				if len(out) >= MaxRanges {
					return nil, malformed(off, "more than %d functions", MaxRanges)
				}
				out = append(out, Range{begin, size})
			}
		}
		off = start + int(length)
	}
	return sortRanges(out), nil
}

func readCIE(r *reader, ptrSize int) (cie, error) {
	c := cie{enc: peAbsptr}
	ver := r.u8()
	if r.err == nil && ver != 1 && ver != 3 {
		return c, malformed(r.off-1, "CIE version %d", ver)
	}
	aug := r.cstring()
	if len(aug) > 0 && aug[0] != 'z' {
		// Without 'z' the FDEs' layout depends on augmentations we would
		// have to understand; only "eh" (GCC 2) is known, and carries a
		// pointer.
		if aug != "eh" {
			return c, malformed(r.off, "CIE augmentation %q", aug)
		}
		r.fixed(ptrSize)
	}
	r.uleb() // code alignment
	r.sleb() // data alignment
	if ver == 1 {
		r.u8() // return address register
	} else {
		r.uleb()
	}
	if len(aug) > 0 && aug[0] == 'z' {
		c.aug = true
		n := r.uleb()
		if r.err != nil {
			return c, r.err
		}
		if n > uint64(len(r.b)-r.off) {
			return c, malformed(r.off, "augmentation data of %d bytes runs past the record", n)
		}
		end := r.off + int(n)
		for _, ch := range aug[1:] {
			switch ch {
			case 'R':
				c.enc = r.u8()
			case 'L':
				r.u8()
			case 'P':
				enc := r.u8()
				r.encoded(enc&^0x80, ptrSize, 0, true) // personality: the value is not needed
			case 'S', 'B', 'G':
			default:
				// An augmentation we do not know: its data is skipped
				// thanks to 'z', and the FDE encoding stays what it was.
				r.off = end
			}
			if r.err != nil || r.off >= end {
				break
			}
		}
	}
	if r.err != nil {
		return c, r.err
	}
	if c.enc == peOmit || (c.enc&0x0f) > peSdata8 {
		return c, malformed(r.off, "FDE pointer encoding %#x", c.enc)
	}
	return c, nil
}

// PData returns the functions a PE .pdata section describes (x64:
// RUNTIME_FUNCTION, 12 bytes each: begin and end RVAs and the unwind
// information's), as addresses (base plus RVA), sorted and without
// repeats.
func PData(data []byte, base uint64) ([]Range, error) {
	if len(data)%12 != 0 {
		// Sections are padded in the file; a table's length is given by
		// the exception directory, which the caller cuts to.
		data = data[:len(data)-len(data)%12]
	}
	if len(data)/12 > MaxRanges {
		return nil, malformed(0, "more than %d functions", MaxRanges)
	}
	le := binary.LittleEndian
	var out []Range
	for off := 0; off+12 <= len(data); off += 12 {
		begin, end := le.Uint32(data[off:]), le.Uint32(data[off+4:])
		if begin == 0 && end == 0 {
			continue // padding
		}
		if end <= begin {
			return nil, malformed(off, "RUNTIME_FUNCTION ends at %#x, before it begins at %#x", end, begin)
		}
		out = append(out, Range{base + uint64(begin), uint64(end - begin)})
	}
	return sortRanges(out), nil
}

// PDataARM64 is PData for arm64 images, whose entries are 8 bytes: the
// begin RVA and either the unwind data's RVA or packed unwind data that
// holds the function's length.
func PDataARM64(data []byte, base uint64) ([]Range, error) {
	data = data[:len(data)-len(data)%8]
	if len(data)/8 > MaxRanges {
		return nil, malformed(0, "more than %d functions", MaxRanges)
	}
	le := binary.LittleEndian
	var out []Range
	for off := 0; off+8 <= len(data); off += 8 {
		begin, info := le.Uint32(data[off:]), le.Uint32(data[off+4:])
		if begin == 0 && info == 0 {
			continue
		}
		if info&3 == 0 {
			// The length is in .xdata; a function known only by its start
			// runs to the next one (the caller sizes it).
			out = append(out, Range{base + uint64(begin), 0})
			continue
		}
		out = append(out, Range{base + uint64(begin), uint64((info>>2)&0x7ff) * 4})
	}
	return sortRanges(out), nil
}

// sortRanges sorts by start and keeps one range per start (the longest).
func sortRanges(rs []Range) []Range {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Start != rs[j].Start {
			return rs[i].Start < rs[j].Start
		}
		return rs[i].Size > rs[j].Size
	})
	out := rs[:0]
	for i, r := range rs {
		if i > 0 && r.Start == rs[i-1].Start {
			continue
		}
		out = append(out, r)
	}
	return out
}
