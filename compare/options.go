package compare

import (
	"github.com/reprove/reprove/compare/archive"
	"github.com/reprove/reprove/compare/exe"
)

// Options configure a comparison.
type Options struct {
	// Normalizers names the normalizers the caller allows (see
	// verdict.NormalizerNames). An unknown name is an error.
	Normalizers []string
	// Limits bound the work on untrusted input and the size of the report.
	Limits Limits
	// Progress, if set, is told what is being compared.
	Progress func(Progress)
	// TempDir is where a private working directory is made for members
	// too large to hold in memory; os.TempDir() when empty. It is removed
	// before Files returns.
	TempDir string
}

// Progress is one progress event.
type Progress struct {
	// Path is the file or member being compared.
	Path string
	// Step says what is happening ("hashing", "reading tar", …).
	Step string
	// Bytes is how many bytes were hashed or read so far in this step.
	Bytes int64
}

// Limits bound a comparison. Zero fields take the defaults of
// DefaultLimits.
type Limits struct {
	MaxEntries    int   // members per archive
	MaxDepth      int   // nesting of archives and compressed streams
	MaxExpanded   int64 // bytes decompressed in total
	MaxRatio      int64 // compression ratio of one stream
	MaxWindow     int64 // decompressor window (xz dictionary, zstd window)
	MaxExecutable int64 // largest executable parsed for sections, symbols and functions
	MaxCode       int64 // bytes of code and data one executable may hold in memory for function-level analysis
	MaxTextSize   int64 // largest file given a line diff
	MaxRanges     int   // byte ranges shown in hex per binary difference
	MaxListing    int   // instructions listed per added or removed function
}

// DefaultLimits returns the defaults.
func DefaultLimits() Limits {
	a := archive.DefaultLimits()
	return Limits{
		MaxEntries: a.MaxEntries, MaxDepth: a.MaxDepth, MaxExpanded: a.MaxExpanded,
		MaxRatio: a.MaxRatio, MaxWindow: a.MaxWindow,
		MaxExecutable: exe.DefaultLimits().File.MaxSize,
		MaxCode:       512 << 20,
		MaxTextSize:   4 << 20,
		MaxRanges:     8,
		MaxListing:    4096,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	set := func(v *int, dv int) {
		if *v <= 0 {
			*v = dv
		}
	}
	set64 := func(v *int64, dv int64) {
		if *v <= 0 {
			*v = dv
		}
	}
	set(&l.MaxEntries, d.MaxEntries)
	set(&l.MaxDepth, d.MaxDepth)
	set64(&l.MaxExpanded, d.MaxExpanded)
	set64(&l.MaxRatio, d.MaxRatio)
	set64(&l.MaxWindow, d.MaxWindow)
	set64(&l.MaxExecutable, d.MaxExecutable)
	set64(&l.MaxCode, d.MaxCode)
	set64(&l.MaxTextSize, d.MaxTextSize)
	set(&l.MaxRanges, d.MaxRanges)
	set(&l.MaxListing, d.MaxListing)
	return l
}

func (l Limits) archive() archive.Limits {
	return archive.Limits{MaxEntries: l.MaxEntries, MaxDepth: l.MaxDepth, MaxExpanded: l.MaxExpanded, MaxRatio: l.MaxRatio, MaxWindow: l.MaxWindow}
}

func (l Limits) exe() exe.Limits {
	x := exe.DefaultLimits()
	x.File.MaxSize = l.MaxExecutable
	return x
}
