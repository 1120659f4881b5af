package archive

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
)

// Limits bound the work one comparison may do on untrusted input. Zero
// fields take the defaults of DefaultLimits.
type Limits struct {
	// MaxEntries is the most members one archive may have.
	MaxEntries int
	// MaxDepth is the deepest nesting of archives and compressed streams.
	MaxDepth int
	// MaxExpanded is the most bytes all decompressors together may
	// produce during one comparison (both sides).
	MaxExpanded int64
	// MaxRatio is the largest expanded/compressed ratio a stream may reach
	// once it has expanded past RatioGrace bytes.
	MaxRatio int64
	// MaxWindow is the largest decompressor window (xz dictionary, zstd
	// window) accepted: a hostile header could otherwise ask for gigabytes.
	MaxWindow int64
}

// RatioGrace is how many bytes a stream may expand to before MaxRatio is
// checked: tiny inputs legitimately have huge ratios.
const RatioGrace = 16 << 20

// DefaultLimits fit a 2-core, few-GB machine comparing real releases. The
// window limit admits every xz preset (64 MiB at -9) and zstd up to level
// 19; both sides may decompress at once, so it counts twice.
func DefaultLimits() Limits {
	return Limits{
		MaxEntries:  1_000_000,
		MaxDepth:    8,
		MaxExpanded: 32 << 30,
		MaxRatio:    1000,
		MaxWindow:   64 << 20,
	}
}

// WithDefaults fills zero fields from DefaultLimits.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	if l.MaxEntries <= 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxExpanded <= 0 {
		l.MaxExpanded = d.MaxExpanded
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = d.MaxRatio
	}
	if l.MaxWindow <= 0 {
		l.MaxWindow = d.MaxWindow
	}
	return l
}

// LimitError reports that input crossed one of the Limits.
type LimitError struct {
	Limit string // "entries", "depth", "expanded size", "compression ratio", "window"
	Where string // the archive or member
	Max   int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s: %s exceeds the limit of %d", e.Where, e.Limit, e.Max)
}

// IsLimit reports whether err is (or wraps) a *LimitError.
func IsLimit(err error) bool {
	var le *LimitError
	return errors.As(err, &le)
}

// Budget is shared by every reader of one comparison; it is not safe for
// concurrent use.
type Budget struct {
	Limits   Limits
	expanded atomic.Int64 // two streams may be read at once
}

// NewBudget returns a budget with l (defaults filled in).
func NewBudget(l Limits) *Budget { return &Budget{Limits: l.WithDefaults()} }

// Expanded is the number of decompressed bytes produced so far.
func (b *Budget) Expanded() int64 { return b.expanded.Load() }

// CheckDepth refuses nesting deeper than MaxDepth.
func (b *Budget) CheckDepth(depth int, where string) error {
	if depth > b.Limits.MaxDepth {
		return &LimitError{Limit: "nesting depth", Where: where, Max: int64(b.Limits.MaxDepth)}
	}
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// meter wraps a decompressor's output: it charges the budget and checks
// the ratio against the compressed bytes consumed so far.
type meter struct {
	r     io.Reader
	in    *countingReader
	b     *Budget
	where string
	out   int64
}

func (m *meter) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.out += int64(n)
	if m.b.expanded.Add(int64(n)) > m.b.Limits.MaxExpanded {
		return n, &LimitError{Limit: "expanded size", Where: m.where, Max: m.b.Limits.MaxExpanded}
	}
	if m.out > RatioGrace && m.out > m.b.Limits.MaxRatio*max(m.in.n, 1) {
		return n, &LimitError{Limit: "compression ratio", Where: m.where, Max: m.b.Limits.MaxRatio}
	}
	return n, err
}
