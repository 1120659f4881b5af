// Package pclntab recovers the functions of a Go binary (names and address
// ranges) from its pclntab, the table the runtime itself uses for stack
// traces. Stripped binaries (-s) keep it, so a binary without a symbol
// table can still be compared function by function.
//
// The table is decoded by debug/gosym. This package adds what gosym lacks
// for untrusted input, using the runtime's documented layout of the table's
// header (runtime/symtab.go, pcHeader):
//   - gosym allocates a Func for every entry the header claims, before
//     looking at the data: a corrupt count asks for gigabytes. ParseHeader
//     checks that the function table the header describes fits in the data.
//   - gosym panics on some malformed tables and silently returns no
//     functions on others: Funcs turns both into errors.
//   - gosym needs the address of the text the table describes, which for
//     Go 1.18 and later it does not read from the header (it may be
//     unrelocated there). Header.TextStart gives the recorded value so the
//     caller can check it against the sections.
//   - a stripped PE binary has no section and no symbol naming the table:
//     Find locates the header by its magic number.
package pclntab

import (
	"bytes"
	"debug/gosym"
	"encoding/binary"
	"errors"
	"fmt"
)

// Version is the layout of a pclntab, named by the first Go release that
// wrote it.
type Version int

// Layouts.
const (
	Go12  Version = iota + 1 // Go 1.2 to 1.15
	Go116                    // Go 1.16 and 1.17
	Go118                    // Go 1.18 and 1.19
	Go120                    // Go 1.20 and later
)

func (v Version) String() string {
	switch v {
	case Go12:
		return "go1.2"
	case Go116:
		return "go1.16"
	case Go118:
		return "go1.18"
	case Go120:
		return "go1.20"
	}
	return fmt.Sprintf("Version(%d)", int(v))
}

var magics = map[uint32]Version{0xfffffffb: Go12, 0xfffffffa: Go116, 0xfffffff0: Go118, 0xfffffff1: Go120}

// Header is what a pclntab's header says.
type Header struct {
	Version   Version
	ByteOrder binary.ByteOrder
	PtrSize   int
	NFunc     int
	// TextStart is the text address the header records (Go 1.18 and
	// later; 0 before, and 0 in position-independent binaries whose
	// loader fills it in).
	TextStart uint64
	// FuncnameOffset is where the function names start, from the
	// header (Go 1.16 and later; 0 before).
	FuncnameOffset uint64
}

// MaxFuncs bounds the functions one table may declare (a very large Go
// binary has a few hundred thousand).
const MaxFuncs = 4_000_000

// ParseHeader reads and checks the header at the start of data.
func ParseHeader(data []byte) (Header, error) {
	var h Header
	if len(data) < 16 {
		return h, errors.New("pclntab: too short for a header")
	}
	for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		if v, ok := magics[bo.Uint32(data)]; ok {
			h.Version, h.ByteOrder = v, bo
			break
		}
	}
	if h.Version == 0 {
		return h, errors.New("pclntab: no known magic number")
	}
	if data[4] != 0 || data[5] != 0 {
		return h, errors.New("pclntab: header padding is not zero")
	}
	if lc := data[6]; lc != 1 && lc != 2 && lc != 4 {
		return h, fmt.Errorf("pclntab: instruction size quantum %d", lc)
	}
	h.PtrSize = int(data[7])
	if h.PtrSize != 4 && h.PtrSize != 8 {
		return h, fmt.Errorf("pclntab: pointer size %d", h.PtrSize)
	}
	word := func(i int) (uint64, error) {
		off := 8 + i*h.PtrSize
		if off+h.PtrSize > len(data) {
			return 0, errors.New("pclntab: header runs past the data")
		}
		if h.PtrSize == 4 {
			return uint64(h.ByteOrder.Uint32(data[off:])), nil
		}
		return h.ByteOrder.Uint64(data[off:]), nil
	}
	n, err := word(0)
	if err != nil {
		return h, err
	}
	if n > MaxFuncs {
		return h, fmt.Errorf("pclntab: %d functions is over the limit of %d", n, MaxFuncs)
	}
	h.NFunc = int(n)
	// Where the function table starts and how big one entry is: the
	// table holds NFunc+1 entries (the last gives the end of the text).
	var ftab uint64
	entry := uint64(2 * h.PtrSize)
	switch h.Version {
	case Go12:
		ftab = uint64(8 + h.PtrSize)
	case Go116:
		if h.FuncnameOffset, err = word(2); err != nil {
			return h, err
		}
		if ftab, err = word(6); err != nil { // pclnOffset
			return h, err
		}
	default:
		if h.TextStart, err = word(2); err != nil {
			return h, err
		}
		if h.FuncnameOffset, err = word(3); err != nil {
			return h, err
		}
		if ftab, err = word(7); err != nil { // pclnOffset
			return h, err
		}
		entry = 8 // two uint32 offsets from the start of the text
	}
	if ftab > uint64(len(data)) || (uint64(h.NFunc)+1)*entry > uint64(len(data))-ftab {
		return h, fmt.Errorf("pclntab: a table of %d functions does not fit in %d bytes", h.NFunc, len(data))
	}
	return h, nil
}

// Find returns the offset in data of the first plausible pclntab header
// (one ParseHeader accepts), or -1.
func Find(data []byte) int {
	var pats [][]byte
	for m := range magics {
		var le, be [4]byte
		binary.LittleEndian.PutUint32(le[:], m)
		binary.BigEndian.PutUint32(be[:], m)
		pats = append(pats, le[:], be[:])
	}
	best := -1
	for _, p := range pats {
		for off := 0; off < len(data); {
			i := bytes.Index(data[off:], p)
			if i < 0 {
				break
			}
			at := off + i
			if best >= 0 && at >= best {
				break
			}
			// The runtime aligns the header to a pointer.
			if at%4 == 0 {
				if _, err := ParseHeader(data[at:]); err == nil {
					best = at
					break
				}
			}
			off = at + 1
		}
	}
	return best
}

// Func is one function: its name and the addresses [Entry, End).
type Func struct {
	Name       string
	Entry, End uint64
}

// Funcs decodes the table at the start of data, whose functions live in
// text starting at textStart. The functions come in address order.
func Funcs(data []byte, textStart uint64) (fs []Func, err error) {
	h, err := ParseHeader(data)
	if err != nil {
		return nil, err
	}
	if h.NFunc == 0 {
		return nil, nil
	}
	defer func() {
		if r := recover(); r != nil {
			fs, err = nil, fmt.Errorf("pclntab: malformed table (%v)", r)
		}
	}()
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, textStart))
	if err != nil {
		return nil, fmt.Errorf("pclntab: %w", err)
	}
	if len(tab.Funcs) != h.NFunc {
		// gosym gives up silently on a malformed table.
		return nil, fmt.Errorf("pclntab: malformed table (%d of %d functions decoded)", len(tab.Funcs), h.NFunc)
	}
	fs = make([]Func, 0, len(tab.Funcs))
	var last uint64
	for i, f := range tab.Funcs {
		if f.End < f.Entry || f.Entry < last {
			return nil, fmt.Errorf("pclntab: function %d (%q) is out of order", i, f.Name)
		}
		last = f.Entry
		fs = append(fs, Func{Name: f.Name, Entry: f.Entry, End: f.End})
	}
	return fs, nil
}
