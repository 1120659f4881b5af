package compare

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/aymanbagabas/go-udiff"

	"github.com/reprove/reprove/compare/report"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/internal/english"
)

// compareText gives a unified line diff of two text files small enough to
// hold in memory; larger ones are compared as bytes.
func (e *engine) compareText(parent *report.Node, a, b *blob) error {
	if a.size > e.lim.MaxTextSize || b.size > e.lim.MaxTextSize {
		return e.compareBytes(parent, a, b)
	}
	read := func(x *blob) (string, error) {
		buf := make([]byte, x.size)
		if _, err := io.ReadFull(x.reader(), buf); err != nil {
			return "", fmt.Errorf("read %s: %w", x.where, err)
		}
		return string(buf), nil
	}
	sa, err := read(a)
	if err != nil {
		return err
	}
	sb, err := read(b)
	if err != nil {
		return err
	}
	if !utf8.ValidString(sa) || !utf8.ValidString(sb) || strings.IndexByte(sa, 0) >= 0 || strings.IndexByte(sb, 0) >= 0 {
		return e.compareBytes(parent, a, b)
	}
	edits := udiff.Lines(sa, sb)
	u, err := udiff.ToUnified("rebuilt", "shipped", sa, edits, 3)
	if err != nil {
		return fmt.Errorf("diff %s: %w", b.where, err)
	}
	lines := strings.Split(strings.TrimSuffix(u, "\n"), "\n")
	var add, del int
	var body []string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "+++ "):
			continue
		case strings.HasPrefix(l, "+"):
			add++
		case strings.HasPrefix(l, "-"):
			del++
		}
		body = append(body, l)
	}
	if len(body) == 0 {
		// Same lines, different bytes (for example a missing final newline).
		return e.compareBytes(parent, a, b)
	}
	e.add(parent, &report.Node{Name: "text", Kind: verdict.KindText, Summary: fmt.Sprintf("%s only in rebuilt, %d only in shipped", english.Count(del, "line"), add), Lines: body})
	return nil
}

// compareBytes lists the byte ranges in which two blobs differ.
func (e *engine) compareBytes(parent *report.Node, a, b *blob) error {
	return e.diffBytes(parent, "bytes", e.reader(a.reader(), a.where, "comparing"), e.reader(b.reader(), b.where, "comparing"), a.size, b.size)
}

// diffBytes streams two readers side by side and records the ranges that
// differ (ranges closer than 8 bytes are merged), with a short hex view of
// the first few.
func (e *engine) diffBytes(parent *report.Node, name string, ra, rb io.Reader, na, nb int64) error {
	const chunk = 64 << 10
	const merge = 8
	ba, bb := bufio.NewReaderSize(ra, chunk), bufio.NewReaderSize(rb, chunk)
	var (
		off           int64
		differing     int64
		ranges        int
		inRange       bool
		lastDiff      int64 = -1 << 62
		lines         []string
		linesExtra    int
		rangeStart    int64
		pa                  = make([]byte, chunk)
		pb                  = make([]byte, chunk)
		firstMismatch int64 = -1
	)
	common := min(na, nb)
	for off < common {
		n := int(min(int64(chunk), common-off))
		if _, err := io.ReadFull(ba, pa[:n]); err != nil {
			return fmt.Errorf("read for byte comparison: %w", err)
		}
		if _, err := io.ReadFull(bb, pb[:n]); err != nil {
			return fmt.Errorf("read for byte comparison: %w", err)
		}
		if bytes.Equal(pa[:n], pb[:n]) {
			// The common case, at memory speed: a run of equal bytes
			// longer than the merge distance ends any open range.
			if inRange && off+int64(n)-lastDiff > merge {
				inRange = false
			}
			off += int64(n)
			continue
		}
		for i := 0; i < n; i++ {
			if pa[i] == pb[i] {
				if inRange && off+int64(i)-lastDiff > merge {
					inRange = false
				}
				continue
			}
			pos := off + int64(i)
			differing++
			if firstMismatch < 0 {
				firstMismatch = pos
			}
			if !inRange {
				inRange = true
				ranges++
				rangeStart = pos
				if ranges <= e.lim.MaxRanges {
					end := min(i+16, n)
					lines = append(lines, fmt.Sprintf("@%#08x rebuilt: % x", rangeStart, pa[i:end]),
						fmt.Sprintf("%*s shipped: % x", len(fmt.Sprintf("@%#08x", rangeStart)), "", pb[i:end]))
				} else {
					linesExtra += 2
				}
			}
			lastDiff = pos
		}
		off += int64(n)
	}
	summary := fmt.Sprintf("%s differ in %s", english.Count(differing, "byte"), english.Count(ranges, "range"))
	if na != nb {
		tail := max(na, nb) - common
		summary = fmt.Sprintf("sizes differ (%d vs %d bytes); %d of the first %s differ in %s, and %s only in the longer one",
			na, nb, differing, english.Count(common, "byte"), english.Count(ranges, "range"), english.Count(tail, "byte is", "bytes are"))
	} else if firstMismatch >= 0 {
		summary += fmt.Sprintf(" (first at offset %#x)", firstMismatch)
	}
	if na == nb && differing == 0 {
		return nil
	}
	e.add(parent, &report.Node{Name: name, Kind: verdict.KindBytes, Summary: summary, Lines: lines, LinesOmitted: linesExtra})
	return nil
}
