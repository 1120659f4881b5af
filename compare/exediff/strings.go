package exediff

import (
	"bytes"
	"slices"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/aymanbagabas/go-udiff/lcs"
)

// Go keeps string literals packed one after another, without separators,
// in read-only data: "printable runs" there are many literals each. The
// addresses the code refers to split them.

// stringSections are the read-only data sections that hold literals.
var stringSections = map[string]bool{".rodata": true, ".rdata": true, "__TEXT,__rodata": true, "__TEXT,__cstring": true, "__DATA_CONST,__rodata": true}

const minRun = 6 // shorter printable runs are mostly bytes of binary data

type run struct {
	addr uint64
	text []byte
}

func printable(c byte) bool { return c >= 0x20 && c < 0x7f || c == '\t' }

// findRuns lists the printable runs of a side's string sections.
func (l *layout) findRuns() {
	for _, s := range l.f.Sections {
		if !stringSections[s.Name] {
			continue
		}
		b := l.dataPart(s, l.sec(s.Name))
		for i := 0; i < len(b); {
			if !printable(b[i]) {
				i++
				continue
			}
			j := i
			for j < len(b) && printable(b[j]) {
				j++
			}
			if j-i >= minRun && !l.pointerBytes(s.Addr+uint64(i), b[i:]) {
				l.runs = append(l.runs, run{addr: s.Addr + uint64(i), text: b[i:j]})
			}
			i = j
		}
	}
}

// pointerBytes reports whether a short run at addr is the printable low
// bytes of an aligned pointer into the image, not text.
func (l *layout) pointerBytes(addr uint64, b []byte) bool {
	n := l.f.PtrSize
	if n == 0 || addr%uint64(n) != 0 || len(b) < n {
		return false
	}
	if i := bytes.IndexFunc(b[:n], func(r rune) bool { return !printable(byte(r)) }); i < 0 {
		return false // a whole word of text
	}
	var v uint64
	if l.f.ByteOrder != nil && l.f.ByteOrder.Uint16([]byte{0, 1}) == 1 {
		for _, c := range b[:n] {
			v = v<<8 | uint64(c)
		}
	} else {
		for i := n - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
	}
	return l.isAddr(v)
}

// isGo reports whether the side is a Go binary, whose literals are packed
// without separators.
func (l *layout) isGo() bool { return l.f.BuildInfo != nil || l.f.FuncsFrom == "pclntab" }

// goName drops the length byte that precedes a name in a Go binary's type
// data ("(*map.group[…]struct {}" is a 40-byte name after its length, '('):
// it is printable when the name is 32 to 126 bytes long.
func goName(b []byte, isGo bool) []byte {
	if isGo && len(b) > 32 && int(b[0]) == len(b)-1 {
		return b[1:]
	}
	return b
}

// setBounds records where strings start: the run starts and, in a Go
// binary, the addresses code refers to inside runs. C and C++ end each
// literal with a NUL, so a run is one literal, and an address inside it is
// a shorter literal the linker merged into its tail ("G" in "DEBUG"), not
// where another one starts.
func (l *layout) setBounds(refs []uint64) {
	if l.f.BuildInfo == nil && l.f.FuncsFrom != "pclntab" {
		refs = nil
	}
	slices.Sort(refs)
	refs = slices.Compact(refs)
	l.bounds = l.bounds[:0]
	for _, r := range refs {
		if i := l.runAt(r); i >= 0 {
			l.bounds = append(l.bounds, r)
		}
	}
}

// runSpan returns the addresses from the first run's start to the last
// one's end.
func (l *layout) runSpan() (uint64, uint64) {
	if len(l.runs) == 0 {
		return 0, 0
	}
	r := l.runs[len(l.runs)-1]
	return l.runs[0].addr, r.addr + uint64(len(r.text))
}

// runAt returns the index of the run holding addr, or -1.
func (l *layout) runAt(addr uint64) int {
	i := sort.Search(len(l.runs), func(i int) bool { return l.runs[i].addr > addr }) - 1
	if i >= 0 && addr < l.runs[i].addr+uint64(len(l.runs[i].text)) {
		return i
	}
	return -1
}

// stringAt returns, quoted, the literal that starts at addr (a reference
// into a run), or "".
func (l *layout) stringAt(addr uint64) string {
	i := l.runAt(addr)
	if i < 0 {
		return ""
	}
	r := l.runs[i]
	end := r.addr + uint64(len(r.text))
	if j, ok := slices.BinarySearch(l.bounds, addr); ok && j+1 < len(l.bounds) && l.bounds[j+1] < end {
		end = l.bounds[j+1]
	} else if !ok && addr != r.addr {
		return ""
	}
	return quote(r.text[addr-r.addr : end-r.addr])
}

// quote quotes a literal for a report, cut after 60 bytes (at a character
// boundary) with an ellipsis outside the quotes.
func quote(b []byte) string {
	const max = 60
	if len(b) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(b[cut]) {
			cut--
		}
		return strconv.Quote(string(b[:cut])) + "…"
	}
	return strconv.Quote(string(b))
}

// texty reports whether a printable run reads as text rather than as
// bytes of a table that happen to be printable ("$U$U$U$", "@(h",
// "133333", "1Rff&&\"\"\"\"\"\""): at least 4 bytes, and either a word of
// three letters with letters and digits making up half of what is not
// space, or mostly letters and digits of some variety (a version,
// "go1.26.7", "0.25.0"); and no one character making up half or more
// of a longer one.
func texty(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	var freq [256]int
	letters, alnum, run, best, nonSpace, distinct := 0, 0, 0, 0, 0, 0
	for _, c := range b {
		isLetter := c|0x20 >= 'a' && c|0x20 <= 'z'
		if isLetter {
			letters++
			run++
			best = max(best, run)
		} else {
			run = 0
		}
		if isLetter || c >= '0' && c <= '9' {
			alnum++
		}
		if c != ' ' && c != '\t' {
			nonSpace++
			if freq[c] == 0 {
				distinct++
			}
			freq[c]++
		}
	}
	if nonSpace >= 8 && slices.Max(freq[:])*2 >= nonSpace {
		return false
	}
	return (best >= 3 && alnum*2 >= nonSpace) || (alnum*10 >= len(b)*6 && distinct >= 3)
}

// compareStrings diffs the literals of two sides as sets: runs both hold
// cancel out; in the rest, a byte diff finds the edits, each widened to
// the literals (reference boundaries) it touches.
func compareStrings(a, b *layout, refsA, refsB []uint64) []Item {
	a.setBounds(refsA)
	b.setBounds(refsB)
	goA, goB := a.isGo(), b.isGo()
	count := map[string]int{}
	for _, r := range a.runs {
		count[string(r.text)]++
	}
	for _, r := range b.runs {
		count[string(r.text)]--
	}
	rest := func(l *layout, sign int) (joined []byte, starts []uint64, offs []int) {
		left := map[string]int{}
		for k, v := range count {
			if v*sign > 0 {
				left[k] = v * sign
			}
		}
		for _, r := range l.runs {
			if left[string(r.text)] > 0 {
				left[string(r.text)]--
				starts = append(starts, r.addr)
				offs = append(offs, len(joined))
				joined = append(joined, r.text...)
				joined = append(joined, '\n')
			}
		}
		return
	}
	ja, sa, oa := rest(a, 1)
	jb, sb, ob := rest(b, -1)
	if len(ja) == 0 && len(jb) == 0 {
		return nil
	}
	const maxJoined = 8 << 20
	var items []Item
	if len(ja)+len(jb) > maxJoined {
		// Too much differs to diff byte by byte: list the runs.
		for _, t := range bytes.Split(bytes.TrimSuffix(ja, []byte("\n")), []byte("\n")) {
			if t = goName(t, goA); texty(t) {
				items = append(items, Item{Name: quote(t), Class: Removed})
			}
		}
		for _, t := range bytes.Split(bytes.TrimSuffix(jb, []byte("\n")), []byte("\n")) {
			if t = goName(t, goB); texty(t) {
				items = append(items, Item{Name: quote(t), Class: Added})
			}
		}
		sortItems(items)
		return items
	}
	// Bounds as offsets in the joined text.
	bounds := func(l *layout, starts []uint64, offs []int, joined []byte) []int {
		var out []int
		for i, st := range starts {
			n := bytes.IndexByte(joined[offs[i]:], '\n')
			out = append(out, offs[i])
			j, _ := slices.BinarySearch(l.bounds, st)
			for ; j < len(l.bounds) && l.bounds[j] < st+uint64(n); j++ {
				if l.bounds[j] > st {
					out = append(out, offs[i]+int(l.bounds[j]-st))
				}
			}
			out = append(out, offs[i]+n) // the run's end
		}
		return out
	}
	ba, bb := bounds(a, sa, oa, ja), bounds(b, sb, ob, jb)
	seenA, seenB := map[string]bool{}, map[string]bool{}
	for _, d := range mergeEdits(lcs.DiffBytes(ja, jb)) {
		// A pure deletion or insertion is slid to where a literal
		// starts; a replacement is widened to the literals around it.
		var s0, e0, s1, e1 int
		switch {
		case d.ReplEnd == d.ReplStart:
			s0, e0 = slide(ba, d.Start, d.End, ja)
		case d.End == d.Start:
			s1, e1 = slide(bb, d.ReplStart, d.ReplEnd, jb)
		default:
			s0, e0 = widen(ba, d.Start, d.End, ja)
			s1, e1 = widen(bb, d.ReplStart, d.ReplEnd, jb)
		}
		if d.End > d.Start {
			for _, t := range literals(ja[s0:e0], ba, s0, goA) {
				if !seenA[t] {
					seenA[t] = true
					items = append(items, Item{Name: t, Class: Removed})
				}
			}
		}
		if d.ReplEnd > d.ReplStart {
			for _, t := range literals(jb[s1:e1], bb, s1, goB) {
				if !seenB[t] {
					seenB[t] = true
					items = append(items, Item{Name: t, Class: Added})
				}
			}
		}
	}
	// A literal that only moved between runs appears on both sides.
	var out []Item
	for _, it := range items {
		if (it.Class == Removed && seenB[it.Name]) || (it.Class == Added && seenA[it.Name]) {
			continue
		}
		out = append(out, it)
	}
	sortItems(out)
	return out
}

// slide moves a deleted or inserted stretch [s,e) of joined, which a
// minimal diff may report anywhere among equivalent positions (when the
// bytes before or after it repeat its ends), to one that starts at a
// bound.
func slide(bounds []int, s, e int, joined []byte) (int, int) {
	isBound := func(i int) bool { k := sort.SearchInts(bounds, i); return k < len(bounds) && bounds[k] == i }
	if isBound(s) {
		return s, e
	}
	for d := 1; d <= e-s && e+d-1 < len(joined) && joined[s+d-1] == joined[e+d-1]; d++ {
		if isBound(s + d) {
			return s + d, e + d
		}
	}
	for d := 1; d <= e-s && s-d >= 0 && joined[s-d] == joined[e-d]; d++ {
		if isBound(s - d) {
			return s - d, e - d
		}
	}
	return s, e
}

// widen extends [s,e) to the nearest bounds around it within 64 bytes;
// without a bound that near, it keeps 16 bytes of context, staying inside
// the run.
func widen(bounds []int, s, e int, joined []byte) (int, int) {
	i := sort.SearchInts(bounds, s+1) - 1 // last bound <= s
	ns := s
	switch {
	case i >= 0 && s-bounds[i] <= 64:
		ns = bounds[i]
	default:
		ns = max(s-16, 0)
		if j := bytes.LastIndexByte(joined[ns:s], '\n'); j >= 0 {
			ns += j + 1
		}
	}
	k := sort.SearchInts(bounds, e) // first bound >= e
	ne := e
	switch {
	case k < len(bounds) && bounds[k]-e <= 64:
		ne = bounds[k]
	default:
		ne = min(e+16, len(joined))
		if j := bytes.IndexByte(joined[e:ne], '\n'); j >= 0 {
			ne = e + j
		}
	}
	if ne < ns {
		ne = ns
	}
	return ns, ne
}

// literals splits text (starting at offset off of the joined runs) at the
// bounds inside it and at the runs' separators, and quotes the parts that
// read as text (see texty).
func literals(text []byte, bounds []int, off int, isGo bool) []string {
	var parts [][]byte
	prev := 0
	for _, b := range bounds {
		if b-off > prev && b-off < len(text) {
			parts = append(parts, text[prev:b-off])
			prev = b - off
		}
	}
	if prev < len(text) {
		parts = append(parts, text[prev:])
	}
	var keep []string
	for _, p := range parts {
		for _, t := range bytes.Split(p, []byte("\n")) {
			if t = goName(t, isGo); texty(t) {
				keep = append(keep, quote(t))
			}
		}
	}
	return keep
}

// mergeEdits joins edits less than 8 bytes apart on both sides: a minimal
// diff cuts one replaced literal into pieces where its bytes happen to
// match the new one's.
func mergeEdits(ds []lcs.Diff) []lcs.Diff {
	var out []lcs.Diff
	for _, d := range ds {
		if n := len(out); n > 0 && d.Start-out[n-1].End < 8 && d.ReplStart-out[n-1].ReplEnd < 8 {
			out[n-1].End, out[n-1].ReplEnd = d.End, d.ReplEnd
			continue
		}
		out = append(out, d)
	}
	return out
}
