// Package exefile opens untrusted executables (ELF, PE, Mach-O) with Go's
// debug/* parsers, bounded. It is the one hardened reader that compare and
// infer share.
//
// Go's debug/* packages are not hardened against adversarial input: a
// crafted header can make them panic, or read (and allocate) far more than
// the file holds. Open therefore refuses files over Limits.MaxSize, hands
// the parsers a reader that fails once Limits.MaxRead bytes have been read
// through it, and turns a panic into an error; Guard does the same for any
// later call into debug/* (symbol tables, build information, line tables).
package exefile

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Format is an executable format.
type Format int

// Formats Open reads.
const (
	ELF Format = iota + 1
	PE
	MachO
)

func (f Format) String() string {
	switch f {
	case ELF:
		return "elf"
	case PE:
		return "pe"
	case MachO:
		return "macho"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Limits bound what reading one untrusted file may cost.
type Limits struct {
	// MaxSize is the largest file opened at all.
	MaxSize int64
	// MaxRead is how many bytes the debug/* parsers may read through the
	// file in total (headers, symbol tables, notes, build information).
	MaxRead int64
}

// DefaultLimits fit real executables: the largest Go programs are a few
// hundred MiB, their symbol and line tables tens.
func DefaultLimits() Limits { return Limits{MaxSize: 2 << 30, MaxRead: 512 << 20} }

// ErrBudget is returned (wrapped) once the parsers have read MaxRead bytes.
var ErrBudget = errors.New("the file asks for more reading than any real executable needs")

// File is an opened executable. Exactly one of ELF, PE and MachO is set.
type File struct {
	Format Format
	Size   int64
	ELF    *elf.File
	PE     *pe.File
	MachO  *macho.File
	b      *budget
}

// budget is an io.ReaderAt that fails once its reads add up to more than
// a fixed number of bytes. It may be read from several goroutines.
type budget struct {
	ra   io.ReaderAt
	mu   sync.Mutex
	left int64
}

func (b *budget) ReadAt(p []byte, off int64) (int, error) {
	b.mu.Lock()
	if int64(len(p)) > b.left {
		b.mu.Unlock()
		return 0, ErrBudget
	}
	b.left -= int64(len(p))
	b.mu.Unlock()
	return b.ra.ReadAt(p, off)
}

// Detect names the executable format whose magic head starts with.
func Detect(head []byte) (Format, bool) {
	if len(head) < 4 {
		return 0, false
	}
	switch {
	case bytes.Equal(head[:4], []byte(elf.ELFMAG)):
		return ELF, true
	case bytes.HasPrefix(head, []byte("MZ")):
		return PE, true
	case isMachO(head):
		return MachO, true
	}
	return 0, false
}

func isMachO(h []byte) bool {
	for _, m := range []uint32{binary.LittleEndian.Uint32(h), binary.BigEndian.Uint32(h)} {
		if m == macho.Magic32 || m == macho.Magic64 || m == macho.MagicFat {
			return true
		}
	}
	return false
}

// Open parses the executable of size bytes in ra. A universal (fat)
// Mach-O file is refused: it holds several programs.
func Open(ra io.ReaderAt, size int64, lim Limits) (*File, error) {
	if size > lim.MaxSize {
		return nil, fmt.Errorf("%d bytes is over the %d-byte limit", size, lim.MaxSize)
	}
	head := make([]byte, 4)
	if _, err := ra.ReadAt(head, 0); err != nil {
		return nil, errors.New("not an executable (too short)")
	}
	fm, ok := Detect(head)
	if !ok {
		return nil, errors.New("not an executable (ELF, PE or Mach-O)")
	}
	f := &File{Format: fm, Size: size, b: &budget{ra: ra, left: lim.MaxRead}}
	err := f.Guard(func() error {
		var err error
		switch fm {
		case ELF:
			if f.ELF, err = elf.NewFile(f.b); err != nil {
				return fmt.Errorf("parse elf: %w", err)
			}
		case PE:
			if f.PE, err = pe.NewFile(f.b); err != nil {
				return fmt.Errorf("parse pe: %w", err)
			}
		case MachO:
			if f.MachO, err = macho.NewFile(f.b); err != nil {
				if _, ferr := macho.NewFatFile(f.b); ferr == nil {
					return errors.New("universal (fat) Mach-O binaries hold several programs: extract one architecture first (lipo -thin)")
				}
				return fmt.Errorf("parse macho: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// ReaderAt is the file as the parsers see it: reads count against
// Limits.MaxRead.
func (f *File) ReaderAt() io.ReaderAt { return f.b }

// Left is how many bytes the parsers may still read.
func (f *File) Left() int64 {
	f.b.mu.Lock()
	defer f.b.mu.Unlock()
	return f.b.left
}

// Guard runs fn, which calls into debug/* on this file, turning a panic
// into an error.
func (f *File) Guard(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed executable (%v)", r)
		}
	}()
	return fn()
}

// BuildInfo reads the Go build information. An error wrapping ErrBudget
// means the limit was hit; any other error means there is none.
func (f *File) BuildInfo() (bi *buildinfo.BuildInfo, err error) {
	err = f.Guard(func() error {
		var err error
		bi, err = buildinfo.Read(f.b)
		return err
	})
	return bi, err
}

// ReadAll reads r (a section's reader, say) through to its end, refusing
// more than max bytes.
func ReadAll(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("section over %d bytes", max)
	}
	return data, nil
}
