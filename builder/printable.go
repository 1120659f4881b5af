package builder

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable returns line with everything that could change a terminal's
// display escaped: C0 and C1 control characters (ESC, CR, backspace, …),
// DEL, the Unicode bidirectional and other format controls, and bytes that
// are not UTF-8. Tabs stay. What a build prints can then neither erase the
// prefix it is shown with nor draw a line that looks like reprove's own.
//
// Escapes are written as in Go strings (\x1b, \r, \u202e), so the text
// stays readable.
func Printable(line string) string {
	if isPlain(line) {
		return line
	}
	var b strings.Builder
	for i := 0; i < len(line); {
		r, size := utf8.DecodeRuneInString(line[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, line[i])
		case r == '\t' || r == '\\':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029':
			q := fmt.Sprintf("%+q", string(r))
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(line[i : i+size])
		}
		i += size
	}
	return b.String()
}

func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c >= 0x7f {
			return false
		}
	}
	return true
}
