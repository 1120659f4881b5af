// Package exediff tells moved code from changed code. Given two parsed
// executables, it classifies every function and data object as identical,
// moved (the same once the addresses it refers to are mapped from one
// side's layout to the other's), changed, added or removed, and diffs the
// string literals the two hold as sets.
//
// Functions come from the Go pclntab (so stripped Go binaries have them)
// or the symbol table; their code is disassembled (package disasm) and
// compared instruction by instruction. An address an instruction or a
// pointer-sized data word refers to is mapped through the layout:
//   - inside a function or object that both sides name, to the same offset
//     in the other side's one;
//   - elsewhere (the data of a stripped binary, the unnamed blocks of an
//     unstripped one: strings, type data), by the shifts the two sides'
//     aligned instructions agree on. An address only one instruction
//     refers to is taken as moved only when its shift matches that of the
//     nearest other referenced address or of its section; otherwise the
//     function that refers to it counts as changed.
//
// The classification explains a difference; it never decides a verdict
// (the digests do). Where it must guess, it guesses "changed".
package exediff

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"

	"github.com/reprove/reprove/compare/exe"
)

// Class is what became of a function or object.
type Class int

// Classes.
const (
	Identical Class = iota // the same bytes at the same address
	Moved                  // the same once addresses are mapped
	Changed
	Added   // only in the second (shipped) file
	Removed // only in the first (rebuilt) file
)

func (c Class) String() string {
	return [...]string{"identical", "moved", "changed", "added", "removed"}[c]
}

// Side is one executable.
type Side struct {
	File *exe.File
	R    io.ReaderAt
}

// Options bound the work.
type Options struct {
	// MaxBytes is how many bytes of code and data one side may hold in
	// memory; above it only what fits is analysed and Result.Notes says so.
	MaxBytes int64
	// MaxListing is how many instructions an added or removed function's
	// listing holds.
	MaxListing int
	// Context is how many equal instructions surround a difference.
	Context int
	// Workers decode in parallel (GOMAXPROCS when 0).
	Workers int
}

func (o Options) withDefaults() Options {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 30
	}
	if o.MaxListing <= 0 {
		o.MaxListing = 4096
	}
	if o.Context < 0 {
		o.Context = 0
	} else if o.Context == 0 {
		o.Context = 1
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o
}

// Item is one function, object, string or block of data that is not
// identical.
type Item struct {
	Name string
	// Section is the section holding it (the shipped side's when both
	// have it).
	Section      string
	Class        Class
	AddrA, AddrB uint64 // 0 when absent on that side
	SizeA, SizeB int64
	Summary      string
	// Lines is an instruction diff ("-", "+" and " " lines), a listing,
	// or the words that differ.
	Lines []string
	// LinesOmitted counts instructions left out of a listing over
	// Options.MaxListing.
	LinesOmitted int
	// ShownWithCode marks a block of data whose every changed word is
	// shown with a function that refers to it.
	ShownWithCode bool

	words []uint64 // the changed words of a block of data
}

// Counts counts functions or objects by class, identical ones included.
type Counts [5]int

// Total is the number of things counted.
func (c Counts) Total() int { return c[0] + c[1] + c[2] + c[3] + c[4] }

// Result is what Compare found. Items are sorted: changed, then removed,
// then added, then moved; each by name.
type Result struct {
	// FuncsFrom says where the functions came from on each side
	// ("pclntab", "symbol table").
	FuncsFrom  string
	Funcs      []Item
	FuncCounts Counts
	Objects    []Item
	// ObjectCounts counts named data objects.
	ObjectCounts Counts
	// Data holds, per data section, the words outside named objects that
	// differ once addresses are mapped.
	Data []Item
	// Strings holds the string literals only one side has (Removed: only
	// in the first file, Added: only in the second).
	Strings []Item
	// Explained names the sections whose byte differences the items
	// account for (code and data that was analysed).
	Explained map[string]bool
	// Notes say what could not be analysed and why.
	Notes []string
}

// Compare classifies the functions, objects and strings of a and b.
func Compare(ctx context.Context, a, b Side, opts Options) (*Result, error) {
	opts = opts.withDefaults()
	res := &Result{Explained: map[string]bool{}}
	la, err := newLayout(a, opts.MaxBytes)
	if err != nil {
		return nil, fmt.Errorf("read rebuilt: %w", err)
	}
	lb, err := newLayout(b, opts.MaxBytes)
	if err != nil {
		return nil, fmt.Errorf("read shipped: %w", err)
	}
	res.Notes = append(res.Notes, la.notes...)
	res.Notes = append(res.Notes, lb.notes...)
	res.FuncsFrom = a.File.FuncsFrom
	if b.File.FuncsFrom != a.File.FuncsFrom {
		res.FuncsFrom = a.File.FuncsFrom + " / " + b.File.FuncsFrom
	}
	m := newMapper(la, lb)
	fc, err := compareFuncs(ctx, la, lb, m, opts)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.build()
	// Strings and data first: instruction diffs show the literals they
	// refer to, and a function whose code only moved but refers to data
	// that changed is changed.
	la.findRuns()
	lb.findRuns()
	w := newWords(m)
	w.collect()
	res.Strings = compareStrings(la, lb, append(fc.refsA, w.strA...), append(fc.refsB, w.strB...))
	// The instruction diffs of changed code need the strings only: they
	// are written while the data is judged, which takes one core.
	written := fc.writeChanged(opts.Workers)
	res.Objects, res.ObjectCounts, res.Data = w.judge()
	written()
	res.Funcs, res.FuncCounts = fc.finish(m, opts, w)
	w.settle(res.Data)
	if fc.decA != nil || len(a.File.Funcs) > 0 {
		res.Data = append(fc.gaps(), res.Data...)
	}
	for _, s := range la.f.Sections {
		if (s.Exec && fc.analysed[s.Name]) || (s.Data && la.sec(s.Name) != nil) {
			res.Explained[s.Name] = true
		}
	}
	if len(a.File.Funcs) > 0 && len(b.File.Funcs) > 0 {
		// Tables derived from the code's layout.
		for _, s := range la.f.Sections {
			if (a.File.FuncsFrom == "pclntab" && isDerived(s.Name)) || (a.File.FuncsFrom == exe.FromUnwind && isDerivedNative(s.Name)) {
				res.Explained[s.Name] = true
			}
		}
	}
	return res, nil
}

func sortItems(items []Item) {
	rank := map[Class]int{Changed: 0, Removed: 1, Added: 2, Moved: 3}
	sort.SliceStable(items, func(i, j int) bool {
		if rank[items[i].Class] != rank[items[j].Class] {
			return rank[items[i].Class] < rank[items[j].Class]
		}
		return items[i].Name < items[j].Name
	})
}

// isDerived names the sections a Go linker fills with tables about the
// code (function table, type links, build IDs in notes, symbols, DWARF,
// module data; PE's unwind and relocation tables; Mach-O's stubs and
// pointer tables): they change whenever the code moves.
func isDerived(name string) bool {
	for _, s := range []string{"gopclntab", "typelink", "itablink", ".note", "gosymtab", ".symtab", ".strtab", "__go_buildinfo", ".go.buildinfo", ".go.fipsinfo", ".go.module", "debug_", "__go_", ".pdata", ".xdata", ".reloc", "__symbol_stub", "__stubs", "__got", "__la_symbol_ptr", "__nl_symbol_ptr"} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// isDerivedNative names the sections of a native ELF file that a linker
// derives from the code and data (build ID, unwind tables, relocations,
// the GOT, the dynamic section and symbol hashes): they change whenever
// code moves, and the functions, strings and data explain why.
func isDerivedNative(name string) bool {
	for _, s := range []string{".note.gnu.build-id", ".eh_frame", ".rela.", ".rel.", ".got", ".dynamic", ".gnu.hash", ".hash", ".dynsym", ".dynstr", ".gnu.version", ".symtab", ".strtab", ".init_array", ".fini_array", ".data.rel.ro"} {
		if strings.HasPrefix(name, s) {
			return true
		}
	}
	return false
}
