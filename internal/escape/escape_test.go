package escape

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLine(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain text\twith tab", "plain text\twith tab"},
		{"\x1b[2K\rreprove: fetch   fake", `\x1b[2K\rreprove: fetch   fake`},
		{"back\bspace and bell\a", `back\bspace and bell\a`},
		{"C1 \u009b31m and bidi \u202egnp.exe", `C1 \u009b31m and bidi \u202egnp.exe`},
		{"bad utf-8 \xff\xfe", `bad utf-8 \xff\xfe`},
		{"ünïcode ✓ stays", "ünïcode ✓ stays"},
		{"DEL \x7f and NUL \x00 and LS \u2028 end", `DEL \x7f and NUL \x00 and LS \u2028 end`},
		{"two\nlines", `two\nlines`},
		{"zero\u200bwidth and BOM \ufeff", `zero\u200bwidth and BOM \ufeff`},
		{"", ""},
	} {
		if got := Line(tt.in); got != tt.want {
			t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLines(t *testing.T) {
	in := "first \x1b[31mline\nsecond\rline\n"
	want := "first \\x1b[31mline\nsecond\\rline\n"
	if got := Lines(in); got != want {
		t.Errorf("Lines(%q) = %q, want %q", in, got, want)
	}
}

const (
	green = "\x1b[32m"
	reset = "\x1b[0m"
)

func TestGuard(t *testing.T) {
	for _, tt := range []struct {
		name   string
		writes []string
		want   string
	}{
		{"own colours pass", []string{green + "verified:" + reset + " ok\n"}, green + "verified:" + reset + " ok\n"},
		{"other escapes do not", []string{"\x1b[2J\x1b[H fake\r\n"}, `\x1b[2J\x1b[H fake\r` + "\n"},
		{"own colour split across writes", []string{"\x1b[3", "2mword" + reset}, green + "word" + reset},
		{"utf-8 split across writes", []string{"caf\xc3", "\xa9\n"}, "café\n"},
		{"bidi split across writes", []string{"a\xe2\x80", "\xaeb"}, `a\u202eb`},
		{"bad utf-8", []string{"\xff\xfe\n"}, `\xff\xfe` + "\n"},
		{"a prefix of a colour that is not one", []string{"\x1b[3", "9m"}, `\x1b[39m`},
		{"C1 CSI", []string{"\u009b2J"}, `\u009b2J`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			g := NewGuard(&out, green, reset)
			for _, w := range tt.writes {
				n, err := g.Write([]byte(w))
				if err != nil || n != len(w) {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if err := g.Flush(); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestGuardFlushKeepsUnfinishedTail(t *testing.T) {
	var out bytes.Buffer
	g := NewGuard(&out, green)
	g.Write([]byte("end \x1b[3"))
	if got := out.String(); got != "end " {
		t.Fatalf("before Flush: %q", got)
	}
	g.Flush()
	if got := out.String(); got != `end \x1b[3` {
		t.Errorf("after Flush: %q", got)
	}
}

// safe reports whether s holds nothing a terminal acts on but newlines,
// tabs and the given sequences.
func safe(s string, own ...string) bool {
	for _, o := range own {
		s = strings.ReplaceAll(s, o, "")
	}
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r != '\n' && Unsafe(r) {
			return false
		}
	}
	return true
}

func FuzzLine(f *testing.F) {
	for _, s := range []string{"plain", "\x1b[2K\rfake", "\u202e\u0085\xff", "a\tb\\x1b", "x\ny"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Line(s)
		if strings.Contains(got, "\n") || !safe(got) {
			t.Fatalf("Line(%q) = %q", s, got)
		}
		if s2 := Lines(s); !safe(s2) || strings.Count(s2, "\n") != strings.Count(s, "\n") {
			t.Fatalf("Lines(%q) = %q", s, s2)
		}
	})
}

// FuzzGuard: however the text is split into writes, what reaches the
// terminal is what one write would give, and holds nothing unsafe but the
// guard's own sequences.
func FuzzGuard(f *testing.F) {
	f.Add([]byte("\x1b[32mok\x1b[0m\x1b[2J\xe2\x80\xae\xff"), uint8(3))
	f.Add([]byte("caf\xc3\xa9\n\r"), uint8(4))
	f.Fuzz(func(t *testing.T, b []byte, cut uint8) {
		var whole, split bytes.Buffer
		g := NewGuard(&whole, green, reset)
		g.Write(b)
		g.Flush()
		g = NewGuard(&split, green, reset)
		at := int(cut) % (len(b) + 1)
		g.Write(b[:at])
		g.Write(b[at:])
		g.Flush()
		if whole.String() != split.String() {
			t.Fatalf("%q split at %d: %q, whole: %q", b, at, split.String(), whole.String())
		}
		if !safe(whole.String(), green, reset) {
			t.Fatalf("%q: %q", b, whole.String())
		}
	})
}
