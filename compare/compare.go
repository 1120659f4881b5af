package compare

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"

	"github.com/opencontainers/go-digest"
	"github.com/reprove/reprove/compare/archive"
	"github.com/reprove/reprove/compare/format"
	"github.com/reprove/reprove/compare/report"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/internal/ctxio"
)

// Files compares a rebuilt artifact with a shipped one. A mismatch is a
// result (Verdict Different), not an error; an error means the comparison
// could not finish (unreadable or corrupt input, a limit crossed, a
// cancelled context) and says nothing about whether the files match.
func Files(ctx context.Context, rebuilt, shipped string, opts Options) (*report.Report, error) {
	if _, err := verdict.CheckNormalizers(opts.Normalizers); err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	fa, ia, err := openRegular(rebuilt)
	if err != nil {
		return nil, err
	}
	defer fa.Close()
	fb, ib, err := openRegular(shipped)
	if err != nil {
		return nil, err
	}
	defer fb.Close()
	r, err := Compare(ctx, Input{Name: rebuilt, R: fa, Size: ia.Size()}, Input{Name: shipped, R: fb, Size: ib.Size()}, opts)
	if err != nil {
		return nil, err
	}
	if os.SameFile(ia, ib) {
		r.Notes = append(r.Notes, fmt.Sprintf("%s and %s are the same file: comparing a file with itself proves nothing about a rebuild", rebuilt, shipped))
	}
	// The verdict rests on what was read; a file rewritten meanwhile makes
	// it meaningless.
	if err := unchanged(fa, rebuilt, ia); err != nil {
		return nil, err
	}
	if err := unchanged(fb, shipped, ib); err != nil {
		return nil, err
	}
	return r, nil
}

// Input is one side of a comparison that the caller already holds (a
// member of something, bytes in memory). Name is how reports and errors
// refer to it.
type Input struct {
	Name string
	R    io.ReaderAt
	Size int64
}

// Compare is Files for inputs the caller holds; the same rules apply.
func Compare(ctx context.Context, rebuilt, shipped Input, opts Options) (*report.Report, error) {
	allowed, err := verdict.CheckNormalizers(opts.Normalizers)
	if err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	if rebuilt.R == nil || shipped.R == nil || rebuilt.Size < 0 || shipped.Size < 0 {
		return nil, errors.New("compare: an input has no reader or a negative size")
	}
	e := newEngine(ctx, opts, allowed)
	defer e.cleanup()
	a := &blob{ra: rebuilt.R, size: rebuilt.Size, where: rebuilt.Name}
	b := &blob{ra: shipped.R, size: shipped.Size, where: shipped.Name}
	r := &report.Report{SchemaVersion: report.SchemaVersion, Allowed: allowed}
	// The two whole-file digests are the verdict's ground truth and the
	// largest reads of a comparison: hash both at once.
	var wg sync.WaitGroup
	var errB error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, errB = e.hashWith(b, make([]byte, len(e.buf)))
	}()
	_, errA := e.hashWith(a, e.buf)
	wg.Wait()
	if err := errors.Join(errA, errB); err != nil {
		return nil, err
	}
	for _, x := range []struct {
		bl  *blob
		art *report.Artifact
	}{{a, &r.Rebuilt}, {b, &r.Shipped}} {
		d := x.bl.dig
		f, err := e.sniff(x.bl)
		if err != nil {
			return nil, err
		}
		*x.art = report.Artifact{Path: x.bl.where, Digest: d, Size: x.bl.size, Format: f}
	}
	if r.Rebuilt.Digest == r.Shipped.Digest {
		r.Verdict = verdict.Identical
		return r, nil
	}
	name := filepath.Base(shipped.Name)
	if filepath.Base(rebuilt.Name) != name {
		name = filepath.Base(rebuilt.Name) + " ↔ " + name
	}
	root := &report.Node{Name: name, Kind: verdict.KindFile}
	if err := e.compareBlobs(root, a, b, 0); err != nil {
		return nil, err
	}
	e.finish(root)
	numberIDs(root)
	r.Differences = root
	r.Counts = e.counts
	r.Notes = e.notes
	switch {
	case e.counts.Differences == 0:
		// compareBlobs always explains unequal digests; reaching this is a
		// bug, and a bug must never produce a match.
		return nil, errors.New("compare: internal error: digests differ but no difference was recorded")
	case e.unexplained == 0 && e.counts.Accepted == e.counts.Differences:
		r.Verdict = verdict.Equivalent
		r.Normalizers = sortedKeys(e.needed)
	default:
		r.Verdict = verdict.Different
		if e.unexplained == 0 {
			for k := range e.suggested {
				e.needed[k] = true
			}
			r.Suggested = sortedKeys(e.needed)
		}
	}
	return r, nil
}

// numberIDs gives the nodes that others refer to the IDs n1, n2, ... in
// the tree's order, and points each See at its node's new ID. Members of an
// archive are compared two at a time (see compareMembers), so the order in
// which IDs were handed out can change from run to run; the tree's order
// cannot, and a report must be the same every time.
func numberIDs(root *report.Node) {
	ids := map[string]string{}
	var number, point func(n *report.Node)
	number = func(n *report.Node) {
		if n.ID != "" {
			ids[n.ID] = fmt.Sprintf("n%d", len(ids)+1)
			n.ID = ids[n.ID]
		}
		for _, c := range n.Children {
			number(c)
		}
	}
	point = func(n *report.Node) {
		if n.See != "" {
			n.See = ids[n.See]
		}
		for _, c := range n.Children {
			point(c)
		}
	}
	number(root)
	if len(ids) > 0 {
		point(root)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func unchanged(f *os.File, p string, before os.FileInfo) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	if st.Size() != before.Size() || !st.ModTime().Equal(before.ModTime()) {
		return fmt.Errorf("compare: %s changed while it was being compared", p)
	}
	return nil
}

func openRegular(p string) (*os.File, os.FileInfo, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, fmt.Errorf("compare: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("compare: %w", err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("compare: %s is not a regular file (%v)", p, st.Mode().Type())
	}
	return f, st, nil
}

// engine holds the state of one comparison.
type engine struct {
	ctx     context.Context
	lim     Limits
	allowed []string
	budget  *archive.Budget
	prog    func(Progress)
	tempDir string
	// shared is what the forks of an engine (see fork) share with it.
	shared *shared

	buf []byte // one copy buffer for every hash: io.Copy would allocate 32 KiB per call

	counts      report.Counts
	notes       []string // what could not be analysed, for report.Report.Notes
	unexplained int
	needed      map[string]bool // accepted normalizers
	suggested   map[string]bool // covering normalizers not allowed
	// order puts a place before its siblings of the same rank (Go build
	// info first: it says which inputs changed; then strings, functions,
	// data; layout and sections last).
	order map[*report.Node]int
	// deb is set while the members of two Debian packages are compared.
	deb *debState
}

// shared is the state the forks of one comparison share.
type shared struct {
	mu      sync.Mutex
	private string // made on first spill, removed by cleanup
	ids     int    // node IDs given out (report.Node.ID)
}

// nextID returns a node ID no other node of the report has.
func (e *engine) nextID() string {
	e.shared.mu.Lock()
	defer e.shared.mu.Unlock()
	e.shared.ids++
	return fmt.Sprintf("n%d", e.shared.ids)
}

func newEngine(ctx context.Context, opts Options, allowed []string) *engine {
	lim := opts.Limits.withDefaults()
	prog := func(Progress) {}
	if opts.Progress != nil {
		// Progress may come from two goroutines (see Files); the caller's
		// callback sees one event at a time.
		var mu sync.Mutex
		prog = func(p Progress) {
			mu.Lock()
			defer mu.Unlock()
			opts.Progress(p)
		}
	}
	return &engine{ctx: ctx, lim: lim, allowed: allowed, budget: archive.NewBudget(lim.archive()), buf: make([]byte, 256<<10),
		prog: prog, tempDir: opts.TempDir, shared: &shared{}, needed: map[string]bool{}, suggested: map[string]bool{}, order: map[*report.Node]int{}}
}

func (e *engine) cleanup() {
	if e.shared.private != "" {
		os.RemoveAll(e.shared.private)
	}
}

// blob is one side's content: a whole file, a member, a decompressed
// stream. Everything is random-access; members of streamed archives are
// spilled (to memory when small, else to the private directory).
type blob struct {
	ra    io.ReaderAt
	size  int64
	where string // for messages: "shipped.deb: data.tar.xz: ./usr/bin/x"
	dig   digest.Digest
	f     format.Format
	known bool // f is set
	// release frees a spilled blob's storage.
	release func()
}

func (b *blob) reader() io.Reader { return io.NewSectionReader(b.ra, 0, b.size) }

func (b *blob) free() {
	if b.release != nil {
		b.release()
		b.release = nil
	}
}

// reader stops a long read when the context is cancelled and reports
// progress.
func (e *engine) reader(r io.Reader, where, step string) io.Reader {
	cr := ctxio.NewReader(e.ctx, r)
	cr.Progress = func(n int64) { e.prog(Progress{Path: where, Step: step, Bytes: n}) }
	return cr
}

func (e *engine) digest(b *blob) (digest.Digest, error) { return e.hashWith(b, e.buf) }

// hashWith sets b's digest using buf; it may run on two blobs at once.
func (e *engine) hashWith(b *blob, buf []byte) (digest.Digest, error) {
	if b.dig != "" {
		return b.dig, nil
	}
	d := digest.SHA256.Digester()
	if _, err := io.CopyBuffer(d.Hash(), e.reader(b.reader(), b.where, "hashing"), buf); err != nil {
		return "", fmt.Errorf("hash %s: %w", b.where, err)
	}
	b.dig = d.Digest()
	return b.dig, nil
}

func (e *engine) sniff(b *blob) (format.Format, error) {
	if b.known {
		return b.f, nil
	}
	head := make([]byte, min(int64(format.HeadSize), b.size))
	if _, err := b.ra.ReadAt(head, 0); err != nil && err != io.EOF {
		return 0, fmt.Errorf("read %s: %w", b.where, err)
	}
	b.f, b.known = format.Detect(head, b.size), true
	return b.f, nil
}

// spill stores r (of the given size, -1 if unknown) as a blob: in memory
// up to 1 MiB, else in a file of the private directory.
func (e *engine) spill(r io.Reader, size int64, where string) (*blob, error) {
	return e.spillWith(r, size, where, e.buf)
}

// spillWith is spill with its own copy buffer: it may run on two sides at
// once.
func (e *engine) spillWith(r io.Reader, size int64, where string, buf []byte) (*blob, error) {
	const inMemory = 1 << 20
	if size >= 0 && size <= inMemory {
		buf := make([]byte, size)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("read %s: %w", where, err)
		}
		return &blob{ra: bytes.NewReader(buf), size: size, where: where}, nil
	}
	dir, err := e.privateDir()
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "member-")
	if err != nil {
		return nil, fmt.Errorf("spill %s: %w", where, err)
	}
	n, err := io.CopyBuffer(f, r, buf)
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &blob{ra: f, size: n, where: where, release: func() { f.Close(); os.Remove(f.Name()) }}, nil
}

// privateDir makes the private directory on first use.
func (e *engine) privateDir() (string, error) {
	e.shared.mu.Lock()
	defer e.shared.mu.Unlock()
	if e.shared.private == "" {
		dir, err := os.MkdirTemp(e.tempDir, "reprove-compare-")
		if err != nil {
			return "", fmt.Errorf("make private directory: %w", err)
		}
		e.shared.private = dir
	}
	return e.shared.private, nil
}

// note records something a comparison could not look into; it is no
// difference.
func (e *engine) note(where, s string) { e.notes = append(e.notes, where+": "+s) }

// add records a difference under parent. Every leaf goes through add, so
// the counts that decide the verdict see every difference, including those
// later cut from the report.
func (e *engine) add(parent *report.Node, n *report.Node) {
	if n.Leaf() {
		e.counts.Differences++
		if n.Normalizer == "" {
			if norm, ok := verdict.Covering(n.Kind, e.allowed); norm != "" {
				n.Normalizer, n.Accepted = norm, ok
			}
		}
		switch {
		case n.Accepted:
			e.counts.Accepted++
			e.needed[n.Normalizer] = true
		case n.Normalizer != "":
			e.suggested[n.Normalizer] = true
		default:
			e.unexplained++
		}
	}
	parent.Children = append(parent.Children, n)
}

// addFixed records a difference no normalizer may accept, whatever its
// kind (for example an order change among repeated names).
func (e *engine) addFixed(parent *report.Node, n *report.Node) {
	e.counts.Differences++
	e.unexplained++
	parent.Children = append(parent.Children, n)
}

// placed records where n sorts among its siblings (see engine.order) and
// returns it.
func (e *engine) placed(n *report.Node, order int) *report.Node {
	e.order[n] = order
	return n
}

// attach adds a place node (a member, a section) if it holds anything.
func (e *engine) attach(parent, n *report.Node) {
	if len(n.Children) > 0 {
		parent.Children = append(parent.Children, n)
	}
}

// finish sorts the tree so that what matters comes first: causes before
// effects; then what holds a difference no normalizer covers, then what
// holds one a normalizer would cover but was not allowed, then what
// allowed normalizers accept; within each, places holding a headline
// cause (see headline) first, leaves before places, places in their order
// and by name. Nothing is cut: renderings cut, and say so.
func (e *engine) finish(n *report.Node) {
	rank := map[*report.Node]int{}
	head := map[*report.Node]bool{} // holds a headline cause (see headline)
	var mark func(*report.Node, bool) int
	mark = func(x *report.Node, effect bool) int {
		effect = effect || x.Effect
		r := 0
		switch {
		case !x.Leaf() || x.Accepted:
		case x.Normalizer == "":
			r = 2
		default:
			r = 1
		}
		if x.Leaf() && !effect {
			e.counts.Causes++
		}
		for _, c := range x.Children {
			r = max(r, mark(c, effect))
			head[x] = head[x] || (head[c] && !c.Effect)
		}
		if x.Leaf() && !effect && headline(x) {
			head[x] = true
		}
		rank[x] = r
		return r
	}
	mark(n, false)
	var sortTree func(*report.Node)
	sortTree = func(n *report.Node) {
		sort.SliceStable(n.Children, func(i, j int) bool {
			a, b := n.Children[i], n.Children[j]
			switch {
			case a.Effect != b.Effect:
				return !a.Effect
			case rank[a] != rank[b]:
				return rank[a] > rank[b]
			case !a.Leaf() && !b.Leaf() && head[a] != head[b]:
				return head[a]
			case a.Leaf() != b.Leaf():
				return a.Leaf()
			case e.order[a] != e.order[b]:
				return e.order[a] < e.order[b]
			case !a.Leaf():
				return a.Name < b.Name
			}
			return false
		})
		for _, c := range n.Children {
			sortTree(c)
		}
	}
	sortTree(n)
}

// headline reports whether a difference names what a build was made from
// or as: a toolchain, module or dependency version in Go build info, a
// field of a package's control file (its version, its dependencies).
// Places holding one come before their siblings, so that the cause of a
// release-to-release difference is among a report's first lines.
func headline(n *report.Node) bool {
	switch n.Kind {
	case verdict.KindField:
		return true
	case verdict.KindBuildInfo:
		return n.Name != "build id"
	}
	return false
}

// compareBlobs explains how a and b differ, adding nodes under parent. It
// is called only when their digests may differ.
func (e *engine) compareBlobs(parent *report.Node, a, b *blob, depth int) error {
	if err := e.ctx.Err(); err != nil {
		return err
	}
	if err := e.budget.CheckDepth(depth, b.where); err != nil {
		return err
	}
	da, err := e.digest(a)
	if err != nil {
		return err
	}
	db, err := e.digest(b)
	if err != nil {
		return err
	}
	if da == db {
		return nil
	}
	fa, err := e.sniff(a)
	if err != nil {
		return err
	}
	fb, err := e.sniff(b)
	if err != nil {
		return err
	}
	e.prog(Progress{Path: b.where, Step: "comparing " + fb.String()})
	before := e.counts.Differences
	switch {
	case fa != fb && !(fa.Compressed() && fb.Compressed()):
		e.add(parent, &report.Node{Name: "format", Kind: verdict.KindFormat, Summary: "file format differs", Rebuilt: fa.String(), Shipped: fb.String()})
		if plain(fa) && plain(fb) {
			// Text that became binary (a NUL crept in), or empty: the
			// bytes say where.
			err = e.compareBytes(parent, a, b)
		}
	case fa.Compressed():
		err = e.compareCompressed(parent, a, b, fa, fb, depth)
	case fa == format.Tar:
		err = e.compareTar(parent, a.where, b.where, a.opener(), b.opener(), depth)
	case fa == format.Zip:
		err = e.compareZip(parent, a, b, depth)
	case fa == format.Ar:
		err = e.compareAr(parent, a, b, depth)
	case fa == format.PE:
		err = e.comparePE(parent, a, b)
	case fa.Executable():
		err = e.compareExe(parent, a, b, nil)
	case fa == format.Text:
		err = e.compareText(parent, a, b)
	}
	if err != nil {
		return err
	}
	if e.counts.Differences == before {
		// Nothing finer explained the difference: show the bytes.
		return e.compareBytes(parent, a, b)
	}
	return nil
}

func plain(f format.Format) bool { return f == format.Text || f == format.Unknown || f == format.Empty }

func (b *blob) opener() func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(b.reader()), nil }
}
