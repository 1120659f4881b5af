package cli

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/reprove/reprove/pipeline"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

const clearSeq = "\r\033[K"

func TestStatusLine(t *testing.T) {
	type step struct {
		after time.Duration // clock moves this much first
		do    func(s *statusLine, out *bytes.Buffer)
		want  string // what the terminal gets from this step
	}
	showA := func(text string) func(*statusLine, *bytes.Buffer) {
		return func(s *statusLine, _ *bytes.Buffer) { s.show("a", text) }
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"a quick operation is never drawn", []step{
			{0, showA("one"), ""},
			{200 * time.Millisecond, showA("two"), ""},
		}},
		{"drawn once it has run a quarter second, then at most ten times a second", []step{
			{0, showA("one"), ""},
			{250 * time.Millisecond, showA("two"), clearSeq + "two"},
			{50 * time.Millisecond, showA("three"), ""},
			{50 * time.Millisecond, showA("four"), clearSeq + "four"},
		}},
		{"a new operation waits its own quarter second", []step{
			{0, showA("one"), ""},
			{time.Second, showA("two"), clearSeq + "two"},
			{time.Second, func(s *statusLine, _ *bytes.Buffer) { s.show("b", "other") }, ""},
			{300 * time.Millisecond, func(s *statusLine, _ *bytes.Buffer) { s.show("b", "other") }, clearSeq + "other"},
		}},
		{"byte counts, and a finished transfer clears the line", []step{
			{0, func(s *statusLine, _ *bytes.Buffer) { s.bytes("reprove: downloading x", 1<<20, 4<<20) }, ""},
			{time.Second, func(s *statusLine, _ *bytes.Buffer) { s.bytes("reprove: downloading x", 2<<20, 4<<20) },
				clearSeq + "reprove: downloading x  2.0 MiB of 4.0 MiB (50%)"},
			{time.Second, func(s *statusLine, _ *bytes.Buffer) { s.bytes("reprove: downloading x", 3<<20, 0) },
				clearSeq + "reprove: downloading x  3.0 MiB"},
			{time.Second, func(s *statusLine, _ *bytes.Buffer) { s.bytes("reprove: downloading x", 4<<20, 4<<20) }, clearSeq},
			{time.Second, func(s *statusLine, _ *bytes.Buffer) { s.clear() }, ""},
		}},
		{"anything written clears the line first, once", []step{
			{0, showA("one"), ""},
			{time.Second, showA("two"), clearSeq + "two"},
			{0, func(s *statusLine, out *bytes.Buffer) { fmt.Fprint(s.clearing(out), "result\n") }, clearSeq + "result\n"},
			{0, func(s *statusLine, out *bytes.Buffer) { fmt.Fprint(s.clearing(out), "more\n") }, "more\n"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			clock := &fakeClock{t: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)}
			s := newStatusLine(&out, clock.now)
			for i, st := range tc.steps {
				clock.advance(st.after)
				out.Reset()
				st.do(s, &out)
				if got := out.String(); got != st.want {
					t.Errorf("step %d: terminal got %q, want %q", i, got, st.want)
				}
			}
		})
	}
}

// Without a terminal there is no status line, and nothing is drawn.
func TestStatusLineNil(t *testing.T) {
	var s *statusLine
	s.show("a", "x")
	s.bytes("x", 1, 2)
	s.clear()
	if s.meter() != nil {
		t.Error("a nil status line gives a meter")
	}
	var out bytes.Buffer
	if w := s.clearing(&out); w != &out {
		t.Error("a nil status line wraps writers")
	}
}

// A long name is cut in the middle; the byte count stays whole, and the
// line fits the columns.
func TestStatusLineFits(t *testing.T) {
	var out bytes.Buffer
	clock := &fakeClock{t: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)}
	s := newStatusLine(&out, clock.now)
	label := "reprove: downloading https://registry.npmjs.org/" + strings.Repeat("very-long-name/", 20) + "esbuild-0.25.0.tgz"
	s.bytes(label, 1<<20, 10<<20)
	clock.advance(time.Second)
	s.bytes(label, 5<<20, 10<<20)
	line := strings.TrimPrefix(out.String(), clearSeq)
	if n := utf8.RuneCountInString(line); n > statusColumns {
		t.Errorf("line is %d columns: %q", n, line)
	}
	for _, want := range []string{"reprove: downloading https://", "…", "esbuild-0.25.0.tgz  5.0 MiB of 10.0 MiB (50%)"} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
}

// Build progress: byte events go to the status line on a terminal and
// nowhere otherwise; phase lines clear it before they print.
func TestProgressBytes(t *testing.T) {
	for _, terminal := range []bool{false, true} {
		t.Run(fmt.Sprint("terminal=", terminal), func(t *testing.T) {
			var out bytes.Buffer
			clock := &fakeClock{t: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)}
			var st *statusLine
			w := &out
			p := &progress{w: w}
			if terminal {
				st = newStatusLine(&out, clock.now)
				p = &progress{w: st.clearing(&out), status: st}
			}
			p.event(pipeline.Event{Phase: pipeline.PhaseFetch, Message: "downloading https://example.org/x.tgz"})
			p.event(pipeline.Event{Phase: pipeline.PhaseFetch, Message: "downloading https://example.org/x.tgz", Bytes: 1 << 20, Total: 8 << 20})
			clock.advance(time.Second)
			p.event(pipeline.Event{Phase: pipeline.PhaseFetch, Message: "downloading https://example.org/x.tgz", Bytes: 3 << 20, Total: 8 << 20})
			p.event(pipeline.Event{Phase: pipeline.PhaseImage, Message: "building the image"})
			want := "reprove: fetch   downloading https://example.org/x.tgz\n"
			if terminal {
				want += clearSeq + "reprove: fetch   downloading https://example.org/x.tgz  3.0 MiB of 8.0 MiB (37%)" + clearSeq
			}
			want += "reprove: image   building the image\n"
			if got := out.String(); got != want {
				t.Errorf("stderr got\n%q\nwant\n%q", got, want)
			}
		})
	}
}
