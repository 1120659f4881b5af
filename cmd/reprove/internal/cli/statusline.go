package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/internal/ctxio"
	"github.com/reprove/reprove/internal/escape"
)

// statusLine is the one line of progress on a terminal's stderr that is
// rewritten in place: byte counts of downloads and hashing, compare's
// current step. It is drawn at most ten times a second, only once an
// operation has run a quarter of a second (a quick one never flickers),
// cut to fit statusColumns, and cleared before anything else is written
// to stdout or stderr (Main routes both through it). A nil statusLine (not
// a terminal) draws nothing.
type statusLine struct {
	mu    sync.Mutex
	w     io.Writer // the terminal
	now   func() time.Time
	key   string    // the operation shown or about to be
	began time.Time // when key was first heard of
	drawn time.Time // when the line was last drawn
	shown bool
}

const (
	statusColumns = 100
	statusDelay   = 250 * time.Millisecond
	statusEvery   = 100 * time.Millisecond
)

func newStatusLine(w io.Writer, now func() time.Time) *statusLine {
	return &statusLine{w: w, now: now}
}

// show draws text as the state of the operation key.
func (s *statusLine) show(key, text string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if key != s.key {
		s.key, s.began = key, now
	}
	if now.Sub(s.began) < statusDelay || (s.shown && now.Sub(s.drawn) < statusEvery) {
		return
	}
	fmt.Fprintf(s.w, "\r\033[K%s", fitColumns(escape.Line(text), statusColumns))
	s.shown, s.drawn = true, now
}

// bytes shows a transfer: prefix names it, done bytes of total (0 when
// unknown). A transfer that reached its total clears the line.
func (s *statusLine) bytes(prefix string, done, total int64) {
	if s == nil {
		return
	}
	if total > 0 && done >= total {
		s.finish(prefix)
		return
	}
	meter := humanSize(done)
	if total > 0 {
		meter = fmt.Sprintf("%s of %s (%d%%)", meter, humanSize(total), done*100/total)
	}
	// The count is kept whole; the name is what gets cut.
	s.show(prefix, fitColumns(prefix, statusColumns-len(meter)-2)+"  "+meter)
}

// meter is a ctxio.Meter drawing on the line (nil when there is no line).
func (s *statusLine) meter() ctxio.Meter {
	if s == nil {
		return nil
	}
	return func(label string, done, total int64) { s.bytes("reprove: "+label, done, total) }
}

// finish clears the line if it shows key, and forgets key.
func (s *statusLine) finish(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key == key {
		s.key = ""
	}
	s.clearLocked()
}

// clear removes the line, if drawn.
func (s *statusLine) clear() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearLocked()
}

func (s *statusLine) clearLocked() {
	if s.shown {
		fmt.Fprint(s.w, "\r\033[K")
		s.shown = false
	}
}

// clearing returns w that clears the line before each write, so that
// results, messages and errors never land after a half-drawn status.
func (s *statusLine) clearing(w io.Writer) io.Writer {
	if s == nil {
		return w
	}
	return &clearingWriter{s: s, w: w}
}

type clearingWriter struct {
	s *statusLine
	w io.Writer
}

func (c *clearingWriter) Write(p []byte) (int, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.s.clearLocked()
	return c.w.Write(p)
}

// fitColumns cuts text to at most n characters by taking out its middle
// (where a long URL or path says least), marking the cut with "…".
func fitColumns(text string, n int) string {
	if utf8.RuneCountInString(text) <= n {
		return text
	}
	if n < 3 {
		n = 3
	}
	r := []rune(text)
	head := (n - 1) / 2
	tail := n - 1 - head
	return string(r[:head]) + "…" + string(r[len(r)-tail:])
}

// hashFile is ctxio.HashFile with byte progress on the status line.
func (s *statusLine) hashFile(ctx context.Context, path string) (digest.Digest, error) {
	var size int64
	if fi, err := os.Stat(path); err == nil {
		size = fi.Size()
	}
	return ctxio.HashFile(ctx, path, s.meter().Func("hashing "+path, size))
}
