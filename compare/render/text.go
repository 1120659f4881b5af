// Package render turns a compare.Report (whose JSON form is the source of
// truth) into text for a terminal and one self-contained HTML page.
package render

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/reprove/reprove/compare"
)

// Text writes r for a terminal: the verdict first, then the tree of
// differences, indented, with what was cut said where it was cut.
func Text(w io.Writer, r *compare.Report) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	p("%s\n", headline(r))
	for _, s := range []struct {
		side string
		a    compare.Artifact
	}{{"rebuilt", r.Rebuilt}, {"shipped", r.Shipped}} {
		p("  %s  %s  %d bytes  %s  %s\n", s.side, s.a.Digest, s.a.Size, s.a.Format, s.a.Path)
	}
	if len(r.Allowed) > 0 {
		p("  allowed normalizers: %s\n", strings.Join(r.Allowed, ", "))
	}
	if r.Verdict != compare.Identical {
		if r.Counts.Differences == 1 {
			p("  1 difference, %d accepted by allowed normalizers", r.Counts.Accepted)
		} else {
			p("  %d differences, %d accepted by allowed normalizers", r.Counts.Differences, r.Counts.Accepted)
		}
		if r.Counts.Omitted > 0 {
			p("; %d report entries not shown (raise --max-entries-shown or --max-lines)", r.Counts.Omitted)
		}
		p("\n")
	}
	if len(r.Suggested) > 0 {
		p("  every difference is covered by a known normalizer: allowing %s would make this equivalent\n", strings.Join(r.Suggested, ", "))
	}
	if r.Differences != nil {
		p("\n")
		textNode(bw, r.Differences, 0)
	}
	return bw.Flush()
}

func headline(r *compare.Report) string {
	switch r.Verdict {
	case compare.Identical:
		return "identical: the digests are equal"
	case compare.Equivalent:
		return "equivalent: equal after normalizers " + strings.Join(r.Normalizers, ", ")
	default:
		return "different"
	}
}

// Tag describes a leaf's kind and whether a normalizer covers it.
func Tag(n *compare.Node) string {
	switch {
	case !n.Leaf():
		return ""
	case n.Accepted:
		return fmt.Sprintf("%s, accepted by %s", n.Kind, n.Normalizer)
	case n.Normalizer != "":
		return fmt.Sprintf("%s, %s would accept it (not allowed)", n.Kind, n.Normalizer)
	}
	return n.Kind.String()
}

func textNode(w *bufio.Writer, n *compare.Node, depth int) {
	ind := strings.Repeat("  ", depth)
	line := ind + n.Name
	if n.Summary != "" {
		line += ": " + n.Summary
	}
	if n.Rebuilt != "" || n.Shipped != "" {
		line += fmt.Sprintf(": %s → %s", n.Rebuilt, n.Shipped)
	}
	if t := Tag(n); t != "" {
		line += "  [" + t + "]"
	}
	fmt.Fprintln(w, line)
	for _, l := range n.Lines {
		fmt.Fprintf(w, "%s    │ %s\n", ind, l)
	}
	if n.LinesOmitted > 0 {
		fmt.Fprintf(w, "%s    │ … %d more lines not shown\n", ind, n.LinesOmitted)
	}
	for _, c := range n.Children {
		textNode(w, c, depth+1)
	}
	if n.ChildrenOmitted > 0 {
		fmt.Fprintf(w, "%s  … %d more entries not shown\n", ind, n.ChildrenOmitted)
	}
}
