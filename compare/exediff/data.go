package exediff

import (
	"bytes"
	"fmt"
	"slices"
	"sort"

	"github.com/reprove/reprove/compare/exe"
	"github.com/reprove/reprove/internal/english"
)

// words compares pointer-sized words: equal, or one a pointer that maps
// to the other. A value that lies in the image is taken for a pointer.
type words struct {
	m       *mapper
	ptr     int
	big     bool
	maxShow int
	// collecting: a first pass that only notes the pointers into
	// strings, strA and strB.
	collecting bool
	strA, strB []uint64
	// changed lists the first side's addresses of unnamed words that
	// differ, in order; claimed those a function that refers to them
	// shows.
	changed []uint64
	claimed map[uint64]bool
}

// changedAt returns the differing words (described) of the block of data
// no object names at ra (the first side's address a function refers to;
// rb the second's): the words from ra up to the next referenced address,
// at most four.
func (w *words) changedAt(ra, rb uint64) []string {
	if k, _ := kindOf(w.m.a, ra); k != unnamed {
		return nil
	}
	i, _ := slices.BinarySearch(w.changed, ra)
	end := ra + 4*uint64(w.ptr)
	if j := sort.Search(len(w.m.anchors), func(j int) bool { return w.m.anchors[j].ra > ra }); j < len(w.m.anchors) {
		end = min(end, w.m.anchors[j].ra)
	}
	var out []string
	for ; i < len(w.changed) && w.changed[i] < end; i++ {
		c := w.changed[i]
		x := w.m.a.at(c, int64(w.ptr))
		y := w.m.b.at(rb+(c-ra), int64(w.ptr))
		// Seen from this reference, the word may be where it should.
		if x != nil && (y == nil || !w.same(x, y)) {
			out = append(out, w.describe(c, x, y))
			if w.claimed != nil {
				w.claimed[c] = true
			}
		}
	}
	return out
}

// settle marks the data items whose every changed word a function that
// refers to it shows.
func (w *words) settle(items []Item) {
	for i := range items {
		all := len(items[i].words) > 0
		for _, a := range items[i].words {
			all = all && w.claimed[a]
		}
		items[i].ShownWithCode = all
	}
}

// describe renders one differing word: where, and both values, labelled
// when they are addresses.
func (w *words) describe(addr uint64, x, y []byte) string {
	va := w.word(x)
	s := fmt.Sprintf("%s: %s", w.m.a.label(addr), w.value(w.m.a, va))
	if y == nil {
		return s + " → (nothing there)"
	}
	return s + " → " + w.value(w.m.b, w.word(y))
}

func (w *words) value(l *layout, v uint64) string {
	if !l.isAddr(v) {
		return fmt.Sprintf("%#x", v)
	}
	if s := l.stringAt(v); s != "" {
		return fmt.Sprintf("%#x %s", v, s)
	}
	return fmt.Sprintf("%#x (%s)", v, l.label(v))
}

func (w *words) word(b []byte) uint64 {
	var v uint64
	if w.big {
		for i := 0; i < w.ptr; i++ {
			v = v<<8 | uint64(b[i])
		}
		return v
	}
	for i := w.ptr - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// scanStrings notes the pointers into strings of data both sides hold
// identically at the same address.
func (w *words) scanStrings(x []byte, addr uint64) {
	lo, hi := w.m.a.runSpan()
	lo2, hi2 := w.m.b.runSpan()
	lo, hi = min(lo, lo2), max(hi, hi2)
	ptr := uint64(w.ptr)
	for off := (ptr - addr%ptr) % ptr; off+ptr <= uint64(len(x)); off += ptr {
		if v := w.word(x[off:]); v >= lo && v < hi {
			w.strA = w.noteString(w.m.a, w.strA, v, x[off:])
			w.strB = w.noteString(w.m.b, w.strB, v, x[off:])
		}
	}
}

// noteString notes where a literal starts when v points into strings, and
// where it ends when the next word is its length (a Go string header).
func (w *words) noteString(l *layout, bounds []uint64, v uint64, x []byte) []uint64 {
	i := l.runAt(v)
	if i < 0 {
		return bounds
	}
	bounds = append(bounds, v)
	if len(x) >= 2*w.ptr {
		n := w.word(x[w.ptr:])
		r := l.runs[i]
		if n > 0 && v+n <= r.addr+uint64(len(r.text)) {
			bounds = append(bounds, v+n)
		}
	}
	return bounds
}

// same compares the word at the start of x (first side) with that of y.
// A pair of pointers no object names is the same when its shift is that
// of a referenced address at or next to it. While collecting, pointers
// into strings are noted (they mark where literals start).
func (w *words) same(x, y []byte) bool {
	va, vb := w.word(x), w.word(y)
	if !w.m.a.isAddr(va) || !w.m.b.isAddr(vb) {
		return va == vb
	}
	if w.collecting {
		w.strA = w.noteString(w.m.a, w.strA, va, x)
		w.strB = w.noteString(w.m.b, w.strB, vb, y)
	}
	if same, decided := w.m.resolve(va, vb, false); decided {
		return same
	}
	if w.m.consistent(va, vb) {
		return true
	}
	var buf [3]uint64
	for _, d := range w.m.shiftsNear(va, buf[:0]) {
		if va+d == vb {
			return true
		}
	}
	return w.m.sameContent(va, vb, w.ptr)
}

// firstWord keeps what sameOffsetsOf and sameOf learn of one word of the
// first side, which unnamedData compares with the second side's words at
// several shifts: they depend on the first side alone.
type firstWord struct {
	known  bool // word, isAddr set
	word   uint64
	isAddr bool
	halves [2]firstHalf
}

type firstHalf struct {
	known  bool // ra, isAddr, kind, o, anchor set
	ra     uint64
	isAddr bool
	kind   refKind
	o      *obj
	anchor int // anchorAt(ra)
	// shifts is shiftsNear(ra), when haveShifts.
	haveShifts bool
	shifts     []uint64
	buf        [3]uint64
}

// sameOffsetsOf compares a word as two 32-bit halves, each equal or an
// offset from baseA (baseB) that the layout maps; what it learns of x is
// kept in c.
func (w *words) sameOffsetsOf(c *firstWord, x, y []byte, baseA, baseB uint64) bool {
	for h := 0; h+4 <= w.ptr; h += 4 {
		va, vb := uint64(w.half(x[h:])), uint64(w.half(y[h:]))
		if va == vb {
			continue
		}
		f := &c.halves[h/4]
		if !f.known {
			f.known, f.ra = true, baseA+va
			if f.isAddr = w.m.a.isAddr(f.ra); f.isAddr {
				f.kind, f.o = kindOf(w.m.a, f.ra)
				f.anchor = w.m.anchorAt(f.ra)
			}
		}
		ra, rb := f.ra, baseB+vb
		if !f.isAddr || !w.m.b.isAddr(rb) {
			return false
		}
		same, decided := w.m.resolveKind(f.kind, f.o, ra, rb)
		if !decided {
			same = w.m.consistentAt(f.anchor, ra, rb)
			if !same {
				if !f.haveShifts {
					f.haveShifts, f.shifts = true, w.m.shiftsNear(ra, f.buf[:0])
				}
				same = slices.Contains(f.shifts, rb-ra)
			}
		}
		if !same {
			return false
		}
	}
	return true
}

// sameOf is same, with what it learns of x kept in c.
func (w *words) sameOf(c *firstWord, x, y []byte) bool {
	if !c.known {
		c.known, c.word = true, w.word(x)
		c.isAddr = w.m.a.isAddr(c.word)
	}
	if !c.isAddr {
		return c.word == w.word(y)
	}
	return w.same(x, y)
}

func (w *words) half(b []byte) uint32 {
	if w.big {
		return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	}
	return uint32(b[3])<<24 | uint32(b[2])<<16 | uint32(b[1])<<8 | uint32(b[0])
}

// diff compares an object's bytes at addresses aa and ab and returns the
// offsets of the words that differ.
func (w *words) diff(x, y []byte, aa uint64) []int {
	var out []int
	lead := int((uint64(w.ptr) - aa%uint64(w.ptr)) % uint64(w.ptr))
	for i := 0; i < min(lead, len(x)); i++ {
		if x[i] != y[i] {
			return []int{0}
		}
	}
	off := min(lead, len(x))
	for ; off+w.ptr <= len(x); off += w.ptr {
		if !w.same(x[off:], y[off:]) {
			out = append(out, off)
		}
	}
	if !bytes.Equal(x[off:], y[off:]) {
		out = append(out, off)
	}
	return out
}

func (w *words) lines(x, y []byte, offs []int) []string {
	var out []string
	for _, o := range offs {
		if len(out) == w.maxShow {
			out = append(out, fmt.Sprintf("… %d more words", len(offs)-w.maxShow))
			break
		}
		e := min(o+w.ptr, len(x), len(y))
		out = append(out, fmt.Sprintf("+%#04x  %x → %x", o, x[o:e], y[o:e]))
	}
	return out
}

func newWords(m *mapper) *words {
	w := &words{m: m, ptr: m.a.f.PtrSize, maxShow: 8, claimed: map[uint64]bool{}}
	if w.ptr != 4 && w.ptr != 8 {
		w.ptr = 8
	}
	w.big = m.a.f.ByteOrder != nil && m.a.f.ByteOrder.Uint16([]byte{0, 1}) == 1
	return w
}

// collect runs over the data once to note the pointers into strings.
func (w *words) collect() {
	w.collecting = true
	namedData(w.m.a, w.m.b, w)
	unnamedData(w.m.a, w.m.b, w)
	w.collecting = false
	w.changed = nil
}

// judge compares the data: named objects, then what no object names.
func (w *words) judge() ([]Item, Counts, []Item) {
	items, counts := namedData(w.m.a, w.m.b, w)
	return items, counts, unnamedData(w.m.a, w.m.b, w)
}

// namedData compares the data objects both sides name.
func namedData(a, b *layout, w *words) ([]Item, Counts) {
	var items []Item
	var counts Counts
	for i := range a.objs {
		o := &a.objs[i]
		if o.fn {
			continue
		}
		it := Item{Name: o.name, Section: o.sec, AddrA: o.addr, SizeA: o.size}
		if o.peer < 0 {
			it.Class = Removed
			counts[Removed]++
			items = append(items, it)
			continue
		}
		p := &b.objs[o.peer]
		it.Section, it.AddrB, it.SizeB = p.sec, p.addr, p.size
		x, y := a.at(o.addr, o.size), b.at(p.addr, p.size)
		switch {
		case o.size != p.size:
			it.Class = Changed
			it.Summary = fmt.Sprintf("size differs (%d → %d bytes)", o.size, p.size)
		case x == nil && y == nil: // no file bytes (bss)
			it.Class = Moved
			if o.addr == p.addr {
				it.Class = Identical
			}
		case x == nil || y == nil:
			it.Class = Changed
			it.Summary = "bytes on one side only"
		case o.addr == p.addr && bytes.Equal(x, y):
			it.Class = Identical
		default:
			if offs := w.diff(x, y, o.addr); len(offs) > 0 {
				it.Class = Changed
				it.Summary = verb(len(offs), "word", "differs", "differ") + " once addresses are mapped"
				it.Lines = w.lines(x, y, offs)
			} else {
				it.Class = Moved
			}
		}
		counts[it.Class]++
		if it.Class != Identical {
			items = append(items, it)
		}
	}
	for i := range b.objs {
		if o := &b.objs[i]; !o.fn && o.peer < 0 {
			counts[Added]++
			items = append(items, Item{Name: o.name, Section: o.sec, Class: Added, AddrB: o.addr, SizeB: o.size})
		}
	}
	sortItems(items)
	return items, counts
}

// unnamedData compares, per data section, the words no named object
// covers and no string run holds. Blocks of such data move as wholes, by
// the shift of some address the code refers to near them: each word is
// looked for at the current shift, and when it is not there, at the
// shifts of the referenced addresses just below and above it (the new
// shift is kept when the next word agrees too).
func unnamedData(a, b *layout, w *words) []Item {
	var out []Item
	ptr := uint64(w.ptr)
	for _, s := range a.f.Sections {
		if !s.Data || s.Size == 0 {
			continue
		}
		t := b.secByName(s.Name)
		if t == nil || t.Size == 0 {
			continue
		}
		x, y := a.sec(s.Name), b.sec(s.Name)
		if x == nil || y == nil {
			continue
		}
		if s.Addr == t.Addr && bytes.Equal(x, y) {
			// Identical data needs no comparison, but the first pass
			// still reads its pointers into strings.
			if w.collecting {
				w.scanStrings(a.dataPart(s, x), s.Addr)
			}
			continue
		}
		x = a.dataPart(s, x)
		// Go's type data (at the start of read-only data) holds 32-bit
		// offsets from that start (runtime/type.go: nameOff, typeOff,
		// textOff).
		goTypes := a.f.FuncsFrom == "pclntab" && stringSections[s.Name]
		objs := a.objs
		oi := sort.Search(len(objs), func(i int) bool { return objs[i].end() > s.Addr })
		ri := sort.Search(len(a.runs), func(i int) bool { return a.runs[i].addr+uint64(len(a.runs[i].text)) > s.Addr })
		md := a.f.ModuledataAddr
		skip := func(addr uint64) bool {
			if md != 0 && addr+ptr > md && addr < md+exe.ModuledataSize {
				return true // the runtime's moduledata: derived from the layout
			}
			for oi < len(objs) && objs[oi].end() <= addr {
				oi++
			}
			if oi < len(objs) && objs[oi].addr < addr+ptr && !objs[oi].fn {
				return true // a named object: compared as one
			}
			for ri < len(a.runs) && a.runs[ri].addr+uint64(len(a.runs[ri].text)) <= addr {
				ri++
			}
			return ri < len(a.runs) && a.runs[ri].addr < addr+ptr // string bytes
		}
		// Two words where there are (a string header's length follows
		// its pointer), else one.
		at := func(addr uint64, shift uint64) []byte {
			if y := b.at(addr+shift, int64(2*ptr)); y != nil {
				return y
			}
			return b.at(addr+shift, int64(ptr))
		}
		// What the first side's word at off is, learned once for all
		// the shifts it is tried at.
		var word firstWord
		wordOff := ^uint64(0)
		match := func(off, shift uint64) bool {
			yw := at(s.Addr+off, shift)
			if yw == nil {
				return false
			}
			if off != wordOff {
				word, wordOff = firstWord{}, off
			}
			return w.sameOf(&word, x[off:], yw) || (goTypes && w.sameOffsetsOf(&word, x[off:], yw, s.Addr, t.Addr))
		}
		shift := uint64(t.Addr - s.Addr)
		var offs []int
		var first uint64
		var lines []string
		var addrs []uint64
		cands := make([]uint64, 0, 16) // reused word after word
		for off := (ptr - s.Addr%ptr) % ptr; off+ptr <= uint64(len(x)); off += ptr {
			addr := s.Addr + off
			if skip(addr) {
				continue
			}
			if match(off, shift) {
				continue
			}
			// Other shifts: those of the references around, and a few
			// words either way (an entry inserted in a table only data
			// refers to); a new shift must hold for the next two words,
			// one of them not zero.
			found := false
			cands = w.m.shiftsNear(addr, cands)
			for k := uint64(1); k <= 4; k++ {
				cands = append(cands, shift+k*ptr, shift-k*ptr)
			}
			for _, d := range cands {
				if d == shift || !match(off, d) {
					continue
				}
				if off+3*ptr <= uint64(len(x)) && match(off+ptr, d) && match(off+2*ptr, d) &&
					(w.word(x[off:]) != 0 || w.word(x[off+ptr:]) != 0 || w.word(x[off+2*ptr:]) != 0) {
					shift, found = d, true
					break
				}
			}
			if found {
				continue
			}
			if len(offs) == 0 {
				first = off
			}
			offs = append(offs, int(off))
			if !w.collecting {
				w.changed = append(w.changed, addr)
				addrs = append(addrs, addr)
				if len(lines) < w.maxShow {
					lines = append(lines, w.describe(addr, x[off:], at(addr, shift)))
				}
			}
		}
		if len(offs) == 0 {
			continue
		}
		ranges := 1
		for i := 1; i < len(offs); i++ {
			if offs[i]-offs[i-1] > 4*w.ptr {
				ranges++
			}
		}
		out = append(out, Item{Name: s.Name, Section: s.Name, Class: Changed, AddrA: s.Addr, AddrB: t.Addr, SizeA: s.Size, SizeB: t.Size,
			Summary: fmt.Sprintf("%s in %s outside named objects and strings %s once addresses are mapped (first at +%#x)",
				english.Count(len(offs), "word"), english.Count(ranges, "range"), map[bool]string{true: "differs", false: "differ"}[len(offs) == 1], first), Lines: lines, words: addrs})
	}
	return out
}
