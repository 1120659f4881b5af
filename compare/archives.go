package compare

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	"github.com/reprove/reprove/compare/archive"
	"github.com/reprove/reprove/compare/format"
	"github.com/reprove/reprove/compare/report"
	"github.com/reprove/reprove/compare/verdict"
)

// classKind maps an archive field class to the kind of difference.
var classKind = map[archive.Class]verdict.Kind{
	archive.ClassOther: verdict.KindMetadata, archive.ClassType: verdict.KindType, archive.ClassMode: verdict.KindMode,
	archive.ClassLink: verdict.KindLink, archive.ClassOwner: verdict.KindOwner, archive.ClassTime: verdict.KindMtime,
	archive.ClassCompression: verdict.KindCompression, archive.ClassHeader: verdict.KindHeader,
}

// member is one archive member as compare sees it.
type member struct {
	*archive.Entry
	dig   digest.Digest // content digest of regular members
	occ   int           // 1 for the first member of this name, 2 for its first repeat, …
	key   string        // name and occurrence, for matching
	label string        // name, with "#n" for the n-th occurrence of a repeated name
	dup   bool          // the name occurs more than once in this archive
	match string        // the name below a versioned prefix (see versionedPrefix), or the name
}

func keyMembers(ms []*member) {
	seen := map[string]int{}
	for _, m := range ms {
		if m.match == "" {
			m.match = m.Name
		}
		seen[m.match]++
		m.occ = seen[m.match]
		m.key = fmt.Sprintf("%s\x00%d", m.match, m.occ) // NUL never occurs in a checked name
		m.label = m.Name
		if m.occ > 1 {
			m.label = fmt.Sprintf("%s#%d", m.Name, m.occ)
		}
	}
	for _, m := range ms {
		m.dup = seen[m.Name] > 1
	}
}

// pair is a member present on both sides, with the node that holds its
// differences.
type pair struct {
	a, b *member
	ai   int
	bi   int
	node *report.Node
}

// diffMembers compares two member lists: members present on one side only,
// repeats, order, and every metadata field of members present on both.
// Content is left to the caller (pairs whose digests differ).
func (e *engine) diffMembers(parent *report.Node, as, bs []*member) []*pair {
	if pa, pb, ok := versionedPrefix(as, bs); ok {
		// Every member sits under one directory named after the version
		// (module@version/, name-1.2/): pair them below it, and say once
		// that the directory differs.
		for _, m := range as {
			m.match = strings.TrimPrefix(m.Name, pa)
		}
		for _, m := range bs {
			m.match = strings.TrimPrefix(m.Name, pb)
		}
		e.add(parent, &report.Node{Name: "member prefix", Kind: verdict.KindMetadata, Rebuilt: pa, Shipped: pb,
			Summary: "every member's name starts with another directory; members are paired below it"})
	}
	keyMembers(as)
	keyMembers(bs)
	bIndex := make(map[string]int, len(bs))
	for i, m := range bs {
		bIndex[m.key] = i
	}
	aIndex := make(map[string]int, len(as))
	for i, m := range as {
		aIndex[m.key] = i
	}
	var pairs []*pair
	dups := false
	for i, m := range as {
		dups = dups || m.dup
		j, ok := bIndex[m.key]
		if !ok {
			if m.occ > 1 {
				e.add(parent, &report.Node{Name: m.Name, Kind: verdict.KindDuplicate, Summary: "repeated member present only in the rebuilt archive", Rebuilt: m.label})
			} else {
				e.add(parent, &report.Node{Name: m.Name, Kind: verdict.KindRemoved, Summary: fmt.Sprintf("only in rebuilt (%s, %d bytes)", m.Type, m.Size)})
			}
			continue
		}
		pairs = append(pairs, &pair{a: m, b: bs[j], ai: i, bi: j, node: &report.Node{Name: m.label, Kind: verdict.KindFile}})
	}
	for _, m := range bs {
		dups = dups || m.dup
		if _, ok := aIndex[m.key]; ok {
			continue
		}
		if m.occ > 1 {
			e.add(parent, &report.Node{Name: m.Name, Kind: verdict.KindDuplicate, Summary: "repeated member present only in the shipped archive", Shipped: m.label})
		} else {
			e.add(parent, &report.Node{Name: m.Name, Kind: verdict.KindAdded, Summary: fmt.Sprintf("only in shipped (%s, %d bytes)", m.Type, m.Size)})
		}
	}
	// Order of the members both sides have: pairs are in rebuilt order;
	// their shipped indices must increase.
	for k := 1; k < len(pairs); k++ {
		if pairs[k].bi < pairs[k-1].bi {
			n := &report.Node{Name: "member order", Kind: verdict.KindOrder,
				Summary: fmt.Sprintf("member order differs: %q comes after %q in rebuilt, before it in shipped", pairs[k].a.label, pairs[k-1].a.label)}
			if dups {
				n.Summary += "; names repeat, so order decides which copy an extractor keeps"
				e.addFixed(parent, n)
			} else {
				e.add(parent, n)
			}
			break
		}
	}
	for _, p := range pairs {
		e.diffFields(p.node, p.a.Fields, p.b.Fields)
	}
	return pairs
}

// versionedPrefix finds the directory every member of each side sits
// under (the longest common run of whole path elements), and reports
// them when they differ: two releases of a Go module zip
// (golang.org/toolchain@v0.0.1-go1.26.7.linux-amd64/…), of a source
// tarball (hello-2.10/…), whose members would otherwise pair with nothing.
func versionedPrefix(as, bs []*member) (string, string, bool) {
	pa, pb := commonDir(as), commonDir(bs)
	return pa, pb, pa != "" && pb != "" && pa != pb
}

// commonDir returns the longest "dir/" that starts every member's name
// (a directory member's own name counts: "hello-2.10/" is under
// "hello-2.10/"), or "".
func commonDir(ms []*member) string {
	if len(ms) == 0 {
		return ""
	}
	prefix := ms[0].Name
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		prefix = prefix[:i+1]
	} else {
		return ""
	}
	for _, m := range ms[1:] {
		for prefix != "" && !strings.HasPrefix(m.Name, prefix) {
			i := strings.LastIndex(strings.TrimSuffix(prefix, "/"), "/")
			prefix = prefix[:i+1]
		}
		if prefix == "" {
			return ""
		}
	}
	if prefix == "./" {
		return ""
	}
	return prefix
}

// diffFields adds a leaf for each field whose value differs or that only
// one side has. Time fields are gathered into one leaf: a zip records one
// time up to five times (DOS time and extended timestamp, in the central
// directory and the local header), and one change is one difference.
func (e *engine) diffFields(n *report.Node, as, bs []archive.Field) {
	bv := map[string]archive.Field{}
	for _, f := range bs {
		bv[f.Name] = f
	}
	var times []*report.Node
	add := func(x *report.Node) {
		if x.Kind == verdict.KindMtime {
			times = append(times, x)
		} else {
			e.add(n, x)
		}
	}
	seen := map[string]bool{}
	for _, f := range as {
		seen[f.Name] = true
		g, ok := bv[f.Name]
		switch {
		case !ok:
			add(&report.Node{Name: f.Name, Kind: classKind[f.Class], Rebuilt: f.Value, Shipped: "(absent)"})
		case g.Value != f.Value:
			add(&report.Node{Name: f.Name, Kind: classKind[f.Class], Rebuilt: f.Value, Shipped: g.Value})
		}
	}
	for _, g := range bs {
		if !seen[g.Name] {
			add(&report.Node{Name: g.Name, Kind: classKind[g.Class], Rebuilt: "(absent)", Shipped: g.Value})
		}
	}
	switch len(times) {
	case 0:
	case 1:
		e.add(n, times[0])
	default:
		merged := *times[0]
		var names []string
		for _, t := range times {
			names = append(names, t.Name)
			if t.Name == "modified" || t.Name == "mtime" {
				merged.Rebuilt, merged.Shipped = t.Rebuilt, t.Shipped
			}
		}
		merged.Name = "times"
		merged.Summary = "differ in " + strings.Join(names, ", ")
		e.add(n, &merged)
	}
}

// compareCompressed compares two compressed streams: their headers, then
// their decompressed contents; and, when those are equal, their compressed
// payloads.
func (e *engine) compareCompressed(parent *report.Node, a, b *blob, fa, fb format.Format, depth int) error {
	if fa != fb {
		e.add(parent, &report.Node{Name: "compression", Kind: verdict.KindCompression, Summary: "compression format differs", Rebuilt: fa.String(), Shipped: fb.String()})
	}
	var ha, hb int64
	if fa == format.Gzip && fb == format.Gzip {
		sa, err := archive.ReadGzipHeader(a.reader())
		if err != nil {
			return fmt.Errorf("%s: %w", a.where, err)
		}
		sb, err := archive.ReadGzipHeader(b.reader())
		if err != nil {
			return fmt.Errorf("%s: %w", b.where, err)
		}
		e.diffFields(parent, sa.Header, sb.Header)
		ha, hb = sa.HeaderLen, sb.HeaderLen
	}
	wa, wb := a.where+" (decompressed)", b.where+" (decompressed)"
	open := func(x *blob, f format.Format, where string) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) {
			var first int64
			if f == format.Xz {
				first = archive.XzFirstBlock(x.ra, x.size)
			}
			return archive.DecompressSized(e.reader(x.reader(), where, "decompressing"), f, where, e.budget, first)
		}
	}
	oa, ob := open(a, fa, wa), open(b, fb, wb)
	// One pass each, both at once: the digest of the content and, for a
	// tar, its members.
	var ia, ib *streamInfo
	var errA, errB error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ib, errB = e.scanStream(ob, wb, make([]byte, len(e.buf)))
	}()
	ia, errA = e.scanStream(oa, wa, e.buf)
	wg.Wait()
	if err := errors.Join(errA, errB); err != nil {
		return err
	}
	// What the scan kept need not be decompressed again.
	oa, ob = ia.reopen(oa), ib.reopen(ob)
	if ia.dig == ib.dig {
		// Same content; do the compressed payloads differ beyond the header?
		pa := &blob{ra: io.NewSectionReader(a.ra, ha, a.size-ha), size: a.size - ha, where: a.where + " (payload)"}
		pb := &blob{ra: io.NewSectionReader(b.ra, hb, b.size-hb), size: b.size - hb, where: b.where + " (payload)"}
		da, err := e.digest(pa)
		if err != nil {
			return err
		}
		db, err := e.digest(pb)
		if err != nil {
			return err
		}
		if da != db && fa == fb {
			e.add(parent, &report.Node{Name: "compressed data", Kind: verdict.KindCompression,
				Summary: fmt.Sprintf("same decompressed content, different compressed bytes (%d vs %d bytes): another compressor or level", pa.size, pb.size)})
		}
		return nil
	}
	if ia.f == format.Tar && ib.f == format.Tar {
		e.diffTrailers(parent, ia.trailer, ib.trailer)
		return e.compareTarMembers(parent, wa, wb, oa, ob, ia.members, ib.members, depth+1)
	}
	// Not a tar: hold both decompressed contents and compare them.
	ba, err := e.spillStream(oa, wa)
	if err != nil {
		return err
	}
	defer ba.free()
	bb, err := e.spillStream(ob, wb)
	if err != nil {
		return err
	}
	defer bb.free()
	n := &report.Node{Name: "(decompressed)", Kind: verdict.KindFile}
	if err := e.compareBlobs(n, ba, bb, depth+1); err != nil {
		return err
	}
	e.attach(parent, n)
	return nil
}

type streamInfo struct {
	dig     digest.Digest
	f       format.Format
	members []*member // when f is Tar
	trailer archive.Trailer
	// kept is the whole decompressed content when it is at most
	// keepDecompressed bytes, else nil.
	kept *keeper
}

// keepDecompressed is the most a scan keeps of one decompressed stream,
// so that the members that differ are read from memory rather than
// decompressed a second time (a .deb's tars, an npm package). An xz
// decoder alone allocates its whole dictionary (8 MiB at -6) each time it
// starts.
const keepDecompressed = 16 << 20

// reopen returns an opener of what the scan kept, or open when it kept
// nothing.
func (s *streamInfo) reopen(open func() (io.ReadCloser, error)) func() (io.ReadCloser, error) {
	if s.kept == nil {
		return open
	}
	return func() (io.ReadCloser, error) {
		rs := make([]io.Reader, len(s.kept.chunks))
		for i, c := range s.kept.chunks {
			rs[i] = bytes.NewReader(c)
		}
		return io.NopCloser(io.MultiReader(rs...)), nil
	}
}

// keeper collects what is written to it, in chunks (a stream of unknown
// length is never copied to grow), up to max bytes; past that it drops
// everything and collects no more.
type keeper struct {
	chunks [][]byte
	n, max int
	over   bool
}

const keepChunk = 1 << 20

func (k *keeper) Write(p []byte) (int, error) {
	if k.over {
		return len(p), nil
	}
	if k.n+len(p) > k.max {
		k.over, k.chunks = true, nil
		return len(p), nil
	}
	k.n += len(p)
	for q := p; len(q) > 0; {
		last := len(k.chunks) - 1
		if last < 0 || len(k.chunks[last]) == cap(k.chunks[last]) {
			k.chunks = append(k.chunks, make([]byte, 0, keepChunk))
			last++
		}
		c := k.chunks[last]
		m := min(len(q), cap(c)-len(c))
		k.chunks[last] = append(c, q[:m]...)
		q = q[m:]
	}
	return len(p), nil
}

// scanStream reads a decompressed stream once: its digest, its format and,
// for a tar, its members with their digests.
// It may run for both sides at once: it touches no engine state but the
// budget (atomic) and the serialized progress callback.
func (e *engine) scanStream(open func() (io.ReadCloser, error), where string, buf []byte) (*streamInfo, error) {
	rc, err := open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	head, err := br.Peek(format.HeadSize)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, err
	}
	info := &streamInfo{f: format.Detect(head, int64(len(head)))}
	d := digest.SHA256.Digester()
	k := &keeper{max: keepDecompressed}
	tee := io.TeeReader(br, io.MultiWriter(d.Hash(), k))
	if info.f == format.Tar {
		if info.members, info.trailer, err = e.listTarReader(tee, where, buf); err != nil {
			return nil, err
		}
	}
	// The rest: everything for other formats, what follows the end of
	// the archive for a tar.
	if _, err := io.CopyBuffer(io.Discard, tee, buf); err != nil {
		return nil, err
	}
	info.dig = d.Digest()
	if !k.over {
		info.kept = k
	}
	return info, nil
}

func (e *engine) spillStream(open func() (io.ReadCloser, error), where string) (*blob, error) {
	rc, err := open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return e.spill(rc, -1, where)
}

// compareTar compares two tar streams in two passes each: the first lists
// members and hashes their content; the second, only when some content
// differs, keeps exactly the differing members for a closer look.
func (e *engine) compareTar(parent *report.Node, wa, wb string, oa, ob func() (io.ReadCloser, error), depth int) error {
	as, ta, err := e.listTar(oa, wa)
	if err != nil {
		return err
	}
	bs, tb, err := e.listTar(ob, wb)
	if err != nil {
		return err
	}
	e.diffTrailers(parent, ta, tb)
	return e.compareTarMembers(parent, wa, wb, oa, ob, as, bs, depth)
}

// diffTrailers reports non-zero data after the end-of-archive markers.
func (e *engine) diffTrailers(parent *report.Node, a, b archive.Trailer) {
	if a.NonZero == b.NonZero && a.Digest == b.Digest {
		return
	}
	e.addFixed(parent, &report.Node{Name: "data after end of archive", Kind: verdict.KindBytes,
		Summary: "non-zero bytes after the end-of-archive marker differ; most extractors ignore them, GNU tar --ignore-zeros does not",
		Rebuilt: fmt.Sprintf("%d bytes", a.NonZero), Shipped: fmt.Sprintf("%d bytes", b.NonZero)})
}

// compareTarMembers compares two listed tars; oa and ob reopen them to
// keep the members whose content differs.
func (e *engine) compareTarMembers(parent *report.Node, wa, wb string, oa, ob func() (io.ReadCloser, error), as, bs []*member, depth int) error {
	part := e.deb.take()
	pairs := e.diffMembers(parent, as, bs)
	var differ []*pair
	wantA, wantB := map[int]bool{}, map[int]bool{}
	for _, p := range pairs {
		if p.a.Regular() && p.b.Regular() && p.a.dig != p.b.dig {
			differ = append(differ, p)
			wantA[p.ai], wantB[p.bi] = true, true
		}
	}
	if len(differ) > 0 {
		// Both sides at once, each with its own copy buffer.
		var ka, kb map[int]*blob
		var errA, errB error
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			kb, errB = e.keepTar(ob, wb, wantB, make([]byte, len(e.buf)))
		}()
		ka, errA = e.keepTar(oa, wa, wantA, e.buf)
		wg.Wait()
		defer freeAll(ka)
		defer freeAll(kb)
		if err := errorsJoin(errA, errB); err != nil {
			return err
		}
		for _, p := range differ {
			// The scan hashed their contents already.
			ka[p.ai].dig, kb[p.bi].dig = p.a.dig, p.b.dig
		}
		var tasks []memberTask
		for _, p := range differ {
			x, y := ka[p.ai], kb[p.bi]
			if part == "control" {
				handled, err := e.compareDebControl(p.node, p.a.Name, x, y)
				if err != nil {
					return err
				}
				if handled {
					if strings.TrimPrefix(p.a.Name, "./") == "md5sums" {
						e.deb.sumsNode = p.node
					}
					x.free()
					y.free()
					continue
				}
			}
			if part == "data" && isChangelog(p.a.Name) {
				e.order[p.node] = -1 // why this version exists: first
			}
			tasks = append(tasks, memberTask{size: max(x.size, y.size), run: func(c *engine) error {
				defer x.free()
				defer y.free()
				return c.compareBlobs(p.node, x, y, depth+1)
			}})
		}
		if err := e.compareMembers(tasks); err != nil {
			return err
		}
	}
	for _, p := range pairs {
		e.attach(parent, p.node)
	}
	return nil
}

func freeAll(m map[int]*blob) {
	for _, b := range m {
		b.free()
	}
}

func (e *engine) listTar(open func() (io.ReadCloser, error), where string) ([]*member, archive.Trailer, error) {
	rc, err := open()
	if err != nil {
		return nil, archive.Trailer{}, err
	}
	defer rc.Close()
	return e.listTarReader(rc, where, e.buf)
}

func (e *engine) listTarReader(r io.Reader, where string, buf []byte) ([]*member, archive.Trailer, error) {
	var out []*member
	err := archive.ReadTar(e.ctx, r, where, e.budget, func(en *archive.Entry, body io.Reader) error {
		m := &member{Entry: en}
		if en.Regular() {
			d := digest.SHA256.Digester()
			if _, err := io.CopyBuffer(d.Hash(), body, buf); err != nil {
				if errors.Is(err, io.ErrUnexpectedEOF) {
					return fmt.Errorf("read tar %s: member %q: truncated archive: %w", where, en.Name, err)
				}
				return fmt.Errorf("read tar %s: member %q: %w", where, en.Name, err)
			}
			m.dig = d.Digest()
		}
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, archive.Trailer{}, err
	}
	t, err := archive.ReadTarTrailer(r)
	if err != nil {
		return nil, t, fmt.Errorf("read tar %s: after the end of the archive: %w", where, err)
	}
	return out, t, nil
}

// keepTar keeps the members of the tar open reads whose indices are in
// want. It may run for both sides at once (see scanStream).
func (e *engine) keepTar(open func() (io.ReadCloser, error), where string, want map[int]bool, buf []byte) (map[int]*blob, error) {
	rc, err := open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	kept := map[int]*blob{}
	i := 0
	err = archive.ReadTar(e.ctx, rc, where, e.budget, func(en *archive.Entry, body io.Reader) error {
		defer func() { i++ }()
		if !want[i] {
			return nil
		}
		b, err := e.spillWith(body, en.Size, where+": "+en.Name, buf)
		if err != nil {
			return err
		}
		kept[i] = b
		return nil
	})
	if err != nil {
		freeAll(kept)
		return nil, err
	}
	if len(kept) != len(want) {
		freeAll(kept)
		return nil, fmt.Errorf("read tar %s: archive changed between two reads", where)
	}
	return kept, nil
}

// compareZip compares two zip archives. Members whose compressed bytes are
// equal (same method) are equal and never decompressed.
func (e *engine) compareZip(parent *report.Node, a, b *blob, depth int) error {
	// Both central directories at once: opening hashes every member's
	// compressed bytes.
	var za, zb *archive.Zip
	var errA, errB error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		zb, errB = archive.OpenZip(e.ctx, b.ra, b.size, b.where, e.budget)
	}()
	za, errA = archive.OpenZip(e.ctx, a.ra, a.size, a.where, e.budget)
	wg.Wait()
	if err := errorsJoin(errA, errB); err != nil {
		return err
	}
	if za.OutsideDigest != zb.OutsideDigest {
		e.addFixed(parent, &report.Node{Name: "data outside members", Kind: verdict.KindBytes,
			Summary: "bytes that belong to no member (a prefix, gaps between members, a signing block) differ; a streaming extractor may see them",
			Rebuilt: fmt.Sprintf("%d bytes", za.Outside), Shipped: fmt.Sprintf("%d bytes", zb.Outside)})
	}
	if za.Comment != zb.Comment {
		e.add(parent, &report.Node{Name: "archive comment", Kind: verdict.KindMetadata, Rebuilt: fmt.Sprintf("%q", za.Comment), Shipped: fmt.Sprintf("%q", zb.Comment)})
	}
	ms := func(z *archive.Zip) []*member {
		out := make([]*member, len(z.Members))
		for i, m := range z.Members {
			out[i] = &member{Entry: &m.Entry, dig: m.RawDigest}
		}
		return out
	}
	pairs := e.diffMembers(parent, ms(za), ms(zb))
	var tasks []memberTask
	for _, p := range pairs {
		x, y := za.Members[p.ai], zb.Members[p.bi]
		if !x.Regular() || !y.Regular() || (x.Method == y.Method && x.RawDigest == y.RawDigest) {
			continue
		}
		tasks = append(tasks, memberTask{size: max(x.Size, y.Size), run: func(c *engine) error {
			return c.compareZipMembers(p.node, za, zb, x, y, depth)
		}})
	}
	if err := e.compareMembers(tasks); err != nil {
		return err
	}
	for _, p := range pairs {
		e.attach(parent, p.node)
	}
	return nil
}

// compareZipMembers compares two members of zips whose compressed bytes
// differ.
func (e *engine) compareZipMembers(n *report.Node, za, zb *archive.Zip, x, y *archive.ZipMember, depth int) error {
	ba, err := e.zipMember(za, x)
	if err != nil {
		return err
	}
	defer ba.free()
	bb, err := e.zipMember(zb, y)
	if err != nil {
		return err
	}
	defer bb.free()
	da, err1 := e.digest(ba)
	db, err2 := e.digest(bb)
	switch {
	case err1 != nil || err2 != nil:
		return errorsJoin(err1, err2)
	case da == db:
		if x.Method == y.Method {
			e.add(n, &report.Node{Name: "compressed data", Kind: verdict.KindCompression,
				Summary: fmt.Sprintf("same content, different compressed bytes (%d vs %d bytes)", x.CompressedSize(), y.CompressedSize())})
		}
		return nil
	}
	return e.compareBlobs(n, ba, bb, depth+1)
}

// errorsJoin returns the first error that is not nil (the rebuilt side's,
// when both sides were read at once and both failed).
func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func (e *engine) zipMember(z *archive.Zip, m *archive.ZipMember) (*blob, error) {
	rc, err := z.Open(m)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return e.spill(rc, m.Size, z.Where+": "+m.Name)
}

// compareAr compares two ar archives (Debian packages); members are
// sections of the files, so nothing is copied.
func (e *engine) compareAr(parent *report.Node, a, b *blob, depth int) error {
	ra, err := archive.ReadAr(e.ctx, a.ra, a.size, a.where, e.budget)
	if err != nil {
		return err
	}
	rb, err := archive.ReadAr(e.ctx, b.ra, b.size, b.where, e.budget)
	if err != nil {
		return err
	}
	toBlobs := func(ms []*archive.ArMember, where string) ([]*member, []*blob, error) {
		out := make([]*member, len(ms))
		bl := make([]*blob, len(ms))
		for i, m := range ms {
			bl[i] = &blob{ra: m.Content, size: m.Content.Size(), where: where + ": " + m.Name}
			d, err := e.digest(bl[i])
			if err != nil {
				return nil, nil, err
			}
			out[i] = &member{Entry: &m.Entry, dig: d}
		}
		return out, bl, nil
	}
	ma, ba, err := toBlobs(ra, a.where)
	if err != nil {
		return err
	}
	mb, bb, err := toBlobs(rb, b.where)
	if err != nil {
		return err
	}
	pairs := e.diffMembers(parent, ma, mb)
	deb := isDeb(ma) && isDeb(mb)
	if deb {
		prev := e.deb
		e.deb = &debState{sums: map[string]*report.Node{}}
		defer func() { e.deb = prev }()
	}
	for _, p := range pairs {
		if deb {
			e.deb.part = debPart(p.a.Name)
			if e.deb.part == "data" {
				e.deb.data = p.node
			}
		}
		if p.a.dig != p.b.dig {
			if err := e.compareBlobs(p.node, ba[p.ai], bb[p.bi], depth+1); err != nil {
				return err
			}
		}
		e.attach(parent, p.node)
	}
	if deb {
		e.linkSums(e.deb.sumsNode)
	}
	return nil
}
