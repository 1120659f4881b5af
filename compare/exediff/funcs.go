package exediff

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"

	"github.com/aymanbagabas/go-udiff/lcs"

	"github.com/reprove/reprove/compare/disasm"
	"github.com/reprove/reprove/internal/english"
)

// refPair is a reference of aligned instructions i (both sides) still to
// be decided against the votes.
type refPair struct {
	ra, rb uint64
	inst   int
}

// fpair is one function of the first side with its peer, or an unpaired
// one of either side.
type fpair struct {
	a, b *obj // nil when absent
	// Results of the comparison.
	class   Class
	pending []refPair
	bad     []int // aligned instructions whose references disagree
	lines   []string
	// hunks of a structural difference, rendered once strings are known;
	// shown, the instructions they show, when the whole functions were
	// decoded (nil: decode them again to render).
	hunks []hunk
	shown []shownInst
	// written: lines holds the diff, written from shown.
	written bool
	summary string
}

type funcCmp struct {
	pairs    []*fpair
	analysed map[string]bool
	// Addresses the decoded code refers to, per side: where strings start.
	refsA, refsB []uint64
	decA, decB   *disasm.Decoder
	a, b         *layout
	m            *mapper
	// textA, textB: instruction texts that do not depend on where the
	// instruction is, per side (see write).
	textA, textB disasm.Texts
}

func compareFuncs(ctx context.Context, a, b *layout, m *mapper, opts Options) (*funcCmp, error) {
	fc := &funcCmp{analysed: map[string]bool{}, a: a, b: b, m: m}
	archOK := disasm.Supported(a.f.Arch) && a.f.Arch == b.f.Arch
	if archOK {
		fc.decA, _ = disasm.New(a.f.Arch, a.isAddr)
		fc.decB, _ = disasm.New(b.f.Arch, b.isAddr)
	} else if len(a.f.Funcs) > 0 {
		a.notes = append(a.notes, fmt.Sprintf("code of %s/%s is compared as bytes per function, not disassembled", a.f.Arch, b.f.Arch))
	}
	var jobs []*fpair
	for i := range a.objs {
		o := &a.objs[i]
		if !o.fn {
			continue
		}
		p := &fpair{a: o}
		if o.peer >= 0 {
			p.b = &b.objs[o.peer]
		}
		fc.pairs = append(fc.pairs, p)
		ca := a.at(o.addr, o.size)
		if ca != nil {
			fc.analysed[o.sec] = true
		}
		if p.b == nil {
			p.class = Removed
			continue
		}
		cb := b.at(p.b.addr, p.b.size)
		switch {
		case ca == nil || cb == nil:
			p.class = Changed
			p.summary = "code not read"
		case o.addr == p.b.addr && bytes.Equal(ca, cb):
			p.class = Identical
		case !archOK:
			p.class = Changed
			if bytes.Equal(ca, cb) {
				p.class = Moved
			}
		default:
			jobs = append(jobs, p)
		}
	}
	for i := range b.objs {
		if o := &b.objs[i]; o.fn && o.peer < 0 {
			fc.pairs = append(fc.pairs, &fpair{b: o, class: Added})
		}
	}
	// Decode in parallel; every worker keeps its votes and string
	// references and hands them over once.
	ch := make(chan *fpair)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for w := 0; w < opts.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var s scratch
			for p := range ch {
				if err := fc.decodePair(p, &s, m); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
				s.shrink()
			}
			m.addVotes(s.votes)
			mu.Lock()
			fc.refsA = append(fc.refsA, s.ra...)
			fc.refsB = append(fc.refsB, s.rb...)
			mu.Unlock()
		}()
	}
	for _, p := range jobs {
		if ctx.Err() != nil {
			break
		}
		ch <- p
	}
	close(ch)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return fc, firstErr
}

// scratch is what one decoding worker reuses from function to function,
// and what it gathers: votes, and the addresses the code refers to.
type scratch struct {
	ia, ib []disasm.Inst
	refsB  []disasm.Ref
	shapes disasm.Shapes // numbers instructions for structural diffs
	votes  []vote
	ra, rb []uint64
}

// maxKept is the most instructions a worker's buffers keep between
// functions: one very large function (a generated table of intrinsics,
// 60,000 instructions of some 300 bytes each) must not hold its buffers'
// memory for the rest of the comparison.
const maxKept = 1 << 14

func (s *scratch) shrink() {
	if cap(s.ia) > maxKept {
		s.ia = nil
	}
	if cap(s.ib) > maxKept {
		s.ib = nil
	}
	if cap(s.refsB) > maxKept {
		s.refsB = nil
	}
}

// decodePair compares a function with its peer instruction by
// instruction.
func (fc *funcCmp) decodePair(p *fpair, s *scratch, m *mapper) error {
	ca, cb := fc.a.at(p.a.addr, p.a.size), fc.b.at(p.b.addr, p.b.size)
	// A function at the same address whose bytes differ only up to some
	// point is decoded only that far: past it, the same bytes at the same
	// addresses are the same instructions referring to the same places.
	// (x86: the decoder resynchronises on no boundary of ours, so the cut
	// is kept only where it falls after a whole instruction on both
	// sides: the second side's instructions may straddle the first's
	// boundary, and hunks found in pieces decoded from a cut there would
	// not index the whole function's instructions.)
	decoded := false
	if p.a.addr == p.b.addr && len(ca) == len(cb) && fc.decA.Arch() != "arm64" {
		last := len(ca) - 1
		for last >= 0 && ca[last] == cb[last] {
			last--
		}
		if end := last + 16; end < len(ca) {
			pre, err := fc.decA.DecodeRefs(ca[:end], p.a.addr, s.ia)
			if err == nil {
				s.ia = pre
				n := 0
				for i := range pre {
					n += pre[i].Len
					if n > last {
						if !pre[i].Bad && n <= end-1 && fc.endsAt(cb[:end], p.b.addr, n, s) {
							ca, cb, s.ia, decoded = ca[:n], cb[:n], pre[:i+1], true
						}
						break
					}
				}
			}
		}
	}
	var err error
	// Both sides are decoded for their references (DecodeRefs): Equal
	// and the structural diff's shapes decode an instruction fully only
	// where its bytes leave it open.
	if !decoded {
		if s.ia, err = fc.decA.DecodeRefs(ca, p.a.addr, s.ia); err != nil {
			return fmt.Errorf("rebuilt: %s: %w", p.a.name, err)
		}
	}
	ia := s.ia
	for i := range ia {
		for _, r := range ia[i].Refs {
			s.ra = append(s.ra, r.Addr)
		}
	}
	if len(ca) == len(cb) && fc.a.f.Arch == fc.b.f.Arch {
		// The common case of code that moved: the same instructions
		// with other displacements. Only their references are needed.
		if refs, ok := fc.decB.ShiftRefs(ia, cb, p.b.addr, s.refsB); ok {
			s.refsB = refs
			for _, r := range refs {
				s.rb = append(s.rb, r.Addr)
			}
			fc.aligned(p, disasm.TrimPadding(ia), refs, s, m)
			return nil
		}
	}
	if s.ib, err = fc.decB.DecodeRefs(cb, p.b.addr, s.ib); err != nil {
		return fmt.Errorf("shipped: %s: %w", p.b.name, err)
	}
	ib := s.ib
	for i := range ib {
		for _, r := range ib[i].Refs {
			s.rb = append(s.rb, r.Addr)
		}
	}
	// Padding after the last instruction differs in length when only the
	// alignment of what follows changed.
	ta, tb := disasm.TrimPadding(ia), disasm.TrimPadding(ib)
	if len(ta) == len(tb) {
		same := true
		for i := range ta {
			if !disasm.Equal(&ta[i], &tb[i]) {
				same = false
				break
			}
		}
		if same {
			refs := s.refsB[:0]
			for i := range tb {
				refs = append(refs, tb[i].Refs...)
			}
			s.refsB = refs
			fc.aligned(p, ta, refs, s, m)
			return nil
		}
	}
	p.class = Changed
	p.hunks, p.summary = fc.structuralDiff(ta, tb, !decoded, &s.shapes)
	if !decoded {
		// What rendering would decode again: the same functions, whole.
		p.shown = showHunks(ta, tb, p.hunks)
	}
	return nil
}

// endsAt reports whether the second side's code (at pc), decoded from its
// start, has a whole instruction ending exactly n bytes in. It decodes
// into s.ib, which decodePair decodes into afresh afterwards.
func (fc *funcCmp) endsAt(code []byte, pc uint64, n int, s *scratch) bool {
	ins, err := fc.decB.DecodeRefs(code, pc, s.ib)
	if err != nil {
		return false
	}
	s.ib = ins
	m := 0
	for i := range ins {
		m += ins[i].Len
		if m >= n {
			return m == n && !ins[i].Bad
		}
	}
	return false
}

// aligned judges a function whose instructions are Equal to its peer's,
// whose references are refsB (one after another, as many as ia's): it
// moved when every pair of references agrees. Pairs no object decides
// are votes, and wait for them (fpair.pending).
func (fc *funcCmp) aligned(p *fpair, ia []disasm.Inst, refsB []disasm.Ref, s *scratch, m *mapper) {
	p.class = Moved
	j := 0
	for i := range ia {
		for _, r := range ia[i].Refs {
			rb := refsB[j].Addr
			j++
			same, decided := m.resolve(r.Addr, rb, r.Soft)
			switch {
			case !decided:
				s.votes = append(s.votes, vote{r.Addr, rb})
				p.pending = append(p.pending, refPair{r.Addr, rb, i})
			case !same:
				p.bad = append(p.bad, i)
			}
		}
	}
	if len(p.bad) > 0 {
		p.class = Changed
	}
}

// structuralDiff aligns two instruction streams that differ in more than
// addresses and renders the differing stretches.
//
// whole says ia and ib are the whole functions (not only the stretch up
// to the last byte that differs), so their lengths are worth telling.
func (fc *funcCmp) structuralDiff(ia, ib []disasm.Inst, whole bool, shapes *disasm.Shapes) ([]hunk, string) {
	// An instruction's shape: the instruction with its addresses set
	// aside (a number from shapes), then what each address names: the
	// same object and offset on both sides, "·" for memory no object
	// names; a value that is no address is kept as it is.
	shapes.Reset(maxKept)
	shape := func(_ *disasm.Decoder, l *layout, ins []disasm.Inst) []string {
		out := make([]string, len(ins))
		var b []byte
		for i := range ins {
			b = strconv.AppendInt(b[:0], int64(shapes.ID(&ins[i])), 36)
			for _, r := range ins[i].Refs {
				b = append(b, '|')
				switch k, o := kindOf(l, r.Addr); {
				case !l.isAddr(r.Addr):
					b = strconv.AppendUint(b, r.Addr, 16)
				case k == paired:
					b = append(b, o.key...)
					if r.Addr != o.addr {
						b = append(b, '+')
						b = strconv.AppendUint(b, r.Addr-o.addr, 16)
					}
				default:
					b = append(b, "·"...)
				}
			}
			out[i] = string(b)
		}
		return out
	}
	sa, sb := shape(fc.decA, fc.a, ia), shape(fc.decB, fc.b, ib)
	diffs := lcs.DiffLines(sa, sb)
	var changedA, changedB int
	var hunks []hunk
	for _, d := range diffs {
		changedA += d.End - d.Start
		changedB += d.ReplEnd - d.ReplStart
		hunks = append(hunks, hunk{d.Start, d.End, d.ReplStart, d.ReplEnd})
	}
	summary := verb(max(changedA, changedB), "instruction", "differs", "differ")
	if whole {
		summary += fmt.Sprintf(" (%d instructions in rebuilt, %d in shipped)", len(ia), len(ib))
	}
	return hunks, summary
}

type hunk struct{ a0, a1, b0, b1 int }

// shownInst is one line of an instruction diff: sign ' ' (context) or
// '-' with an instruction of the first side, '+' with one of the second;
// sign 0 is the "…" between hunks.
type shownInst struct {
	in   disasm.Kept
	sign byte
}

// showHunks picks the lines that show hunks with one instruction of
// context.
func showHunks(ia, ib []disasm.Inst, hunks []hunk) []shownInst {
	const ctx = 1
	// Counted first: a large diff's lines wait, all of them, until they
	// can be written.
	n, lastA := 0, -1
	for _, h := range hunks {
		from := max(h.a0-ctx, lastA+1, 0)
		if lastA >= 0 && from > lastA+1 {
			n++
		}
		end := min(h.a1+ctx, len(ia))
		n += max(h.a0-from, 0) + h.a1 - h.a0 + h.b1 - h.b0 + end - h.a1
		lastA = end - 1
	}
	if n == 0 {
		return nil
	}
	out := make([]shownInst, 0, n)
	lastA = -1
	for _, h := range hunks {
		from := max(h.a0-ctx, lastA+1, 0)
		if lastA >= 0 && from > lastA+1 {
			out = append(out, shownInst{sign: 0})
		}
		for i := from; i < h.a0; i++ {
			out = append(out, shownInst{ia[i].Keep(), ' '})
		}
		for i := h.a0; i < h.a1; i++ {
			out = append(out, shownInst{ia[i].Keep(), '-'})
		}
		for i := h.b0; i < h.b1; i++ {
			out = append(out, shownInst{ib[i].Keep(), '+'})
		}
		end := min(h.a1+ctx, len(ia))
		for i := h.a1; i < end; i++ {
			out = append(out, shownInst{ia[i].Keep(), ' '})
		}
		lastA = end - 1
	}
	return out
}

// render writes hunks with one instruction of context: "-" lines from the
// first side, "+" lines from the second, offsets from the function start.
func (fc *funcCmp) render(ia, ib []disasm.Inst, hunks []hunk, p *fpair) []string {
	return fc.write(showHunks(ia, ib, hunks), p)
}

// write renders the lines of an instruction diff.
func (fc *funcCmp) write(shown []shownInst, p *fpair) []string {
	if len(shown) == 0 {
		return nil
	}
	out := make([]string, len(shown))
	nameA, nameB := fc.namer(fc.a), fc.namer(fc.b)
	codeA, codeB := fc.a.at(p.a.addr, p.a.size), fc.b.at(p.b.addr, p.b.size)
	for i := range shown {
		s := &shown[i]
		switch s.sign {
		case 0:
			out[i] = "  …"
		case '+':
			off := s.in.PC - p.b.addr
			out[i] = instLine('+', off, fc.decB.CachedText(&fc.textB, &s.in, codeB[off:off+uint64(s.in.Len())], nameB))
		default:
			off := s.in.PC - p.a.addr
			out[i] = instLine(s.sign, off, fc.decA.CachedText(&fc.textA, &s.in, codeA[off:off+uint64(s.in.Len())], nameA))
		}
	}
	return out
}

// namer labels addresses for display; a string's start shows the string.
func (fc *funcCmp) namer(l *layout) func(uint64) string {
	return func(addr uint64) string {
		if s := l.stringAt(addr); s != "" {
			return s
		}
		return l.label(addr)
	}
}

// finish decides the pending pairs and builds the items.
//
// A function whose code only moved but refers to data no object names
// that changed (a string header, a table) is changed too: the data is
// shown with it, since it has no name of its own to be listed under.
func (fc *funcCmp) finish(m *mapper, opts Options, w *words) ([]Item, Counts) {
	var items []Item
	var counts Counts
	// Rendering an item (decoding its function again, writing its
	// instructions) is the slow part: it waits for the classification
	// below, then runs in parallel. jobs[k] fills items[k].
	var jobs []renderJob
	slices.Sort(w.changed)
	fc.findUsers(w)
	for _, p := range fc.pairs {
		var dataLines []string
		var dataInst []int
		if p.class == Moved {
			for _, r := range p.pending {
				if !m.consistent(r.ra, r.rb) && !m.sameContent(r.ra, r.rb, max(fc.a.f.PtrSize, 4)) {
					p.bad = append(p.bad, r.inst)
					continue
				}
				if ls := w.changedAt(r.ra, r.rb); ls != nil {
					dataLines = append(dataLines, ls...)
					dataInst = append(dataInst, r.inst)
				}
			}
			if len(p.bad) > 0 || len(dataLines) > 0 {
				p.class = Changed
			}
		}
		counts[p.class]++
		if p.class == Identical {
			continue
		}
		it := Item{Class: p.class, Summary: p.summary, Lines: p.lines}
		if p.a != nil {
			it.Name, it.Section, it.AddrA, it.SizeA = p.a.name, p.a.sec, p.a.addr, p.a.size
		}
		if p.b != nil {
			it.Name, it.Section, it.AddrB, it.SizeB = p.b.name, p.b.sec, p.b.addr, p.b.size
		}
		p := p
		var do renderJob
		switch {
		case p.class == Changed && p.written:
			// Written while the data was judged (writeChanged).
		case p.class == Changed && p.shown != nil:
			do = func(it *Item, _, _ *[]disasm.Inst) {
				it.Lines = fc.write(p.shown, p)
				p.shown = nil
			}
		case p.class == Changed && len(p.hunks) > 0:
			do = func(it *Item, ia, ib *[]disasm.Inst) {
				*ia, _ = fc.decA.DecodeRefs(fc.a.at(p.a.addr, p.a.size), p.a.addr, *ia)
				*ib, _ = fc.decB.DecodeRefs(fc.b.at(p.b.addr, p.b.size), p.b.addr, *ib)
				it.Lines = fc.render(disasm.TrimPadding(*ia), disasm.TrimPadding(*ib), p.hunks, p)
			}
		case p.class == Changed && len(p.bad) > 0 && fc.decA != nil:
			do = func(it *Item, ia, ib *[]disasm.Inst) {
				*ia, _ = fc.decA.DecodeRefs(fc.a.at(p.a.addr, p.a.size), p.a.addr, *ia)
				*ib, _ = fc.decB.DecodeRefs(fc.b.at(p.b.addr, p.b.size), p.b.addr, *ib)
				var hs []hunk
				seen := map[int]bool{}
				for _, i := range sortedUnique(p.bad) {
					if !seen[i] && i < len(*ia) && i < len(*ib) {
						seen[i] = true
						hs = append(hs, hunk{i, i + 1, i, i + 1})
					}
				}
				it.Lines = fc.render(*ia, *ib, hs, p)
				it.Summary = fmt.Sprintf("%s to other code or data (the instructions are otherwise the same)", verb(len(hs), "instruction", "refers", "refer"))
			}
		case p.class == Changed && len(dataLines) > 0:
			do = func(it *Item, ia, _ *[]disasm.Inst) {
				*ia, _ = fc.decA.DecodeRefs(fc.a.at(p.a.addr, p.a.size), p.a.addr, *ia)
				for _, i := range sortedUnique(dataInst) {
					if i < len(*ia) {
						it.Lines = append(it.Lines, fmt.Sprintf("  +%#04x  %s", (*ia)[i].PC-p.a.addr, fc.decA.Text(&(*ia)[i], fc.namer(fc.a))))
					}
				}
				for _, l := range unique(dataLines) {
					it.Lines = append(it.Lines, "    "+l)
				}
			}
			it.Summary = "same code, but it refers to data that changed"
		case p.class == Added || p.class == Removed:
			do = func(it *Item, _, _ *[]disasm.Inst) { it.Lines, it.LinesOmitted = fc.listing(p, opts.MaxListing) }
			it.Summary = fmt.Sprintf("%d bytes", max(it.SizeA, it.SizeB))
		case p.class == Changed && fc.decA == nil && it.Summary == "":
			it.Summary = fmt.Sprintf("bytes differ (%d → %d bytes)", it.SizeA, it.SizeB)
		}
		items = append(items, it)
		jobs = append(jobs, do)
	}
	fc.renderItems(items, jobs, opts.Workers)
	sortItems(items)
	return items, counts
}

// writeChanged writes, on workers goroutines, the diffs of the functions
// whose code changed and whose instructions were kept (fpair.shown): they
// need the strings but not the data's verdicts, so they are written while
// the data is judged (which finish waits for). It returns a function that
// waits for them. The workers only read the layouts, as judging does.
func (fc *funcCmp) writeChanged(workers int) (wait func()) {
	next := make(chan *fpair)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range next {
				p.lines, p.shown, p.written = fc.write(p.shown, p), nil, true
			}
		}()
	}
	go func() {
		for _, p := range fc.pairs {
			if p.class == Changed && p.shown != nil {
				next <- p
			}
		}
		close(next)
	}()
	return wg.Wait
}

// renderJob fills in an item's lines, with buffers it may reuse.
type renderJob func(it *Item, ia, ib *[]disasm.Inst)

// renderItems runs jobs[k] on items[k], where there is a job, on workers
// goroutines; each job touches only its own item and reads the layouts.
func (fc *funcCmp) renderItems(items []Item, jobs []renderJob, workers int) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ia, ib []disasm.Inst
			for k := range next {
				jobs[k](&items[k], &ia, &ib)
				if cap(ia) > maxKept {
					ia = nil
				}
				if cap(ib) > maxKept {
					ib = nil
				}
			}
		}()
	}
	for k, j := range jobs {
		if j != nil {
			next <- k
		}
	}
	close(next)
	wg.Wait()
}

func (fc *funcCmp) listing(p *fpair, max int) ([]string, int) {
	l, d, o, sign := fc.a, fc.decA, p.a, byte('-')
	if p.b != nil {
		l, d, o, sign = fc.b, fc.decB, p.b, '+'
	}
	if d == nil {
		return nil, 0
	}
	ins, err := d.DecodeRefs(l.at(o.addr, o.size), o.addr, nil)
	if err != nil {
		return []string{err.Error()}, 0
	}
	ins = disasm.TrimPadding(ins)
	omitted := 0
	if len(ins) > max {
		omitted = len(ins) - max
		ins = ins[:max]
	}
	out := make([]string, len(ins))
	name := fc.namer(l)
	for i := range ins {
		out[i] = instLine(sign, ins[i].PC-o.addr, d.Text(&ins[i], name))
	}
	return out, omitted
}

// instLine writes one line of an instruction diff or listing: sign, the
// offset from the function's start (as %#04x would), the instruction.
func instLine(sign byte, off uint64, text string) string {
	b := make([]byte, 0, 12+len(text))
	b = append(b, sign, ' ', '+', '0', 'x')
	var digits [16]byte
	h := strconv.AppendUint(digits[:0], off, 16)
	for i := len(h); i < 4; i++ {
		b = append(b, '0')
	}
	b = append(b, h...)
	b = append(b, ' ', ' ')
	b = append(b, text...)
	return string(b)
}

// unique keeps the first of each line.
func unique(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func sortedUnique(xs []int) []int {
	seen := map[int]bool{}
	var out []int
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// findUsers finds the functions whose code did not change at all but
// refers to data no object names that changed (a string header whose
// string was edited in place): they were never decoded. A scan of the
// code (disasm.Candidates) proposes them; decoding confirms.
func (fc *funcCmp) findUsers(w *words) {
	if len(w.changed) == 0 || fc.decA == nil {
		return
	}
	lo, hi := w.changed[0]-32, w.changed[len(w.changed)-1]
	near := func(t uint64) bool {
		if t < lo || t > hi {
			return false
		}
		i := sort.Search(len(w.changed), func(i int) bool { return w.changed[i] >= t })
		return i < len(w.changed) && w.changed[i]-t <= 32
	}
	byAddr := map[uint64]*fpair{}
	for _, p := range fc.pairs {
		if p.class == Identical {
			byAddr[p.a.addr] = p
		}
	}
	candidates := map[*fpair]bool{}
	for _, s := range fc.a.f.Sections {
		if !s.Exec {
			continue
		}
		disasm.Candidates(fc.a.f.Arch, fc.a.sec(s.Name), s.Addr, lo, hi, func(at, target uint64) {
			if near(target) {
				if o := fc.a.objAt(at); o != nil && o.fn {
					if p := byAddr[o.addr]; p != nil {
						candidates[p] = true
					}
				}
			}
		})
	}
	// Decode the candidates; a block of data starts at an address some
	// code refers to and ends where the next one starts.
	type use struct {
		p    *fpair
		addr uint64
		inst int
	}
	var uses []use
	starts := make([]uint64, 0, len(fc.m.anchors))
	for _, an := range fc.m.anchors {
		starts = append(starts, an.ra)
	}
	var ins []disasm.Inst
	for p := range candidates {
		ins, _ = fc.decA.DecodeRefs(fc.a.at(p.a.addr, p.a.size), p.a.addr, ins)
		for i := range ins {
			for _, r := range ins[i].Refs {
				if k, _ := kindOf(fc.a, r.Addr); k == unnamed && r.Addr >= lo && r.Addr <= hi {
					uses = append(uses, use{p, r.Addr, i})
					starts = append(starts, r.Addr)
				}
			}
		}
	}
	slices.Sort(starts)
	starts = slices.Compact(starts)
	for _, u := range uses {
		end := u.addr + 32
		if j := sort.Search(len(starts), func(j int) bool { return starts[j] > u.addr }); j < len(starts) {
			end = min(end, starts[j])
		}
		i := sort.Search(len(w.changed), func(i int) bool { return w.changed[i] >= u.addr })
		if i < len(w.changed) && w.changed[i] < end {
			u.p.class = Moved // decided in finish, with the data shown
			u.p.pending = append(u.p.pending, refPair{u.addr, u.addr, u.inst})
		}
	}
}

// gaps compares the code no function covers (padding between functions,
// the build ID the Go linker puts first in PE and Mach-O text): bytes
// there run when jumped to, so a difference is a cause like any other. A
// gap is paired by the function before it; the build ID itself is
// compared as build information, so its text is left out here.
func (fc *funcCmp) gaps() []Item {
	type gap struct {
		after string // key of the function before it, "" at the start
		addr  uint64
		b     []byte
	}
	collect := func(l *layout) map[string]map[string]gap {
		out := map[string]map[string]gap{}
		for _, s := range l.f.Sections {
			if !s.Exec || s.Size == 0 {
				continue
			}
			code := l.sec(s.Name)
			if code == nil {
				continue
			}
			m := map[string]gap{}
			pos, after := s.Addr, ""
			end := s.Addr + uint64(min(uint64(s.Size), s.MemSize))
			for _, o := range l.objs {
				if !o.fn || o.sec != s.Name || o.addr < pos {
					if o.fn && o.sec == s.Name && o.end() > pos {
						pos, after = o.end(), o.key
					}
					continue
				}
				if o.addr > pos {
					m[after] = gap{after, pos, maskBuildID(code[pos-s.Addr : o.addr-s.Addr])}
				}
				pos, after = max(pos, o.end()), o.key
			}
			if pos < end {
				m[after] = gap{after, pos, maskBuildID(code[pos-s.Addr : end-s.Addr])}
			}
			out[s.Name] = m
		}
		return out
	}
	ga, gb := collect(fc.a), collect(fc.b)
	var items []Item
	// In the sections' order, so that the report is the same every time.
	for _, s := range fc.a.f.Sections {
		sec := s.Name
		ma, mb := ga[sec], gb[sec]
		if ma == nil || mb == nil {
			continue
		}
		delete(ga, sec) // a repeated section name is compared once
		var n, bytesDiff int
		var first string // "" is the stretch at the start
		found := false
		for k, x := range ma {
			y, ok := mb[k]
			if !ok {
				// The function before it is gone: that function is
				// reported; the padding goes with it.
				continue
			}
			if !bytes.Equal(x.b, y.b) {
				n++
				bytesDiff += max(len(x.b), len(y.b))
				if !found || k < first {
					first, found = k, true
				}
			}
		}
		if n > 0 {
			where := "at the start"
			if first != "" {
				where = "first after " + first
			}
			items = append(items, Item{Name: sec + " (outside functions)", Section: sec, Class: Changed,
				Summary: fmt.Sprintf("code no function covers differs: %s, %d bytes (%s)", english.Count(n, "stretch", "stretches"), bytesDiff, where)})
		}
	}
	return items
}

// maskBuildID removes the text of a Go build ID marker from b.
func maskBuildID(b []byte) []byte {
	const prefix, suffix = "\xff Go build ID: \"", "\"\n \xff"
	i := bytes.Index(b, []byte(prefix))
	if i < 0 {
		return b
	}
	j := bytes.Index(b[i+len(prefix):], []byte(suffix))
	if j < 0 {
		return b
	}
	out := append([]byte{}, b[:i+len(prefix)]...)
	return append(out, b[i+len(prefix)+j:]...)
}

// verb writes "1 instruction differs", "2 instructions differ".
func verb(n int, noun, one, many string) string {
	if n == 1 {
		return "1 " + noun + " " + one
	}
	return fmt.Sprintf("%d %ss %s", n, noun, many)
}
