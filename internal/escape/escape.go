// Package escape is reprove's one rule for showing text that came from
// outside it (attestations, log entries, centre replies, file and archive
// member names, strings found in binaries, build output) on a terminal.
//
// Such text must not be able to move the cursor, erase or recolour what
// reprove printed, reorder a line (bidirectional overrides) or start a line
// of its own that reads like reprove's. So every C0 and C1 control
// character (ESC, CR, LF, backspace, …), DEL, every Unicode format
// character (the bidi controls among them), the line and paragraph
// separators and every byte that is not UTF-8 are written as Go escapes
// (\x1b, \r, \n, \u202e, \xff): the text stays readable and says what it
// held. Tabs stay.
//
// [Line] escapes one string for a line of reprove's own output. [Guard]
// is the second wall: a writer for a terminal that lets through only the
// newlines, tabs and escape sequences reprove writes itself, so a string
// that missed [Line] still cannot drive the screen.
package escape

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Line returns s with everything that could change a terminal's display
// escaped, newlines included: the result is one line.
func Line(s string) string {
	if plain(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			fmt.Fprintf(&b, `\x%02x`, s[i])
		} else if Unsafe(r) {
			writeRune(&b, r)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// Lines escapes each line of s (as Line does) and keeps the newlines
// between them: for text whose line breaks are meant, such as a tool's
// output quoted in an error.
func Lines(s string) string {
	if plain(strings.ReplaceAll(s, "\n", "")) {
		return s
	}
	parts := strings.Split(s, "\n")
	for i, p := range parts {
		parts[i] = Line(p)
	}
	return strings.Join(parts, "\n")
}

// Unsafe reports whether r is escaped: a control character other than
// tab, DEL, a C1 control, a format character (Cf: the bidi controls, zero
// width joiners, the BOM) or a line or paragraph separator.
func Unsafe(r rune) bool {
	switch {
	case r == '\t':
		return false
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0, r == '\u2028', r == '\u2029':
		return true
	case r < 0x80:
		return false
	}
	return unicode.Is(unicode.Cf, r)
}

func writeRune(b *strings.Builder, r rune) {
	// %+q writes \x1b, \r, \n, \u202e: Go's own spelling, ASCII only.
	q := fmt.Sprintf("%+q", string(r))
	b.WriteString(q[1 : len(q)-1])
}

// plain reports whether s is printable ASCII (and tabs): nothing to do.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c >= 0x7f {
			return false
		}
	}
	return true
}

// Guard is a writer for a terminal. It passes printable text, newlines,
// tabs and the sequences named when it was made (the colours reprove
// paints with); everything else is escaped as [Line] escapes it. Writes
// that end inside a UTF-8 sequence or inside one of the named sequences
// keep that tail until the next write or [Guard.Flush].
type Guard struct {
	w    io.Writer
	own  [][]byte
	tail []byte
}

// NewGuard returns a Guard writing to w that lets the sequences own
// through unchanged.
func NewGuard(w io.Writer, own ...string) *Guard {
	g := &Guard{w: w}
	for _, s := range own {
		g.own = append(g.own, []byte(s))
	}
	return g
}

// Write escapes p and writes it. It reports len(p) written when the
// escaped bytes were written whole.
func (g *Guard) Write(p []byte) (int, error) {
	buf := p
	if len(g.tail) > 0 {
		buf = append(g.tail, p...)
		g.tail = nil
	}
	out, rest := g.escape(buf, false)
	if len(rest) > 0 {
		g.tail = append([]byte(nil), rest...)
	}
	if _, err := g.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what an earlier write left unfinished, escaped.
func (g *Guard) Flush() error {
	if len(g.tail) == 0 {
		return nil
	}
	out, _ := g.escape(g.tail, true)
	g.tail = nil
	_, err := g.w.Write(out)
	return err
}

// escape returns b escaped and, unless final, the unfinished tail to keep.
func (g *Guard) escape(b []byte, final bool) (out, rest []byte) {
	var o bytes.Buffer
	o.Grow(len(b))
	for i := 0; i < len(b); {
		c := b[i]
		if c == 0x1b {
			if n, partial := g.match(b[i:]); n > 0 {
				o.Write(b[i : i+n])
				i += n
				continue
			} else if partial && !final {
				return o.Bytes(), b[i:]
			}
		}
		if c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f) {
			o.WriteByte(c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			if !final && !utf8.FullRune(b[i:]) {
				return o.Bytes(), b[i:]
			}
			fmt.Fprintf(&o, `\x%02x`, c)
			i++
			continue
		}
		if Unsafe(r) {
			q := fmt.Sprintf("%+q", string(r))
			o.WriteString(q[1 : len(q)-1])
		} else {
			o.Write(b[i : i+size])
		}
		i += size
	}
	return o.Bytes(), nil
}

// match reports the length of the own sequence b starts with (0 for none),
// and whether b is a proper prefix of one (it may complete on the next
// write).
func (g *Guard) match(b []byte) (n int, partial bool) {
	for _, s := range g.own {
		if bytes.HasPrefix(b, s) {
			return len(s), false
		}
		if len(b) < len(s) && bytes.HasPrefix(s, b) {
			partial = true
		}
	}
	return 0, partial
}
