package exediff

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// Printable runs of table data are not reported as strings; text is.
func TestTexty(t *testing.T) {
	for s, want := range map[string]bool{
		// Text, from real reports.
		"%w: create formatter: %w":                 true,
		"9e75b2138b4d31b156d3256c2b0617851377aaf2": true,
		"go1.26.7":                           true,
		"0.25.0":                             true,
		"EXPAT_MALLOC_DEBUG":                 true,
		`    words=("${words[@]:0:$cword}")`: true,
		"    else":                           true,
		"SHELL":                              true,
		// Byte patterns, from the same reports.
		"$U$U$U$":          false,
		"!!!!!!!!!!!!!!!!": false,
		"4444444444444444": false,
		"AUTEUTUIDUEUEUUU": false,
		"133333":           false,
		"@(h":              false,
		" a":               false,
		`1Rff&&""""""`:     false,
		"3S1333331333":     false,
		"*TUUUUUUUUUU":     false,
		"BBDDEDDDDDDDAAAA": false,
		")))))))))))Q":     false,
		"$B\"$B\"$B\"":     false,
		"!&(*,,-*":         false,
	} {
		if got := texty([]byte(s)); got != want {
			t.Errorf("texty(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestGoName(t *testing.T) {
	name := "*map.group[x509.rfc2821Mailbox]struct {}"
	if got := string(goName([]byte(string(rune(len(name)))+name), true)); got != name {
		t.Errorf("goName = %q, want %q", got, name)
	}
	if got := string(goName([]byte("(not a length prefix here at all, no"), true)); got != "(not a length prefix here at all, no" {
		t.Errorf("goName cut a literal whose first byte is no length: %q", got)
	}
}

// A long literal is cut at a character boundary, the ellipsis outside the
// quotes.
func TestQuoteCutsAtCharacters(t *testing.T) {
	s := strings.Repeat("a", 59) + "…and more"
	q := quote([]byte(s))
	if !strings.HasSuffix(q, `"…`) || !utf8.ValidString(q) || strings.Contains(q, `\x`) {
		t.Errorf("quote = %q", q)
	}
}

func TestInstLine(t *testing.T) {
	for _, off := range []uint64{0, 5, 0x1f, 0x123, 0x1234, 0x12345, 1<<64 - 1} {
		for _, sign := range []byte{' ', '-', '+'} {
			want := fmt.Sprintf("%c +%#04x  %s", sign, off, "MOVQ AX, BX")
			if got := instLine(sign, off, "MOVQ AX, BX"); got != want {
				t.Errorf("instLine(%q, %#x) = %q, want %q", sign, off, got, want)
			}
		}
	}
}
