package compare

import (
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/reprove/reprove/compare/exe"
	"github.com/reprove/reprove/compare/pe"
	"github.com/reprove/reprove/compare/report"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/internal/english"
)

// comparePE explains the differences a signature, a timestamp or a
// checksum make, then checks that nothing else differs.
func (e *engine) comparePE(parent *report.Node, a, b *blob) error {
	la, erra := pe.ReadLayout(a.ra, a.size)
	lb, errb := pe.ReadLayout(b.ra, b.size)
	if erra != nil || errb != nil {
		e.add(parent, &report.Node{Name: "pe headers", Kind: verdict.KindContent, Summary: "PE headers not understood: " + errorsJoin(erra, errb).Error()})
		return e.compareExe(parent, a, b, nil)
	}
	if la.Timestamp != lb.Timestamp {
		e.add(parent, &report.Node{Name: "coff timestamp", Kind: verdict.KindTimestamp, Rebuilt: fmt.Sprint(la.Timestamp), Shipped: fmt.Sprint(lb.Timestamp)})
	}
	sigDiffers, err := e.signaturesDiffer(a, b, la, lb)
	if err != nil {
		return err
	}
	if la.Checksum != lb.Checksum {
		// Signing rewrites the checksum, so authenticode covers it when the
		// signatures differ; otherwise only pe-timestamp does.
		n := &report.Node{Name: "checksum", Kind: verdict.KindChecksum, Rebuilt: fmt.Sprintf("%#x", la.Checksum), Shipped: fmt.Sprintf("%#x", lb.Checksum),
			Normalizer: "pe-timestamp"}
		if sigDiffers {
			n.Normalizer = "authenticode"
		}
		switch {
		case sigDiffers && contains(e.allowed, "authenticode"):
			n.Normalizer, n.Accepted = "authenticode", true
		case contains(e.allowed, "pe-timestamp"):
			n.Normalizer, n.Accepted = "pe-timestamp", true
		}
		e.add(parent, n)
	}
	if sigDiffers {
		n := &report.Node{Name: "authenticode signature", Kind: verdict.KindSignature}
		var err error
		if n.Rebuilt, n.Signature, err = e.describeSignature(a, la, "rebuilt"); err != nil {
			return err
		}
		var sb *report.Signature
		if n.Shipped, sb, err = e.describeSignature(b, lb, "shipped"); err != nil {
			return err
		}
		if sb != nil {
			n.Signature = sb
		}
		e.add(parent, n)
	}
	// The rest of the image, with all three removed.
	strip := pe.Strip{Timestamp: true, Checksum: true, Signature: true}
	sa, sb := strip, strip
	switch {
	case la.Signed() && !lb.Signed() && pe.PaddingOK(a.ra, la, b.size):
		sb.PadTo = la.CertOff
	case lb.Signed() && !la.Signed() && pe.PaddingOK(b.ra, lb, a.size):
		sa.PadTo = lb.CertOff
	}
	va, na := pe.View(a.ra, la, sa)
	vb, nb := pe.View(b.ra, lb, sb)
	da, err := e.digestOf(e.reader(va, a.where, "hashing"))
	if err != nil {
		return fmt.Errorf("hash %s: %w", a.where, err)
	}
	db, err := e.digestOf(e.reader(vb, b.where, "hashing"))
	if err != nil {
		return fmt.Errorf("hash %s: %w", b.where, err)
	}
	if da == db && na == nb {
		return nil
	}
	before := e.unexplained
	if err := e.compareExe(parent, a, b, map[string]bool{"timestamp": true, "checksum": true, "data directory 4 (certificate)": true}); err != nil {
		return err
	}
	if e.unexplained == before {
		// The sections agree but the images still differ (headers,
		// padding, data between sections): show those bytes, which no
		// normalizer may accept.
		va, _ = pe.View(a.ra, la, sa)
		vb, _ = pe.View(b.ra, lb, sb)
		return e.diffBytes(parent, "image outside sections", va, vb, na, nb)
	}
	return nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (e *engine) digestOf(r io.Reader) (digest.Digest, error) {
	d := digest.SHA256.Digester()
	_, err := io.CopyBuffer(d.Hash(), r, e.buf)
	return d.Digest(), err
}

func (e *engine) signaturesDiffer(a, b *blob, la, lb *pe.Layout) (bool, error) {
	if !la.Signed() && !lb.Signed() {
		return false, nil
	}
	if la.Signed() != lb.Signed() || la.CertSize != lb.CertSize {
		return true, nil
	}
	da, err := e.digestOf(io.NewSectionReader(a.ra, la.CertOff, la.CertSize))
	if err != nil {
		return false, fmt.Errorf("read %s: %w", a.where, err)
	}
	db, err := e.digestOf(io.NewSectionReader(b.ra, lb.CertOff, lb.CertSize))
	if err != nil {
		return false, fmt.Errorf("read %s: %w", b.where, err)
	}
	return da != db || la.CertOff != lb.CertOff, nil
}

func (e *engine) describeSignature(x *blob, l *pe.Layout, side string) (string, *report.Signature, error) {
	if !l.Signed() {
		return "unsigned", nil, nil
	}
	s, err := pe.ReadSignature(x.ra, l)
	if err != nil {
		return fmt.Sprintf("signed; signature unreadable: %v", err), nil, nil
	}
	var parts []string
	parts = append(parts, "signed by "+s.Signer)
	if s.Issuer != "" && s.Issuer != s.Signer {
		parts = append(parts, "issuer "+s.Issuer)
	}
	if s.Issuer == s.Signer {
		parts = append(parts, "self-signed")
	}
	switch {
	case s.DigestMatches && s.SignatureValid:
		parts = append(parts, "signature valid for this image (trust not checked)")
	default:
		parts = append(parts, "NOT valid for this image: "+s.Problem)
	}
	return strings.Join(parts, "; "), s, nil
}

// compareExe compares executables: Go build information field by field;
// functions, data objects and string literals as the layout explains them
// (package exediff: identical, moved, changed, added, removed); header
// fields; and last, as effects where the analysis accounts for them, the
// sections byte by byte.
func (e *engine) compareExe(parent *report.Node, a, b *blob, skipHeader map[string]bool) error {
	lim := e.lim.exe()
	before := len(parent.Children)
	// Both sides at once: a Go binary's function table takes a while.
	var xb *exe.File
	var errb error
	done := make(chan struct{})
	go func() {
		defer close(done)
		xb, errb = exe.Parse(b.ra, b.size, b.f, lim)
	}()
	xa, erra := exe.Parse(a.ra, a.size, a.f, lim)
	<-done
	if erra != nil || errb != nil {
		e.add(parent, &report.Node{Name: "structure", Kind: verdict.KindContent, Summary: "compared as bytes: " + errorsJoin(erra, errb).Error()})
		return e.compareBytes(parent, a, b)
	}
	e.diffBuildInfo(parent, xa, xb)
	explained, analysed, err := e.compareLayout(parent, a, b, xa, xb)
	if err != nil {
		return err
	}
	hn := &report.Node{Name: "header", Kind: verdict.KindSection}
	ln := e.placed(&report.Node{Name: "layout", Kind: verdict.KindGroup, Effect: analysed,
		Summary: "header fields that place the sections (entry point, segments, data directories)"}, 1)
	var ha, hb, la, lb []exe.Field
	for _, f := range xa.Header {
		switch {
		case skipHeader[f.Name]:
		case layoutField(f.Name):
			la = append(la, f)
		default:
			ha = append(ha, f)
		}
	}
	for _, f := range xb.Header {
		switch {
		case skipHeader[f.Name]:
		case layoutField(f.Name):
			lb = append(lb, f)
		default:
			hb = append(hb, f)
		}
	}
	e.diffExeFields(hn, ha, hb)
	e.diffExeFields(ln, la, lb)
	e.attach(parent, hn)
	e.attach(parent, ln)

	key := func(ss []exe.Section) map[string]int {
		m := map[string]int{}
		seen := map[string]int{}
		for i, s := range ss {
			seen[s.Name]++
			k := s.Name
			if seen[s.Name] > 1 {
				k = fmt.Sprintf("%s#%d", s.Name, seen[s.Name])
			}
			m[k] = i
		}
		return m
	}
	ka, kb := key(xa.Sections), key(xb.Sections)
	names := make([]string, 0, len(ka))
	for k := range ka {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return ka[names[i]] < ka[names[j]] })
	group := e.placed(&report.Node{Name: "sections", Kind: verdict.KindGroup}, 2)
	for _, k := range names {
		j, ok := kb[k]
		if !ok {
			e.add(parent, &report.Node{Name: "section " + k, Kind: verdict.KindRemoved, Summary: fmt.Sprintf("section only in rebuilt (%d bytes)", xa.Sections[ka[k]].Size)})
			continue
		}
		sa, sb := xa.Sections[ka[k]], xb.Sections[j]
		sn := &report.Node{Name: k, Kind: verdict.KindSection, Effect: explained[sa.Name]}
		e.diffExeFields(sn, sa.Fields, sb.Fields)
		if err := e.diffSection(sn, a, b, sa, sb); err != nil {
			return err
		}
		e.attach(group, sn)
	}
	for k, j := range kb {
		if _, ok := ka[k]; !ok {
			e.add(parent, &report.Node{Name: "section " + k, Kind: verdict.KindAdded, Summary: fmt.Sprintf("section only in shipped (%d bytes)", xb.Sections[j].Size)})
		}
	}
	if len(parent.Children) == before {
		onlyBuildID(group)
	}
	if len(group.Children) > 0 {
		group.Effect = true
		for _, c := range group.Children {
			group.Effect = group.Effect && c.Effect
		}
		ns := group.Children
		group.Summary = english.Count(len(ns), "section") + map[bool]string{true: " differs", false: " differ"}[len(ns) == 1] + " as bytes"
		if group.Effect {
			group.Summary += ", as the functions, strings and data above account for"
		}
		parent.Children = append(parent.Children, group)
	}
	return nil
}

// GNU build IDs and the debug link that names the detached debug file by
// the build ID (with that file's CRC), as dh_strip and objcopy
// --add-gnu-debuglink write them.
const (
	sectionBuildID   = ".note.gnu.build-id"
	sectionDebugLink = ".gnu_debuglink"
)

// onlyBuildID turns the explanation round when a native executable's GNU
// build ID is all that differs (beside the debug link, which follows from
// it), nothing in the header, layout, functions, strings or data: the
// build ID is usually an effect of the code it hashes, but here nothing in
// the file accounts for it. The linker computed it before the debug
// information was stripped, so that is where the difference lies (in
// Debian, in the -dbgsym package). The build ID becomes the cause, said
// so in its first line, and the debug link its effect.
func onlyBuildID(group *report.Node) {
	var id, link *report.Node
	for _, c := range group.Children {
		switch c.Name {
		case sectionBuildID:
			id = c
		case sectionDebugLink:
			link = c
		default:
			return
		}
	}
	if id == nil {
		return
	}
	id.Effect = false
	id.Summary = "the build ID differs and nothing else in the code or data does: the linker hashed the file before its debug information was stripped, so the difference is in that debug information (a -dbgsym package holds it)"
	if link != nil {
		link.Effect = true
		link.Summary = "names the detached debug file by the build ID (and holds its CRC): follows from the build ID"
	}
}

// layoutField names the header fields that only place things: they change
// whenever a section grows.
func layoutField(name string) bool {
	return name == "entry" || name == "symbol table" || strings.HasPrefix(name, "program header ") || strings.HasPrefix(name, "data directory ")
}

func (e *engine) diffExeFields(n *report.Node, as, bs []exe.Field) {
	bv := map[string]string{}
	for _, f := range bs {
		bv[f.Name] = f.Value
	}
	seen := map[string]bool{}
	for _, f := range as {
		seen[f.Name] = true
		v, ok := bv[f.Name]
		if !ok {
			v = "(absent)"
		}
		if v != f.Value {
			e.add(n, &report.Node{Name: f.Name, Kind: verdict.KindMetadata, Rebuilt: f.Value, Shipped: v})
		}
	}
	for _, f := range bs {
		if !seen[f.Name] {
			e.add(n, &report.Node{Name: f.Name, Kind: verdict.KindMetadata, Rebuilt: "(absent)", Shipped: f.Value})
		}
	}
}

// diffSection compares one section's bytes (diffBytes records nothing
// when they are equal).
func (e *engine) diffSection(sn *report.Node, a, b *blob, sa, sb exe.Section) error {
	if err := e.diffBytes(sn, "bytes", io.NewSectionReader(a.ra, sa.Offset, sa.Size), io.NewSectionReader(b.ra, sb.Offset, sb.Size), sa.Size, sb.Size); err != nil {
		return fmt.Errorf("compare section %s: %w", sa.Name, err)
	}
	return nil
}

// diffBuildInfo compares Go build information field by field.
func (e *engine) diffBuildInfo(parent *report.Node, xa, xb *exe.File) {
	ba, bb := xa.BuildInfo, xb.BuildInfo
	n := e.placed(&report.Node{Name: "go build info", Kind: verdict.KindSection}, -4)
	defer e.attach(parent, n)
	if xa.BuildID != xb.BuildID || xa.HasBuildID != xb.HasBuildID {
		id := func(x *exe.File) string {
			if !x.HasBuildID {
				return "(none)"
			}
			return fmt.Sprintf("%q", x.BuildID)
		}
		e.add(n, &report.Node{Name: "build id", Kind: verdict.KindBuildInfo, Rebuilt: id(xa), Shipped: id(xb)})
	}
	if ba == nil && bb == nil {
		return
	}
	if ba == nil || bb == nil {
		has := func(ok bool) string {
			if ok {
				return "present"
			}
			return "absent"
		}
		e.add(n, &report.Node{Name: "build info", Kind: verdict.KindBuildInfo, Rebuilt: has(ba != nil), Shipped: has(bb != nil)})
		return
	}
	field := func(name, x, y string) {
		if x != y {
			e.add(n, &report.Node{Name: name, Kind: verdict.KindBuildInfo, Rebuilt: x, Shipped: y})
		}
	}
	field("go version", ba.GoVersion, bb.GoVersion)
	field("path", ba.Path, bb.Path)
	mod := func(m debug.Module) string { return strings.TrimSpace(m.Path + " " + m.Version + " " + m.Sum) }
	field("main module", mod(ba.Main), mod(bb.Main))
	deps := func(x []*debug.Module) map[string]string {
		m := map[string]string{}
		for _, d := range x {
			s := strings.TrimSpace(d.Version + " " + d.Sum)
			if d.Replace != nil {
				s += " => " + mod(*d.Replace)
			}
			m[d.Path] = s
		}
		return m
	}
	da, db := deps(ba.Deps), deps(bb.Deps)
	diffMaps(da, db, func(k, x, y string) {
		e.add(n, &report.Node{Name: "dep " + k, Kind: verdict.KindBuildInfo, Rebuilt: x, Shipped: y})
	})
	sa, sb := map[string]string{}, map[string]string{}
	for _, s := range ba.Settings {
		sa[s.Key] = s.Value
	}
	for _, s := range bb.Settings {
		sb[s.Key] = s.Value
	}
	diffMaps(sa, sb, func(k, x, y string) {
		e.add(n, &report.Node{Name: "setting " + k, Kind: verdict.KindBuildInfo, Rebuilt: x, Shipped: y})
	})
}

func diffMaps(a, b map[string]string, fn func(k, x, y string)) {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		x, okx := a[k]
		y, oky := b[k]
		if !okx {
			x = "(absent)"
		}
		if !oky {
			y = "(absent)"
		}
		if x != y || okx != oky {
			fn(k, x, y)
		}
	}
}
