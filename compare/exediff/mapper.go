package exediff

import (
	"bytes"
	"slices"
	"sort"
	"sync"
)

// vote says that an aligned pair of instructions referred to ra on the
// first side and rb on the second, in memory no object names.
type vote struct{ ra, rb uint64 }

// anchor is the shift most votes agree on for one address.
type anchor struct {
	ra, rb  uint64
	support int
	sec     string // the first side's section holding ra
	// delta is the shift of the section named sec (secDelta), when
	// hasDelta.
	delta    int64
	hasDelta bool
}

// mapper maps the first side's addresses to the second's.
type mapper struct {
	a, b     *layout
	mu       sync.Mutex
	votes    []vote
	anchors  []anchor
	secDelta map[string]int64
	// deltaAt[i] is secDelta of a.secs[i]'s name, when hasDeltaAt[i].
	deltaAt    []int64
	hasDeltaAt []bool
}

func newMapper(a, b *layout) *mapper {
	pair(a, b)
	m := &mapper{a: a, b: b, secDelta: map[string]int64{}}
	for _, s := range a.secs {
		if t := b.secByName(s.Name); t != nil && t.MemSize > 0 {
			m.secDelta[s.Name] = int64(t.Addr - s.Addr)
		}
	}
	m.deltaAt, m.hasDeltaAt = make([]int64, len(a.secs)), make([]bool, len(a.secs))
	for i, s := range a.secs {
		m.deltaAt[i], m.hasDeltaAt[i] = m.secDelta[s.Name]
	}
	return m
}

func (m *mapper) addVotes(vs []vote) {
	m.mu.Lock()
	m.votes = append(m.votes, vs...)
	m.mu.Unlock()
}

// build turns the votes (all so far) into anchors.
func (m *mapper) build() {
	vs := m.votes
	m.anchors = m.anchors[:0]
	slices.SortFunc(vs, func(x, y vote) int {
		switch {
		case x.ra != y.ra:
			return cmp64(x.ra, y.ra)
		default:
			return cmp64(x.rb, y.rb)
		}
	})
	for i := 0; i < len(vs); {
		j := i
		best, bestN := vs[i].rb, 0
		for j < len(vs) && vs[j].ra == vs[i].ra {
			k := j
			for k < len(vs) && vs[k].ra == vs[j].ra && vs[k].rb == vs[j].rb {
				k++
			}
			if k-j > bestN {
				best, bestN = vs[j].rb, k-j
			}
			j = k
		}
		sec := ""
		if s := m.a.secAt(vs[i].ra); s != nil {
			sec = s.Name
		}
		d, ok := m.secDelta[sec]
		m.anchors = append(m.anchors, anchor{ra: vs[i].ra, rb: best, support: bestN, sec: sec, delta: d, hasDelta: ok})
		i = j
	}
}

func cmp64(x, y uint64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// refKind says how an address relates to the objects of a side.
type refKind int

const (
	unnamed refKind = iota // in no object
	paired                 // in an object both sides have
	orphan                 // in an object only this side has
)

func kindOf(l *layout, addr uint64) (refKind, *obj) {
	o := l.objAt(addr)
	switch {
	case o == nil:
		return unnamed, nil
	case o.peer < 0:
		return orphan, o
	}
	return paired, o
}

// resolve decides a reference pair at once when objects name it. When
// neither side's address lies in an object it reports undecided, and the
// pair is a vote.
func (m *mapper) resolve(ra, rb uint64, soft bool) (same, decided bool) {
	if soft && ra == rb {
		return true, true
	}
	ka, oa := kindOf(m.a, ra)
	return m.resolveKind(ka, oa, ra, rb)
}

// resolveKind is resolve (not soft) once the first address's kind is
// known.
func (m *mapper) resolveKind(ka refKind, oa *obj, ra, rb uint64) (same, decided bool) {
	switch {
	case ka == paired:
		p := &m.b.objs[oa.peer]
		off := ra - oa.addr
		return off <= uint64(p.size) && p.addr+off == rb, true
	case ka == orphan:
		return false, true
	}
	if kb, _ := kindOf(m.b, rb); kb != unnamed {
		return false, true
	}
	return false, false
}

// consistent decides an undecided pair once every vote is in: the second
// address must be the one most votes give the first, and unless several
// votes agree, the shift must be that of the nearest other referenced
// address in the same section or of the section itself.
func (m *mapper) consistent(ra, rb uint64) bool {
	return m.consistentAt(m.anchorAt(ra), ra, rb)
}

// anchorAt returns the index of the first anchor at or above ra.
func (m *mapper) anchorAt(ra uint64) int {
	lo, hi := 0, len(m.anchors)
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if m.anchors[h].ra >= ra {
			hi = h
		} else {
			lo = h + 1
		}
	}
	return lo
}

// consistentAt is consistent, given anchorAt(ra).
func (m *mapper) consistentAt(i int, ra, rb uint64) bool {
	if i == len(m.anchors) || m.anchors[i].ra != ra {
		return ra == rb
	}
	if ra == rb && m.anchors[i].rb != rb {
		// Unmoved, unless the address is known to have moved.
		return !m.reliable(i)
	}
	return m.anchors[i].rb == rb && (m.anchors[i].support >= 2 || m.reliable(i))
}

// reliable reports whether anchor i is more than one vote's word: several
// votes agree on it, or its shift is its section's or a neighbour's.
func (m *mapper) reliable(i int) bool {
	an := m.anchors[i]
	if an.support >= 3 {
		return true
	}
	d := int64(an.rb - an.ra)
	if an.hasDelta && an.delta == d {
		return true
	}
	for _, j := range []int{i - 1, i + 1} {
		if j >= 0 && j < len(m.anchors) && m.anchors[j].sec == an.sec && int64(m.anchors[j].rb-m.anchors[j].ra) == d {
			return true
		}
	}
	return false
}

// shiftsNear returns the shifts of the nearest reliable referenced
// addresses at or below ra and above it, in ra's section, and the
// section's own shift, appended to dst[:0].
func (m *mapper) shiftsNear(ra uint64, dst []uint64) []uint64 {
	out := dst[:0]
	si := m.a.secIndex(ra)
	if si < 0 {
		return out
	}
	s := &m.a.secs[si]
	i := m.anchorAbove(ra)
	for j := i - 1; j >= 0 && m.anchors[j].sec == s.Name; j-- {
		if m.reliable(j) {
			out = append(out, m.anchors[j].rb-m.anchors[j].ra)
			break
		}
	}
	for j := i; j < len(m.anchors) && m.anchors[j].sec == s.Name; j++ {
		if m.reliable(j) {
			out = append(out, m.anchors[j].rb-m.anchors[j].ra)
			break
		}
	}
	if m.hasDeltaAt[si] {
		out = append(out, uint64(m.deltaAt[si]))
	}
	return out
}

// anchorAbove returns the index of the first anchor above ra (as
// sort.Search would, without its closure).
func (m *mapper) anchorAbove(ra uint64) int {
	lo, hi := 0, len(m.anchors)
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if m.anchors[h].ra > ra {
			hi = h
		} else {
			lo = h + 1
		}
	}
	return lo
}

// sameContent reports whether the first side's bytes at ra and the
// second's at rb hold the same thing: a pointer to data no reference
// vouches for is taken as moved when what it points to is the same. The
// window is up to 32 bytes, a string's own length inside strings; words
// in it compare raw or as pointers the layout maps, without looking
// further.
func (m *mapper) sameContent(ra, rb uint64, ptr int) bool {
	n := uint64(32)
	if i := m.a.runAt(ra); i >= 0 {
		r := m.a.runs[i]
		end := r.addr + uint64(len(r.text))
		if j, ok := slicesSearch(m.a.bounds, ra); ok && j+1 < len(m.a.bounds) && m.a.bounds[j+1] < end {
			end = m.a.bounds[j+1]
		}
		n = min(n, end-ra)
	}
	// A block ends where the next one something refers to starts.
	if i := m.anchorAbove(ra); i < len(m.anchors) {
		n = min(n, m.anchors[i].ra-ra)
	}
	sa, sb := m.a.secAt(ra), m.b.secAt(rb)
	if sa == nil || sb == nil {
		return false
	}
	n = min(n, sa.Addr+uint64(sa.Size)-min(ra, sa.Addr+uint64(sa.Size)), sb.Addr+uint64(sb.Size)-min(rb, sb.Addr+uint64(sb.Size)))
	if n == 0 {
		return false
	}
	x, y := m.a.at(ra, int64(n)), m.b.at(rb, int64(n))
	if x == nil || y == nil {
		return false
	}
	if bytes.Equal(x, y) {
		return true
	}
	if ra%uint64(ptr) != 0 || rb%uint64(ptr) != 0 {
		return false
	}
	w := &words{m: m, ptr: ptr, big: m.a.f.ByteOrder != nil && m.a.f.ByteOrder.Uint16([]byte{0, 1}) == 1}
	for off := 0; off+ptr <= len(x); off += ptr {
		va, vb := w.word(x[off:]), w.word(y[off:])
		if va == vb && off > 0 {
			continue
		}
		if !m.a.isAddr(va) || !m.b.isAddr(vb) {
			if va == vb {
				continue
			}
			return false
		}
		same, decided := m.resolve(va, vb, false)
		if decided && same && off == 0 {
			// A block that starts with a pointer to the same function or
			// object (a function value, an itab) is that block, whatever
			// its neighbours are.
			return true
		}
		if !decided {
			same = m.consistent(va, vb)
		}
		if !same {
			return false
		}
	}
	return bytes.Equal(x[len(x)/ptr*ptr:], y[len(y)/ptr*ptr:])
}

func slicesSearch(s []uint64, v uint64) (int, bool) {
	i := sort.Search(len(s), func(i int) bool { return s[i] >= v })
	return i, i < len(s) && s[i] == v
}
