package exediff

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aymanbagabas/go-udiff/lcs"

	"github.com/reprove/reprove/compare/exe"
)

// obj is a function or data object of one side.
type obj struct {
	name string
	key  string // name, or name#n for the n-th of a repeated name
	sec  string
	addr uint64
	size int64
	fn   bool
	// anon: the name was made from the address (no table names it).
	anon bool
	// peer is the other side's object with the same key, or -1.
	peer int
}

func (o *obj) end() uint64 { return o.addr + uint64(o.size) }

// layout is what one side's addresses mean.
type layout struct {
	f     *exe.File
	side  Side
	objs  []obj // sorted by address
	byKey map[string]int
	secs  []exe.Section // with a memory range, sorted by address
	mu    sync.Mutex
	bytes map[string][]byte // file bytes of code and data sections, read on first use
	left  int64             // bytes that may still be read into memory
	notes []string
	// runs are the printable runs of the string sections; bounds the
	// addresses inside them that code refers to (both sorted).
	runs   []run
	bounds []uint64
	// loaded[i] is what sec returned for secs[i], once asked (secBytes).
	loaded []atomic.Pointer[[]byte]
}

func newLayout(s Side, maxBytes int64) (*layout, error) {
	l := &layout{f: s.File, side: s, byKey: make(map[string]int, len(s.File.Funcs)+len(s.File.Symbols)), bytes: map[string][]byte{}, left: maxBytes}
	for _, sec := range s.File.Sections {
		if sec.MemSize > 0 {
			l.secs = append(l.secs, sec)
		}
	}
	sort.SliceStable(l.secs, func(i, j int) bool { return l.secs[i].Addr < l.secs[j].Addr })
	l.loaded = make([]atomic.Pointer[[]byte], len(l.secs))
	seen := make(map[string]int, len(s.File.Funcs)+len(s.File.Symbols))
	add := func(sy exe.Symbol) {
		seen[sy.Name]++
		key := sy.Name
		if n := seen[sy.Name]; n > 1 {
			key = sy.Name + "#" + strconv.Itoa(n)
		}
		l.objs = append(l.objs, obj{name: sy.Name, key: key, sec: sy.Section, addr: sy.Addr, size: sy.Size, fn: sy.Func, anon: sy.Anonymous, peer: -1})
	}
	for _, fn := range s.File.Funcs {
		if fn.Name == "go:buildid" || fn.Name == "_go:buildid" {
			continue // the build ID, in text (Result.BuildID)
		}
		add(fn)
	}
	for _, sy := range s.File.Symbols {
		// Data symbols without a size of their own (PE, Mach-O) would
		// swallow the unnamed data after them: only sized ones count.
		if sy.Func || sy.Size <= 0 || !sy.Sized || marker(sy.Name) {
			continue
		}
		if sec := l.secByName(sy.Section); sec == nil || !sec.Data {
			continue
		}
		add(sy)
	}
	sort.SliceStable(l.objs, func(i, j int) bool { return l.objs[i].addr < l.objs[j].addr })
	for i := range l.objs {
		l.byKey[l.objs[i].key] = i
	}
	return l, nil
}

func (l *layout) secByName(name string) *exe.Section {
	for i := range l.f.Sections {
		if l.f.Sections[i].Name == name {
			return &l.f.Sections[i]
		}
	}
	return nil
}

// secAt returns the section whose memory range holds addr.
func (l *layout) secAt(addr uint64) *exe.Section {
	if i := l.secIndex(addr); i >= 0 {
		return &l.secs[i]
	}
	return nil
}

// secIndex returns the index in secs of the section whose memory range
// holds addr, or -1. It is the most frequent lookup of a comparison (every
// word of data, every reference), so it searches by hand rather than
// through sort.Search's closure.
func (l *layout) secIndex(addr uint64) int {
	lo, hi := 0, len(l.secs) // the first section starting above addr is in [lo, hi]
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if l.secs[h].Addr > addr {
			hi = h
		} else {
			lo = h + 1
		}
	}
	i := lo - 1
	// Sections do not overlap in memory; a TLS section may sit inside
	// another's range, so look at two.
	for j := i; j >= 0 && j > i-2; j-- {
		if s := &l.secs[j]; addr-s.Addr < s.MemSize {
			return j
		}
	}
	return -1
}

// isAddr reports whether v lies in the image.
func (l *layout) isAddr(v uint64) bool { return l.secAt(v) != nil }

// objAt returns the object holding addr, or nil.
func (l *layout) objAt(addr uint64) *obj {
	lo, hi := 0, len(l.objs) // as sort.Search, by hand (see secIndex)
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if l.objs[h].addr > addr {
			hi = h
		} else {
			lo = h + 1
		}
	}
	i := lo - 1
	// Objects may overlap (a symbol inside a function); look back a little.
	for j := i; j >= 0 && j > i-4; j-- {
		o := &l.objs[j]
		if addr < o.end() {
			return o
		}
	}
	return nil
}

// sec returns the file bytes of a section, reading them on first use, or
// nil when they are over the memory budget or unreadable.
func (l *layout) sec(name string) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.bytes[name]; ok {
		return b
	}
	s := l.secByName(name)
	if s == nil || s.Size == 0 {
		l.bytes[name] = nil
		return nil
	}
	if s.Size > l.left {
		l.bytes[name] = nil
		l.notes = append(l.notes, fmt.Sprintf("section %s not analysed: over the memory budget for code and data", name))
		return nil
	}
	b := make([]byte, s.Size)
	if _, err := l.side.R.ReadAt(b, s.Offset); err != nil {
		l.bytes[name] = nil
		l.notes = append(l.notes, fmt.Sprintf("section %s not analysed: %v", name, err))
		return nil
	}
	l.left -= s.Size
	l.bytes[name] = b
	return b
}

// at returns n file bytes at addr, or nil.
func (l *layout) at(addr uint64, n int64) []byte {
	i := l.secIndex(addr)
	if i < 0 {
		return nil
	}
	s := &l.secs[i]
	if s.Size == 0 {
		return nil
	}
	off, size := addr-s.Addr, min(uint64(s.Size), s.MemSize)
	if off > size || uint64(n) > size-off {
		return nil
	}
	b := l.secBytes(i)
	if b == nil {
		return nil
	}
	return b[off : off+uint64(n)]
}

// secBytes is sec(secs[i].Name), remembered by index: at runs for every
// word compared, and sec takes a lock and a lookup by name.
func (l *layout) secBytes(i int) []byte {
	if p := l.loaded[i].Load(); p != nil {
		return *p
	}
	b := l.sec(l.secs[i].Name)
	l.loaded[i].Store(&b)
	return b
}

// label names an address for a person: object+offset, else
// section+offset, else the number.
func (l *layout) label(addr uint64) string {
	if o := l.objAt(addr); o != nil {
		if addr == o.addr {
			return o.name
		}
		return fmt.Sprintf("%s+%#x", o.name, addr-o.addr)
	}
	if s := l.secAt(addr); s != nil {
		return fmt.Sprintf("%s+%#x", s.Name, addr-s.Addr)
	}
	return ""
}

// pair links objects with the same key on both sides, then functions
// that have no name (sub_ADDR) by their place among the others.
func pair(a, b *layout) {
	for i := range a.objs {
		if a.objs[i].anon {
			continue
		}
		if j, ok := b.byKey[a.objs[i].key]; ok && a.objs[i].fn == b.objs[j].fn && !b.objs[j].anon {
			a.objs[i].peer, b.objs[j].peer = j, i
		}
	}
	pairAnonymous(a, b)
}

// pairAnonymous pairs the functions no table names (found from unwind
// tables in a stripped binary), whose names are their addresses and so
// differ whenever code moved. Per section, in address order, the named
// functions both sides have cut the lists into stretches; within a
// stretch the unnamed functions are aligned by size (a longest common
// subsequence: most functions of a patched build keep theirs), and runs
// that differ are aligned by similar size (alignHunk). What is left is
// added or removed. A pair takes the shipped side's name on
// both sides, so that references to it read the same.
func pairAnonymous(a, b *layout) {
	cut := func(l *layout) map[string][][]int {
		out := map[string][][]int{}
		for i := range l.objs {
			o := &l.objs[i]
			if !o.fn {
				continue
			}
			runs := out[o.sec]
			switch {
			case o.anon:
				if len(runs) == 0 {
					runs = append(runs, nil)
				}
				runs[len(runs)-1] = append(runs[len(runs)-1], i)
			case o.peer >= 0:
				runs = append(runs, nil) // a named pair closes the stretch
			}
			out[o.sec] = runs
		}
		return out
	}
	sa, sb := cut(a), cut(b)
	for sec, ra := range sa {
		rb := sb[sec]
		if len(ra) != len(rb) {
			// The named functions are not in the same order on both
			// sides: align the section as one stretch.
			ra, rb = [][]int{flat(ra)}, [][]int{flat(rb)}
		}
		for k := range ra {
			alignBySize(a, b, ra[k], rb[k])
		}
	}
}

// alignHunk pairs the functions of a stretch whose sizes differ on the
// two sides (a patched function grew, one was added): an alignment that
// keeps their order and pairs functions of similar size (cost: the
// relative difference of the sizes) rather than leaving either out (cost
// 0.6: a function that changed by more than that counts as another one).
// Stretches of more than 64 functions are paired one to one only when both
// sides have as many.
func alignHunk(a, b *layout, ia, ib []int) [][2]int {
	n, m := len(ia), len(ib)
	if n == 0 || m == 0 {
		return nil
	}
	if n > 64 || m > 64 {
		if n != m {
			return nil
		}
		out := make([][2]int, n)
		for k := range ia {
			out[k] = [2]int{ia[k], ib[k]}
		}
		return out
	}
	const gap = 0.6
	match := func(i, j int) float64 {
		x, y := float64(a.objs[ia[i]].size), float64(b.objs[ib[j]].size)
		return math.Abs(x-y) / max(x, y, 1)
	}
	cost := make([][]float64, n+1)
	for i := range cost {
		cost[i] = make([]float64, m+1)
		cost[i][0] = float64(i) * gap
	}
	for j := 0; j <= m; j++ {
		cost[0][j] = float64(j) * gap
	}
	for i := 1; i <= n; i++ {
		for j := 1; j <= m; j++ {
			cost[i][j] = min(cost[i-1][j-1]+match(i-1, j-1), cost[i-1][j]+gap, cost[i][j-1]+gap)
		}
	}
	var out [][2]int
	for i, j := n, m; i > 0 && j > 0; {
		switch c := cost[i][j]; {
		case c == cost[i-1][j-1]+match(i-1, j-1) && match(i-1, j-1) < gap:
			out = append(out, [2]int{ia[i-1], ib[j-1]})
			i, j = i-1, j-1
		case c == cost[i-1][j]+gap:
			i--
		default:
			j--
		}
	}
	return out
}

func flat(runs [][]int) []int {
	var out []int
	for _, r := range runs {
		out = append(out, r...)
	}
	return out
}

func alignBySize(a, b *layout, ia, ib []int) {
	if len(ia) == 0 || len(ib) == 0 {
		return
	}
	sig := func(l *layout, idx []int) []string {
		out := make([]string, len(idx))
		for k, i := range idx {
			out[k] = strconv.FormatInt(l.objs[i].size, 10)
		}
		return out
	}
	link := func(i, j int) {
		x, y := &a.objs[i], &b.objs[j]
		x.peer, y.peer = j, i
		x.key, y.key = y.name, y.name
	}
	pa, pb := 0, 0
	for _, d := range lcs.DiffLines(sig(a, ia), sig(b, ib)) {
		for ; pa < d.Start; pa, pb = pa+1, pb+1 {
			link(ia[pa], ib[pb])
		}
		for _, m := range alignHunk(a, b, ia[d.Start:d.End], ib[d.ReplStart:d.ReplEnd]) {
			link(m[0], m[1])
		}
		pa, pb = d.End, d.ReplEnd
	}
	for ; pa < len(ia) && pb < len(ib); pa, pb = pa+1, pb+1 {
		link(ia[pa], ib[pb])
	}
}

// marker reports whether a symbol only marks a place or labels a block of
// many things (Go's carrier symbols: go:string.*, type:*, runtime.rodata,
// …): formats whose symbols have no size (PE, Mach-O) would give it the
// whole block. What it covers is compared as data without a name.
func marker(name string) bool {
	name = strings.TrimPrefix(name, "_")
	if strings.HasSuffix(name, "*") || strings.HasPrefix(name, "go:func") || name == "go:funcdesc" || name == "go:buildid" {
		return true
	}
	switch strings.TrimPrefix(name, "runtime.") {
	case "text", "etext", "rodata", "erodata", "types", "etypes", "noptrdata", "enoptrdata", "data", "edata",
		"bss", "ebss", "noptrbss", "enoptrbss", "end", "pclntab", "epclntab", "gcdata", "egcdata", "gcbss", "egcbss",
		"covctrs", "ecovctrs", "itablink", "typelink", "symtab", "esymtab", "findfunctab", "firstmoduledata", "lastmoduledatap",
		"pcheader", "funcnametab", "cutab", "filetab", "pctab", "functab", "noptrbss.end", "textsectionmap":
		return strings.HasPrefix(name, "runtime.")
	}
	return false
}

// dataPart cuts a data section's bytes to what the program's data is:
// the memory size (PE pads sections in the file), and not the Go function
// table when it shares the section (PE's .rdata).
func (l *layout) dataPart(s exe.Section, b []byte) []byte {
	n := min(uint64(len(b)), s.MemSize)
	if p := l.f.PclntabAddr; p > s.Addr && p-s.Addr < n {
		n = p - s.Addr
	}
	return b[:n]
}
