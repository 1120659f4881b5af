package compare

import (
	"crypto/sha256"
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/reprove/reprove/compare/exe"
	"github.com/reprove/reprove/compare/format"
	"github.com/reprove/reprove/compare/pe"
)

// comparePE explains the differences a signature, a timestamp or a
// checksum make, then checks that nothing else differs.
func (e *engine) comparePE(parent *Node, a, b *blob) error {
	la, erra := pe.ReadLayout(a.ra, a.size)
	lb, errb := pe.ReadLayout(b.ra, b.size)
	if erra != nil || errb != nil {
		e.add(parent, &Node{Name: "pe headers", Kind: KindContent, Summary: "PE headers not understood: " + errorsJoin(erra, errb).Error()})
		return e.compareExe(parent, a, b, nil)
	}
	if la.Timestamp != lb.Timestamp {
		e.add(parent, &Node{Name: "coff timestamp", Kind: KindTimestamp, Rebuilt: fmt.Sprint(la.Timestamp), Shipped: fmt.Sprint(lb.Timestamp)})
	}
	sigDiffers, err := e.signaturesDiffer(a, b, la, lb)
	if err != nil {
		return err
	}
	if la.Checksum != lb.Checksum {
		// Signing rewrites the checksum, so authenticode covers it when the
		// signatures differ; otherwise only pe-timestamp does.
		n := &Node{Name: "checksum", Kind: KindChecksum, Rebuilt: fmt.Sprintf("%#x", la.Checksum), Shipped: fmt.Sprintf("%#x", lb.Checksum),
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
		n := &Node{Name: "authenticode signature", Kind: KindSignature}
		var err error
		if n.Rebuilt, n.Signature, err = e.describeSignature(a, la, "rebuilt"); err != nil {
			return err
		}
		var sb *pe.Signature
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

func (e *engine) describeSignature(x *blob, l *pe.Layout, side string) (string, *pe.Signature, error) {
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

// compareExe compares executables section by section, symbol by symbol,
// and their Go build information field by field.
func (e *engine) compareExe(parent *Node, a, b *blob, skipHeader map[string]bool) error {
	lim := e.lim.exe()
	xa, erra := exe.Parse(a.ra, a.size, mustFormat(a), lim)
	xb, errb := exe.Parse(b.ra, b.size, mustFormat(b), lim)
	if erra != nil || errb != nil {
		e.add(parent, &Node{Name: "structure", Kind: KindContent, Summary: "compared as bytes: " + errorsJoin(erra, errb).Error()})
		return e.compareBytes(parent, a, b)
	}
	hn := &Node{Name: "header", Kind: KindSection}
	var ha, hb []exe.Field
	for _, f := range xa.Header {
		if !skipHeader[f.Name] {
			ha = append(ha, f)
		}
	}
	for _, f := range xb.Header {
		if !skipHeader[f.Name] {
			hb = append(hb, f)
		}
	}
	e.diffExeFields(hn, ha, hb)
	e.attach(parent, hn)

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
	for _, k := range names {
		j, ok := kb[k]
		if !ok {
			e.add(parent, &Node{Name: "section " + k, Kind: KindRemoved, Summary: fmt.Sprintf("section only in rebuilt (%d bytes)", xa.Sections[ka[k]].Size)})
			continue
		}
		sa, sb := xa.Sections[ka[k]], xb.Sections[j]
		sn := &Node{Name: k, Kind: KindSection}
		e.diffExeFields(sn, sa.Fields, sb.Fields)
		if err := e.diffSection(sn, a, b, xa, xb, sa, sb); err != nil {
			return err
		}
		e.attach(parent, sn)
	}
	for k, j := range kb {
		if _, ok := ka[k]; !ok {
			e.add(parent, &Node{Name: "section " + k, Kind: KindAdded, Summary: fmt.Sprintf("section only in shipped (%d bytes)", xb.Sections[j].Size)})
		}
	}
	e.diffBuildInfo(parent, xa, xb)
	return nil
}

func mustFormat(b *blob) format.Format { return b.f }

func (e *engine) diffExeFields(n *Node, as, bs []exe.Field) {
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
			e.add(n, &Node{Name: f.Name, Kind: KindMetadata, Rebuilt: f.Value, Shipped: v})
		}
	}
	for _, f := range bs {
		if !seen[f.Name] {
			e.add(n, &Node{Name: f.Name, Kind: KindMetadata, Rebuilt: "(absent)", Shipped: f.Value})
		}
	}
}

func (e *engine) hashRange(ra io.ReaderAt, off, n int64) ([32]byte, error) {
	h := sha256.New()
	if _, err := io.CopyBuffer(h, io.NewSectionReader(ra, off, n), e.buf); err != nil {
		return [32]byte{}, err
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out, nil
}

// diffSection compares one section's bytes and, when they differ, the
// symbols inside it.
func (e *engine) diffSection(sn *Node, a, b *blob, xa, xb *exe.File, sa, sb exe.Section) error {
	if sa.Size == sb.Size {
		ha, err := e.hashRange(a.ra, sa.Offset, sa.Size)
		if err != nil {
			return fmt.Errorf("read %s: section %s: %w", a.where, sa.Name, err)
		}
		hb, err := e.hashRange(b.ra, sb.Offset, sb.Size)
		if err != nil {
			return fmt.Errorf("read %s: section %s: %w", b.where, sb.Name, err)
		}
		if ha == hb {
			return nil
		}
	}
	if err := e.diffBytes(sn, "bytes", io.NewSectionReader(a.ra, sa.Offset, sa.Size), io.NewSectionReader(b.ra, sb.Offset, sb.Size), sa.Size, sb.Size); err != nil {
		return err
	}
	// Symbols of this section, by name.
	type sym struct {
		s exe.Symbol
		h [32]byte
	}
	collect := func(x *exe.File, ra io.ReaderAt, sec string) (map[string]sym, error) {
		m := map[string]sym{}
		for _, s := range x.Symbols {
			if s.Section != sec {
				continue
			}
			h, err := e.hashRange(ra, s.Offset, s.Size)
			if err != nil {
				return nil, err
			}
			m[s.Name] = sym{s, h}
		}
		return m, nil
	}
	ma, err := collect(xa, a.ra, sa.Name)
	if err != nil {
		return fmt.Errorf("read %s: symbols: %w", a.where, err)
	}
	mb, err := collect(xb, b.ra, sb.Name)
	if err != nil {
		return fmt.Errorf("read %s: symbols: %w", b.where, err)
	}
	names := make([]string, 0, len(ma))
	for k := range ma {
		names = append(names, k)
	}
	sort.Strings(names)
	var added []string
	for k := range mb {
		if _, ok := ma[k]; !ok {
			added = append(added, k)
		}
	}
	sort.Strings(added)
	// Symbols that appeared, disappeared or changed size come first: they
	// are where the code changed. Symbols of equal size whose bytes differ
	// are often only moved references (every call into code that moved).
	var changed []*Node
	for _, k := range names {
		x := ma[k]
		y, ok := mb[k]
		switch {
		case !ok:
			sn.first = true
			e.add(sn, &Node{Name: k, Kind: KindSymbol, Summary: fmt.Sprintf("symbol only in rebuilt (%d bytes)", x.s.Size)})
		case x.s.Size != y.s.Size:
			sn.first = true
			e.add(sn, &Node{Name: k, Kind: KindSymbol, Summary: "size differs", Rebuilt: fmt.Sprint(x.s.Size), Shipped: fmt.Sprint(y.s.Size)})
		case x.h != y.h:
			changed = append(changed, &Node{Name: k, Kind: KindSymbol, Summary: fmt.Sprintf("content differs (%d bytes)", x.s.Size)})
		}
	}
	for _, k := range added {
		sn.first = true
		e.add(sn, &Node{Name: k, Kind: KindSymbol, Summary: fmt.Sprintf("symbol only in shipped (%d bytes)", mb[k].s.Size)})
	}
	for _, n := range changed {
		e.add(sn, n)
	}
	if xa.SymbolsSkipped != "" && len(ma) == 0 {
		sn.Summary = "no symbols: " + xa.SymbolsSkipped
	}
	return nil
}

// diffBuildInfo compares Go build information field by field.
func (e *engine) diffBuildInfo(parent *Node, xa, xb *exe.File) {
	ba, bb := xa.BuildInfo, xb.BuildInfo
	if ba == nil && bb == nil {
		return
	}
	n := &Node{Name: "go build info", Kind: KindSection, first: true}
	defer e.attach(parent, n)
	if ba == nil || bb == nil {
		has := func(ok bool) string {
			if ok {
				return "present"
			}
			return "absent"
		}
		e.add(n, &Node{Name: "build info", Kind: KindBuildInfo, Rebuilt: has(ba != nil), Shipped: has(bb != nil)})
		return
	}
	field := func(name, x, y string) {
		if x != y {
			e.add(n, &Node{Name: name, Kind: KindBuildInfo, Rebuilt: x, Shipped: y})
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
	diffMaps(da, db, func(k, x, y string) { e.add(n, &Node{Name: "dep " + k, Kind: KindBuildInfo, Rebuilt: x, Shipped: y}) })
	sa, sb := map[string]string{}, map[string]string{}
	for _, s := range ba.Settings {
		sa[s.Key] = s.Value
	}
	for _, s := range bb.Settings {
		sb[s.Key] = s.Value
	}
	diffMaps(sa, sb, func(k, x, y string) {
		e.add(n, &Node{Name: "setting " + k, Kind: KindBuildInfo, Rebuilt: x, Shipped: y})
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
