// Package render turns a report.Report (whose JSON form is the source of
// truth, never cut) into text for a terminal and one self-contained HTML
// page. Renderings cut long reports, and say where and how much: cut counts
// are always differences (leaves of the report), and lines for the lines of
// one diff.
package render

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/reprove/reprove/compare/report"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/internal/english"
	"github.com/reprove/reprove/internal/escape"
)

// Options bound a rendering.
type Options struct {
	// MaxEntries is how many children of one node are shown; 0 or less
	// shows all.
	MaxEntries int
	// MaxLines is how many lines of one diff are shown; 0 or less shows
	// all.
	MaxLines int
}

// DefaultOptions are what Text and HTML use.
func DefaultOptions() Options { return Options{MaxEntries: 200, MaxLines: 200} }

// Text writes r for a terminal with DefaultOptions.
func Text(w io.Writer, r *report.Report) error { return DefaultOptions().Text(w, r) }

// HTML writes r as a page with DefaultOptions.
func HTML(w io.Writer, r *report.Report) error { return DefaultOptions().HTML(w, r) }

// leaves counts the differences at or under n.
func leaves(n *report.Node) int {
	if n.Leaf() {
		return 1
	}
	c := 0
	for _, x := range n.Children {
		c += leaves(x)
	}
	return c
}

// cut is what a rendering leaves out.
type cut struct{ Diffs, Lines int }

func (c cut) String() string {
	var parts []string
	if c.Diffs > 0 {
		parts = append(parts, english.Count(c.Diffs, "difference"))
	}
	if c.Lines > 0 {
		parts = append(parts, english.Count(c.Lines, "diff line"))
	}
	return strings.Join(parts, " and ")
}

// Text writes r for a terminal: the verdict first, then the tree of
// differences, indented, causes before effects; effects are folded to one
// line each; what was cut is said where it was cut and counted at the end.
func (o Options) Text(w io.Writer, r *report.Report) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	p("%s\n", escape.Line(headline(r)))
	for _, s := range []struct {
		side string
		a    report.Artifact
	}{{"rebuilt", r.Rebuilt}, {"shipped", r.Shipped}} {
		p("  %s  %s  %d bytes  %s  %s\n", s.side, s.a.Digest, s.a.Size, s.a.Format, escape.Line(s.a.Path))
	}
	if len(r.Allowed) > 0 {
		p("  allowed normalizers: %s\n", escape.Line(strings.Join(r.Allowed, ", ")))
	}
	if r.Verdict != verdict.Identical {
		p("  %s, %d accepted by allowed normalizers", english.Count(r.Counts.Differences, "difference"), r.Counts.Accepted)
		if e := r.Counts.Differences - r.Counts.Causes; e > 0 && r.Counts.Causes > 0 {
			p("; %s to read first, %d following from them", english.Count(r.Counts.Causes, "cause"), e)
		}
		p("\n")
	}
	if len(r.Suggested) > 0 {
		p("  every difference is covered by a known normalizer: allowing %s would make this equivalent\n", escape.Line(strings.Join(r.Suggested, ", ")))
	}
	for _, n := range r.Notes {
		p("  note: %s\n", escape.Line(n))
	}
	var c cut
	if r.Differences != nil {
		p("\n")
		o.textNode(bw, r.Differences, 0, &c, idPaths(r.Differences))
	}
	if c.Diffs > 0 || c.Lines > 0 {
		p("\n%s not shown (raise --max-entries-shown or --max-lines, 0 for no limit; --json holds everything)\n", c)
	}
	return bw.Flush()
}

func headline(r *report.Report) string {
	switch r.Verdict {
	case verdict.Identical:
		return "identical: the digests are equal"
	case verdict.Equivalent:
		return "equivalent: equal after normalizers " + strings.Join(r.Normalizers, ", ")
	default:
		return "different"
	}
}

// Tag describes a leaf's kind, change and whether a normalizer covers it.
func Tag(n *report.Node) string {
	k := n.Kind.String()
	if n.Change != report.ChangeNone {
		k = n.Change.String() + " " + k
	}
	switch {
	case !n.Leaf():
		return ""
	case n.Accepted:
		return fmt.Sprintf("%s, accepted by %s", k, n.Normalizer)
	case n.Normalizer != "":
		return fmt.Sprintf("%s, %s would accept it (not allowed)", k, n.Normalizer)
	}
	return k
}

// label is a node's line: name, summary, values.
func label(n *report.Node) string {
	line := n.Name
	if n.Summary != "" {
		line += ": " + n.Summary
	}
	if n.Rebuilt != "" || n.Shipped != "" {
		line += fmt.Sprintf(": %s → %s", n.Rebuilt, n.Shipped)
	}
	return line
}

// idPaths maps the IDs of nodes others refer to (report.Node.See) to
// their paths below the root, names joined by " / ".
func idPaths(root *report.Node) map[string]string {
	out := map[string]string{}
	var walk func(n *report.Node, path string)
	walk = func(n *report.Node, path string) {
		if n.ID != "" {
			out[n.ID] = path
		}
		for _, c := range n.Children {
			p := c.Name
			if path != "" {
				p = path + " / " + c.Name
			}
			walk(c, p)
		}
	}
	walk(root, "")
	return out
}

func (o Options) textNode(w *bufio.Writer, n *report.Node, depth int, c *cut, see map[string]string) {
	ind := strings.Repeat("  ", depth)
	// Names, values and lines come from the files compared: escaped.
	line := ind + escape.Line(label(n))
	if p, ok := see[n.See]; ok && n.See != "" {
		line += " (see " + escape.Line(p) + ")"
	}
	if t := Tag(n); t != "" {
		line += "  [" + escape.Line(t) + "]"
	}
	if n.Effect && !n.Leaf() {
		// Folded: one line, with the first few names.
		line += escape.Line(foldedNames(n, 4))
		fmt.Fprintln(w, line)
		return
	}
	fmt.Fprintln(w, line)
	lines := n.Lines
	if o.MaxLines > 0 && len(lines) > o.MaxLines {
		lines = lines[:o.MaxLines]
	}
	for _, l := range lines {
		fmt.Fprintf(w, "%s    │ %s\n", ind, escape.Line(l))
	}
	if cutLines := len(n.Lines) - len(lines); cutLines > 0 {
		c.Lines += cutLines
		fmt.Fprintf(w, "%s    │ … %s not shown\n", ind, english.Count(cutLines, "more line"))
	}
	if n.LinesOmitted > 0 {
		fmt.Fprintf(w, "%s    │ … %s not recorded\n", ind, english.Count(n.LinesOmitted, "more line"))
	}
	kids := n.Children
	hidden := 0
	if o.MaxEntries > 0 && len(kids) > o.MaxEntries {
		for _, k := range kids[o.MaxEntries:] {
			hidden += leaves(k)
		}
		kids = kids[:o.MaxEntries]
	}
	for _, k := range kids {
		o.textNode(w, k, depth+1, c, see)
	}
	if hidden > 0 {
		c.Diffs += hidden
		fmt.Fprintf(w, "%s  … %s not shown\n", ind, english.Count(hidden, "more difference"))
	}
}

// foldedNames lists the first names under a folded node, for its line.
func foldedNames(n *report.Node, max int) string {
	if len(n.Children) == 0 {
		return ""
	}
	var names []string
	for _, k := range n.Children[:min(max, len(n.Children))] {
		names = append(names, k.Name)
	}
	s := " (" + strings.Join(names, ", ")
	if more := len(n.Children) - len(names); more > 0 {
		s += fmt.Sprintf(", … %d more", more)
	}
	return s + "; folded: --json and --html list them)"
}
