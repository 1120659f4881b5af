package compare

import (
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/reprove/reprove/compare/deb"
	"github.com/reprove/reprove/compare/report"
	"github.com/reprove/reprove/compare/verdict"
)

// debState is what the engine knows while it compares the members of two
// Debian packages (ar archives that start with debian-binary).
type debState struct {
	// part says which of the package's tars is about to be compared
	// ("control", "data"); the tar's members take it and clear it, so
	// archives nested deeper are not taken for it.
	part string
	// data is the node of the data tar, whose members md5sums names.
	data *report.Node
	// sums are the md5sums entries that differ, by path; sumsNode holds
	// them.
	sums     map[string]*report.Node
	sumsNode *report.Node
	// installedSize is the control file's Installed-Size when it differs:
	// dpkg-gencontrol sums the sizes of the data files into it.
	installedSize *report.Node
}

// take returns the part about to be compared and clears it.
func (d *debState) take() string {
	if d == nil {
		return ""
	}
	p := d.part
	d.part = ""
	return p
}

func isDeb(ms []*member) bool { return len(ms) > 0 && ms[0].Name == "debian-binary" }

// debPart names the package member m: "control" for control.tar.*, "data"
// for data.tar.*.
func debPart(name string) string {
	switch {
	case strings.HasPrefix(name, "control.tar"):
		return "control"
	case strings.HasPrefix(name, "data.tar"):
		return "data"
	}
	return ""
}

// isChangelog reports whether a data member is the package's Debian
// changelog, which says why this version exists: it is shown first.
func isChangelog(name string) bool {
	name = strings.TrimPrefix(name, "./")
	dir, file := path.Split(name)
	return strings.HasPrefix(dir, "usr/share/doc/") && (file == "changelog.Debian.gz" || file == "changelog.Debian")
}

// compareDebControl shows a differing control-archive member by its
// meaning: the control file field by field, md5sums as the files it
// lists. It reports false when the member is neither, or does not parse
// (the caller then compares it as any other file).
func (e *engine) compareDebControl(n *report.Node, name string, a, b *blob) (bool, error) {
	name = strings.TrimPrefix(name, "./")
	if (name != "control" && name != "md5sums") || a.size > deb.MaxFile || b.size > deb.MaxFile {
		return false, nil
	}
	ba, err := readAll(a)
	if err != nil {
		return false, err
	}
	bb, err := readAll(b)
	if err != nil {
		return false, err
	}
	if name == "control" {
		fa, erra := deb.Control(ba)
		fb, errb := deb.Control(bb)
		if erra != nil || errb != nil {
			return false, nil
		}
		e.diffControl(n, fa, fb)
		return true, nil
	}
	sa, erra := deb.MD5Sums(ba)
	sb, errb := deb.MD5Sums(bb)
	if erra != nil || errb != nil {
		return false, nil
	}
	e.diffSums(n, sa, sb)
	return true, nil
}

func readAll(x *blob) ([]byte, error) {
	b := make([]byte, x.size)
	if _, err := x.ra.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("%s: %w", x.where, err)
	}
	return b, nil
}

// diffControl adds one field node per field that differs, in the order
// the fields are written.
func (e *engine) diffControl(n *report.Node, fa, fb []deb.Field) {
	vb := map[string]string{}
	for _, f := range fb {
		vb[strings.ToLower(f.Name)] = f.Value
	}
	seen := map[string]bool{}
	for _, f := range fa {
		k := strings.ToLower(f.Name)
		seen[k] = true
		v, ok := vb[k]
		switch {
		case !ok:
			e.add(n, &report.Node{Name: f.Name, Kind: verdict.KindField, Rebuilt: f.Value, Shipped: "(absent)"})
		case v != f.Value:
			x := &report.Node{Name: f.Name, Kind: verdict.KindField, Rebuilt: f.Value, Shipped: v}
			if k == "installed-size" && e.deb != nil {
				e.deb.installedSize = x
			}
			e.add(n, x)
		}
	}
	for _, f := range fb {
		if !seen[strings.ToLower(f.Name)] {
			e.add(n, &report.Node{Name: f.Name, Kind: verdict.KindField, Rebuilt: "(absent)", Shipped: f.Value})
		}
	}
}

// diffSums adds one node per file whose md5sums line differs; linkSums
// later points each at the file's own differences.
func (e *engine) diffSums(n *report.Node, sa, sb []deb.Sum) {
	mb := map[string]string{}
	for _, s := range sb {
		mb[s.Path] = s.MD5
	}
	seen := map[string]bool{}
	add := func(x *report.Node) {
		e.add(n, x)
		if e.deb != nil {
			e.deb.sums[x.Name] = x
		}
	}
	for _, s := range sa {
		seen[s.Path] = true
		v, ok := mb[s.Path]
		switch {
		case !ok:
			add(&report.Node{Name: s.Path, Kind: verdict.KindRemoved, Summary: "listed only in rebuilt"})
		case v != s.MD5:
			add(&report.Node{Name: s.Path, Kind: verdict.KindContent, Summary: "listed with another MD5: the file differs"})
		}
	}
	for _, s := range sb {
		if !seen[s.Path] {
			add(&report.Node{Name: s.Path, Kind: verdict.KindAdded, Summary: "listed only in shipped"})
		}
	}
}

// linkSums points each md5sums entry that differs at the data member it
// names, when that member's own differences are in the report: the entry
// then follows from them (an effect) and says where to look.
//
// A differing Installed-Size follows likewise from the data files that
// differ (dpkg-gencontrol adds up their sizes): it is an effect then, not
// a headline, and the files that differ are what to read.
func (e *engine) linkSums(sumsNode *report.Node) {
	d := e.deb
	if d != nil && d.installedSize != nil && d.data != nil && len(d.data.Children) > 0 {
		d.installedSize.Effect = true
		d.installedSize.Summary = "follows from the sizes of the data files that differ"
	}
	if d == nil || d.data == nil || len(d.sums) == 0 {
		return
	}
	byName := map[string]*report.Node{}
	for _, c := range d.data.Children {
		byName[strings.TrimPrefix(c.Name, "./")] = c
	}
	allEffects := true
	// In path order, so that the IDs are the same every time.
	for _, p := range sortedKeys(d.sums) {
		n := d.sums[p]
		t := byName[p]
		if t == nil {
			allEffects = false
			continue
		}
		if t.ID == "" {
			t.ID = e.nextID()
		}
		n.See, n.Effect = t.ID, true
	}
	if sumsNode != nil && allEffects {
		effect := true
		for _, c := range sumsNode.Children {
			effect = effect && c.Effect
		}
		sumsNode.Effect = effect
	}
}
