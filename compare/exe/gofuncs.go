package exe

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/reprove/reprove/compare/format"
	"github.com/reprove/reprove/compare/pclntab"
)

// goFuncs sets Funcs: from the pclntab when the file has one, else from
// the symbol table.
func (f *File) goFuncs(ra io.ReaderAt, size int64, lim Limits) {
	fs, err := f.pclnFuncs(ra, lim)
	switch {
	case err == nil && len(fs) > 0:
		f.Funcs, f.FuncsFrom = fs, "pclntab"
		return
	case err != nil && f.BuildInfo != nil:
		f.FuncsSkipped = err.Error()
	}
	for _, s := range f.Symbols {
		if s.Func && s.Size > 0 {
			f.Funcs = append(f.Funcs, s)
		}
	}
	sort.SliceStable(f.Funcs, func(i, j int) bool { return f.Funcs[i].Addr < f.Funcs[j].Addr })
	switch {
	case len(f.Funcs) > 0:
		f.FuncsFrom, f.FuncsSkipped = "symbol table", ""
	case len(f.native) > 0:
		f.Funcs, f.FuncsFrom, f.FuncsSkipped = f.native, FromUnwind, ""
	case f.FuncsSkipped == "":
		f.FuncsSkipped = "no Go function table, no function symbols and no unwind table"
	}
}

// section returns the section with the given name, or nil.
func (f *File) section(name string) *Section {
	for i := range f.Sections {
		if f.Sections[i].Name == name {
			return &f.Sections[i]
		}
	}
	return nil
}

// SectionAt returns the section whose memory range holds addr, or nil.
func (f *File) SectionAt(addr uint64) *Section {
	for i := range f.Sections {
		s := &f.Sections[i]
		if s.MemSize > 0 && addr >= s.Addr && addr-s.Addr < s.MemSize {
			return s
		}
	}
	return nil
}

func readRange(ra io.ReaderAt, off, n int64) ([]byte, error) {
	if off < 0 || n < 0 {
		return nil, fmt.Errorf("bad range %d+%d", off, n)
	}
	buf := make([]byte, n)
	if _, err := ra.ReadAt(buf, off); err != nil && !(err == io.EOF && n == 0) {
		return nil, err
	}
	return buf, nil
}

// pclnFuncs finds the pclntab and decodes it. The table has a section of
// its own in ELF and Mach-O files; in PE files it lies inside .rdata,
// named by the symbol runtime.pclntab unless the binary is stripped, when
// its header's magic number finds it.
func (f *File) pclnFuncs(ra io.ReaderAt, lim Limits) ([]Symbol, error) {
	var data []byte
	var where string
	read := func(s *Section, from int64) error {
		if s.Size-from > lim.MaxPclntab {
			return fmt.Errorf("the Go function table in %s is over the %d-byte limit", s.Name, lim.MaxPclntab)
		}
		var err error
		data, err = readRange(ra, s.Offset+from, s.Size-from)
		where = s.Name
		if s.Data {
			f.PclntabAddr = s.Addr + uint64(from)
		}
		return err
	}
	for i := range f.Sections {
		s := &f.Sections[i]
		if strings.HasSuffix(s.Name, "gopclntab") && s.Size > 0 {
			if err := read(s, 0); err != nil {
				return nil, err
			}
			break
		}
	}
	if data == nil && f.Format == format.PE {
		for _, sym := range f.Symbols {
			if sym.Name == "runtime.pclntab" {
				if s := f.section(sym.Section); s != nil && sym.Offset >= s.Offset {
					if err := read(s, sym.Offset-s.Offset); err != nil {
						return nil, err
					}
				}
				break
			}
		}
	}
	if data == nil && f.BuildInfo != nil {
		// Search the read-only data of a Go binary for the header.
		for i := range f.Sections {
			s := &f.Sections[i]
			if !s.Data || s.Size == 0 || s.Size > lim.MaxPclntab {
				continue
			}
			buf, err := readRange(ra, s.Offset, s.Size)
			if err != nil {
				return nil, err
			}
			if at := pclntab.Find(buf); at >= 0 {
				data, where = buf[at:], s.Name
				f.PclntabAddr = s.Addr + uint64(at)
				break
			}
		}
	}
	if data == nil {
		return nil, fmt.Errorf("no Go function table (pclntab) found")
	}
	h, err := pclntab.ParseHeader(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	text, ok := f.textStart(h)
	if !ok {
		return nil, fmt.Errorf("%s: no text section for the Go function table", where)
	}
	fs, err := pclntab.Funcs(data, text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	tab := f.PclntabAddr
	if tab == 0 {
		if s := f.section(where); s != nil {
			tab = s.Addr
		}
	}
	f.findModuledata(ra, tab, h)
	out := make([]Symbol, 0, len(fs))
	for _, fn := range fs {
		s := f.SectionAt(fn.Entry)
		if s == nil || !s.Exec || s.Size == 0 {
			continue
		}
		end := min(fn.End, s.Addr+uint64(s.Size))
		if end <= fn.Entry {
			continue
		}
		out = append(out, Symbol{Name: fn.Name, Section: s.Name, Addr: fn.Entry, Offset: s.Offset + int64(fn.Entry-s.Addr), Size: int64(end - fn.Entry), Func: true, Sized: true})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no function of the Go function table lies in the text", where)
	}
	return out, nil
}

// textStart returns the address the table's offsets count from: the one
// its header records when that lies in code (Go 1.18 and later; it differs
// from the start of .text when C code comes first, as in an externally
// linked binary), else the start of the code section.
func (f *File) textStart(h pclntab.Header) (uint64, bool) {
	if h.TextStart != 0 {
		if s := f.SectionAt(h.TextStart); s != nil && s.Exec {
			return h.TextStart, true
		}
	}
	for _, n := range []string{".text", "__TEXT,__text"} {
		if s := f.section(n); s != nil && s.Exec {
			return s.Addr, true
		}
	}
	return 0, false
}

// readBuildID sets BuildID: the Go build ID from ELF's .note.go.buildid,
// or from the marker the linker writes at the start of the text ("\xff Go
// build ID: \"…\"\n \xff"), which the go command itself looks for in the
// first 32 KiB.
func (f *File) readBuildID(ra io.ReaderAt, size int64) {
	if s := f.section(".note.go.buildid"); s != nil && s.Size >= 16 && s.Size <= 4096 {
		if b, err := readRange(ra, s.Offset, s.Size); err == nil {
			n := int(f.ByteOrder.Uint32(b[4:8]))
			if string(b[12:16]) == "Go\x00\x00" && n <= len(b)-16 {
				f.BuildID, f.HasBuildID = string(b[16:16+n]), true
				return
			}
		}
	}
	const prefix, suffix = "\xff Go build ID: \"", "\"\n \xff"
	head, err := readRange(ra, 0, min(size, 32<<10))
	if err != nil {
		return
	}
	if i := bytes.Index(head, []byte(prefix)); i >= 0 {
		rest := head[i+len(prefix):]
		if j := bytes.Index(rest, []byte(suffix)); j >= 0 {
			f.BuildID, f.HasBuildID = string(rest[:j]), true
		}
	}
}

// ModuledataSize bounds the runtime's moduledata (runtime/symtab.go): 592
// bytes in Go 1.26; a little room for other versions.
const ModuledataSize = 640

// findModuledata sets ModuledataAddr: the runtime's table of where
// everything is (pclntab, text, data, types), found in the data by its
// first two words, the addresses of the pclntab and of its function
// names. It changes whenever anything moves, so compare treats it as
// derived.
func (f *File) findModuledata(ra io.ReaderAt, tab uint64, h pclntab.Header) {
	if tab == 0 || h.FuncnameOffset == 0 || (f.PtrSize != 4 && f.PtrSize != 8) || f.ByteOrder == nil {
		return
	}
	word := func(b []byte) uint64 {
		if f.PtrSize == 4 {
			return uint64(f.ByteOrder.Uint32(b))
		}
		return f.ByteOrder.Uint64(b)
	}
	for _, s := range f.Sections {
		if s.Size == 0 || s.MemSize == 0 || s.Exec || s.Size > 64<<20 {
			continue
		}
		if !s.Data && !strings.Contains(s.Name, "module") {
			continue
		}
		b, err := readRange(ra, s.Offset, s.Size)
		if err != nil {
			return
		}
		for off := 0; off+2*f.PtrSize <= len(b); off += f.PtrSize {
			if word(b[off:]) == tab && word(b[off+f.PtrSize:]) == tab+h.FuncnameOffset {
				f.ModuledataAddr = s.Addr + uint64(off)
				return
			}
		}
	}
}
