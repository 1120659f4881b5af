package infer

import (
	"bytes"
	"context"
	_ "crypto/sha256" // registers sha256 with go-digest
	"debug/buildinfo"
	"debug/elf"
	"debug/gosym"
	"debug/macho"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/internal/ctxio"
)

// Format is an executable format.
type Format int

// Executable formats infer reads.
const (
	ELF Format = iota + 1
	PE
	MachO
)

var formatNames = map[Format]string{ELF: "elf", PE: "pe", MachO: "macho"}

func (f Format) String() string {
	if s, ok := formatNames[f]; ok {
		return s
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// MarshalText implements encoding.TextMarshaler.
func (f Format) MarshalText() ([]byte, error) {
	s, ok := formatNames[f]
	if !ok {
		return nil, fmt.Errorf("marshal format: invalid value %d", int(f))
	}
	return []byte(s), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (f *Format) UnmarshalText(b []byte) error {
	for k, s := range formatNames {
		if string(b) == s {
			*f = k
			return nil
		}
	}
	return fmt.Errorf("unmarshal format: unknown format %q", b)
}

// Facts is what infer reads from an executable: its Go build information
// and what the linker left in or out. Infer turns Facts into a recipe
// without any further I/O.
type Facts struct {
	// Digest and Size are those of the file.
	Digest digest.Digest
	Size   int64
	Format Format
	// BuildInfo is what the go command recorded (debug/buildinfo).
	BuildInfo *buildinfo.BuildInfo
	// Symbols: the file has a symbol table (the linker's -s removes it).
	Symbols bool
	// DWARF: the file has DWARF sections (the linker's -w removes them).
	DWARF bool
	// BuildID is the Go build ID ("" when built with -buildid= or not
	// found); BuildIDFound says whether a Go build ID note or marker was
	// seen at all.
	BuildID      string
	BuildIDFound bool
	// Dynamic: the file asks for a dynamic loader (cgo or external linking).
	Dynamic bool
	// MainDir and GoRoot are the absolute directories of the main package's
	// source files and of the Go installation, as recorded in the line
	// table of a binary built without -trimpath; "" when not recorded or
	// not readable.
	MainDir string
	GoRoot  string
}

// Limits bound what reading an untrusted file may cost.
type Limits struct {
	// MaxSize is the largest file read at all.
	MaxSize int64
	// MaxRead is how many bytes the debug/* parsers may read in total
	// (headers, notes, build info, line table).
	MaxRead int64
}

// DefaultLimits fit real binaries (the largest Go programs are a few
// hundred MiB, their line tables tens).
func DefaultLimits() Limits { return Limits{MaxSize: 2 << 30, MaxRead: 512 << 20} }

// ErrNotGo is returned for an executable without Go build information.
var ErrNotGo = errors.New("no Go build information (not a Go binary, or built before Go 1.18 without module information)")

// ReadFacts reads the executable at path.
func ReadFacts(ctx context.Context, file string, lim Limits) (*Facts, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("read executable: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read executable: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read executable %s: not a regular file", file)
	}
	if st.Size() > lim.MaxSize {
		return nil, fmt.Errorf("read executable %s: %d bytes is over the %d-byte limit", file, st.Size(), lim.MaxSize)
	}
	d, err := ctxio.HashReader(ctx, f, nil)
	if err != nil {
		return nil, fmt.Errorf("hash %s: %w", file, err)
	}
	facts, err := Read(f, st.Size(), lim)
	if err != nil {
		return nil, fmt.Errorf("read executable %s: %w", file, err)
	}
	facts.Digest = d
	return facts, nil
}

// budget is an io.ReaderAt that fails once its reads add up to more than
// a fixed number of bytes. Go's debug/* packages are not hardened against
// hostile files; this bounds the work they can be made to do.
type budget struct {
	ra   io.ReaderAt
	size int64
	left int64
}

var errBudget = errors.New("the file asks for more reading than any real executable needs")

func (b *budget) ReadAt(p []byte, off int64) (int, error) {
	if int64(len(p)) > b.left {
		return 0, errBudget
	}
	b.left -= int64(len(p))
	return b.ra.ReadAt(p, off)
}

// Read reads Facts from an executable of size bytes (Digest is left
// empty). It never panics: a panic inside debug/* on a malformed file is
// turned into an error.
func Read(ra io.ReaderAt, size int64, lim Limits) (facts *Facts, err error) {
	if size > lim.MaxSize {
		return nil, fmt.Errorf("%d bytes is over the %d-byte limit", size, lim.MaxSize)
	}
	defer func() {
		if r := recover(); r != nil {
			facts, err = nil, fmt.Errorf("malformed executable (%v)", r)
		}
	}()
	b := &budget{ra: ra, size: size, left: lim.MaxRead}
	head := make([]byte, 4)
	if _, err := ra.ReadAt(head, 0); err != nil {
		return nil, errors.New("not an executable (too short)")
	}
	facts = &Facts{Size: size}
	switch {
	case bytes.Equal(head, []byte(elf.ELFMAG)):
		err = readELF(b, facts)
	case bytes.HasPrefix(head, []byte("MZ")):
		err = readPE(b, facts)
	case isMachO(head):
		err = readMachO(b, facts)
	default:
		return nil, errors.New("not an executable (ELF, PE or Mach-O)")
	}
	if err != nil {
		return nil, err
	}
	bi, err := buildinfo.Read(b)
	if err != nil {
		if errors.Is(err, errBudget) {
			return nil, err
		}
		return nil, ErrNotGo
	}
	facts.BuildInfo = bi
	return facts, nil
}

func isMachO(h []byte) bool {
	m := binary.LittleEndian.Uint32(h)
	switch m {
	case macho.Magic32, macho.Magic64, macho.MagicFat:
		return true
	}
	m = binary.BigEndian.Uint32(h)
	return m == macho.Magic32 || m == macho.Magic64 || m == macho.MagicFat
}

func isDWARF(name string) bool {
	for _, p := range []string{".debug_", ".zdebug_", "__debug_", "__zdebug_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// readSection reads at most max bytes of a section.
func readSection(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("section over %d bytes", max)
	}
	return data, nil
}

func readELF(b *budget, facts *Facts) error {
	f, err := elf.NewFile(b)
	if err != nil {
		return fmt.Errorf("parse elf: %w", err)
	}
	facts.Format = ELF
	for _, s := range f.Sections {
		switch {
		case s.Type == elf.SHT_SYMTAB:
			facts.Symbols = true
		case isDWARF(s.Name):
			facts.DWARF = true
		case s.Name == ".note.go.buildid":
			// An ELF note: namesz, descsz, type, "Go\x00\x00", then the ID.
			data, err := readSection(s.Open(), 4096)
			if err != nil || len(data) < 16 {
				break
			}
			n := f.ByteOrder.Uint32(data[4:8])
			if string(data[12:16]) == "Go\x00\x00" && int(n) <= len(data)-16 {
				facts.BuildID = string(data[16 : 16+n])
				facts.BuildIDFound = true
			}
		}
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			facts.Dynamic = true
		}
	}
	if !facts.BuildIDFound {
		readBuildIDMarker(b, facts)
	}
	if text, tab := f.Section(".text"), f.Section(".gopclntab"); text != nil && tab != nil {
		if data, err := readSection(tab.Open(), b.left/2); err == nil {
			readLineTable(data, text.Addr, facts)
		}
	}
	return nil
}

func readPE(b *budget, facts *Facts) error {
	f, err := pe.NewFile(b)
	if err != nil {
		return fmt.Errorf("parse pe: %w", err)
	}
	facts.Format = PE
	facts.Symbols = f.FileHeader.NumberOfSymbols > 0
	for _, s := range f.Sections {
		if isDWARF(s.Name) {
			facts.DWARF = true
		}
	}
	// Windows binaries always load DLLs; cgo shows as an import of a C
	// runtime, which debug/pe does not make cheap to tell apart, so
	// Dynamic stays false and infer reads CGO_ENABLED from build info.
	readBuildIDMarker(b, facts)
	return nil
}

func readMachO(b *budget, facts *Facts) error {
	f, err := macho.NewFile(b)
	if err != nil {
		if _, ferr := macho.NewFatFile(b); ferr == nil {
			return errors.New("universal (fat) Mach-O binaries hold several programs: extract one architecture first (lipo -thin)")
		}
		return fmt.Errorf("parse macho: %w", err)
	}
	facts.Format = MachO
	facts.Symbols = f.Symtab != nil && len(f.Symtab.Syms) > 0
	for _, s := range f.Sections {
		if s.Seg == "__DWARF" || isDWARF(s.Name) {
			facts.DWARF = true
		}
	}
	readBuildIDMarker(b, facts)
	if text, tab := f.Section("__text"), f.Section("__gopclntab"); text != nil && tab != nil {
		if data, err := readSection(tab.Open(), b.left/2); err == nil {
			readLineTable(data, text.Addr, facts)
		}
	}
	return nil
}

// readBuildIDMarker finds the Go build ID the linker writes at the start
// of the text segment ("\xff Go build ID: \"...\"\n \xff"), within the
// first 32 KiB as the go command itself looks for it.
func readBuildIDMarker(b *budget, facts *Facts) {
	const prefix, suffix = "\xff Go build ID: \"", "\"\n \xff"
	head := make([]byte, min(32<<10, b.size))
	if n, _ := b.ReadAt(head, 0); n < len(head) {
		head = head[:n]
	}
	i := bytes.Index(head, []byte(prefix))
	if i < 0 {
		return
	}
	rest := head[i+len(prefix):]
	j := bytes.Index(rest, []byte(suffix))
	if j < 0 {
		return
	}
	facts.BuildID = string(rest[:j])
	facts.BuildIDFound = true
}

// readLineTable finds, in a line table of a binary built without
// -trimpath, the directory of package main's files and of the Go
// installation (the file of runtime.main is GOROOT/src/runtime/proc.go).
// Anything unexpected leaves them empty: they only sharpen findings.
func readLineTable(data []byte, text uint64, facts *Facts) {
	defer func() { _ = recover() }() // debug/gosym is not hardened either
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text))
	if err != nil {
		return
	}
	for _, fn := range tab.Funcs {
		switch fn.Name {
		case "main.main":
			if file, _, _ := tab.PCToLine(fn.Entry); path.IsAbs(file) {
				facts.MainDir = path.Dir(file)
			}
		case "runtime.main":
			if file, _, _ := tab.PCToLine(fn.Entry); path.IsAbs(file) {
				if root, ok := strings.CutSuffix(file, "/src/runtime/proc.go"); ok {
					facts.GoRoot = root
				}
			}
		}
	}
}
