// Package exe reads the structure of executables and object files (ELF, PE,
// Mach-O) that compare needs to explain a difference: header fields,
// sections with their file ranges, symbols with their extents, and Go build
// information.
//
// Go's debug/* packages are not hardened against adversarial input, so
// Parse bounds them: files above Limits.MaxSize are not parsed, symbol
// tables above Limits.MaxSymbols are skipped, and a panic inside debug/*
// becomes an error.
package exe

import (
	"debug/buildinfo"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"fmt"
	"io"
	"sort"

	"github.com/reprove/reprove/compare/format"
)

// Limits bound what the debug/* parsers may consume.
type Limits struct {
	MaxSize     int64 // largest file parsed at all
	MaxSymbols  int   // largest symbol table read
	MaxSections int   // most sections
}

// DefaultLimits are generous for real binaries (a large Go binary has
// ~100k symbols) and keep debug/elf's symbol table, which it holds in
// memory, near 100 MB at most.
func DefaultLimits() Limits {
	return Limits{MaxSize: 4 << 30, MaxSymbols: 1_000_000, MaxSections: 65535}
}

// Field is one header field as text.
type Field struct {
	Name, Value string
}

// Section is a named file range.
type Section struct {
	Name   string
	Offset int64 // file offset
	Size   int64 // bytes in the file (0 for bss-like sections)
	Addr   uint64
	Fields []Field // type, flags, alignment, virtual size, …
}

// Symbol is a function or data object with its extent in the file.
type Symbol struct {
	Name    string
	Section string
	Addr    uint64
	Offset  int64 // file offset of its first byte
	Size    int64
}

// File is what Parse found.
type File struct {
	Format    format.Format
	Header    []Field
	Sections  []Section
	Symbols   []Symbol
	BuildInfo *buildinfo.BuildInfo // nil unless a Go binary
	// SymbolsSkipped says why symbols are missing, when they are.
	SymbolsSkipped string
}

// Parse reads the executable in ra. A malformed file is an error naming
// where; a stripped one just has no symbols.
func Parse(ra io.ReaderAt, size int64, f format.Format, lim Limits) (file *File, err error) {
	if size > lim.MaxSize {
		return nil, fmt.Errorf("parse %v: %d bytes is over the %d-byte limit for structural analysis", f, size, lim.MaxSize)
	}
	defer func() {
		if r := recover(); r != nil {
			file, err = nil, fmt.Errorf("parse %v: malformed file (parser panic: %v)", f, r)
		}
	}()
	switch f {
	case format.ELF:
		file, err = parseELF(ra, lim)
	case format.PE:
		file, err = parsePE(ra, lim)
	case format.MachO:
		file, err = parseMachO(ra, lim)
	default:
		return nil, fmt.Errorf("parse executable: %v is not an executable format", f)
	}
	if err != nil {
		return nil, err
	}
	if len(file.Sections) > lim.MaxSections {
		return nil, fmt.Errorf("parse %v: %d sections is over the limit of %d", f, len(file.Sections), lim.MaxSections)
	}
	for _, s := range file.Sections {
		if s.Offset < 0 || s.Size < 0 || s.Offset > size || s.Size > size-s.Offset {
			return nil, fmt.Errorf("parse %v: section %q lies outside the file (offset %d, size %d, file %d bytes)", f, s.Name, s.Offset, s.Size, size)
		}
	}
	if bi, err := buildinfo.Read(ra); err == nil {
		file.BuildInfo = bi
	}
	return file, nil
}

func parseELF(ra io.ReaderAt, lim Limits) (*File, error) {
	ef, err := elf.NewFile(ra)
	if err != nil {
		return nil, fmt.Errorf("parse elf: %w", err)
	}
	out := &File{Format: format.ELF}
	out.Header = []Field{
		{"class", ef.Class.String()}, {"data", ef.Data.String()}, {"osabi", ef.OSABI.String()},
		{"abi version", fmt.Sprint(ef.ABIVersion)}, {"type", ef.Type.String()},
		{"machine", ef.Machine.String()}, {"entry", fmt.Sprintf("%#x", ef.Entry)},
	}
	for i, p := range ef.Progs {
		out.Header = append(out.Header, Field{
			fmt.Sprintf("program header %d", i),
			fmt.Sprintf("%v %v off=%#x vaddr=%#x filesz=%#x memsz=%#x align=%#x", p.Type, p.Flags, p.Off, p.Vaddr, p.Filesz, p.Memsz, p.Align),
		})
	}
	for _, s := range ef.Sections {
		if s.Name == "" && s.Type == elf.SHT_NULL {
			continue
		}
		sec := Section{Name: s.Name, Offset: int64(s.Offset), Addr: s.Addr, Fields: []Field{
			{"type", s.Type.String()}, {"flags", s.Flags.String()}, {"addr", fmt.Sprintf("%#x", s.Addr)},
			{"size", fmt.Sprint(s.Size)}, {"align", fmt.Sprint(s.Addralign)}, {"link", fmt.Sprint(s.Link)},
			{"info", fmt.Sprint(s.Info)}, {"entsize", fmt.Sprint(s.Entsize)},
		}}
		if s.Type != elf.SHT_NOBITS {
			sec.Size = int64(s.FileSize)
		}
		out.Sections = append(out.Sections, sec)
	}
	st := ef.SectionByType(elf.SHT_SYMTAB)
	switch {
	case st == nil:
		out.SymbolsSkipped = "stripped (no .symtab)"
	case st.Size/24 > uint64(lim.MaxSymbols):
		out.SymbolsSkipped = fmt.Sprintf("symbol table over the %d-symbol limit", lim.MaxSymbols)
	default:
		syms, err := ef.Symbols()
		if err != nil {
			return nil, fmt.Errorf("parse elf symbols: %w", err)
		}
		for _, s := range syms {
			t := elf.ST_TYPE(s.Info)
			if (t != elf.STT_FUNC && t != elf.STT_OBJECT) || s.Section >= elf.SHN_LORESERVE || int(s.Section) >= len(ef.Sections) || s.Size == 0 {
				continue
			}
			sec := ef.Sections[s.Section]
			if sec.Type == elf.SHT_NOBITS || s.Value < sec.Addr || s.Value-sec.Addr+s.Size > sec.FileSize {
				continue
			}
			out.Symbols = append(out.Symbols, Symbol{Name: s.Name, Section: sec.Name, Addr: s.Value,
				Offset: int64(sec.Offset + s.Value - sec.Addr), Size: int64(s.Size)})
		}
	}
	return out, nil
}

func parsePE(ra io.ReaderAt, lim Limits) (*File, error) {
	pf, err := pe.NewFile(ra)
	if err != nil {
		return nil, fmt.Errorf("parse pe: %w", err)
	}
	out := &File{Format: format.PE}
	fh := pf.FileHeader
	out.Header = []Field{
		{"machine", fmt.Sprintf("%#x", fh.Machine)}, {"timestamp", fmt.Sprint(fh.TimeDateStamp)},
		{"characteristics", fmt.Sprintf("%#x", fh.Characteristics)},
		{"symbol table", fmt.Sprintf("%#x (%d symbols)", fh.PointerToSymbolTable, fh.NumberOfSymbols)},
	}
	var dirs []pe.DataDirectory
	switch oh := pf.OptionalHeader.(type) {
	case *pe.OptionalHeader32:
		out.Header = append(out.Header, Field{"image base", fmt.Sprintf("%#x", oh.ImageBase)},
			Field{"entry", fmt.Sprintf("%#x", oh.AddressOfEntryPoint)}, Field{"checksum", fmt.Sprintf("%#x", oh.CheckSum)},
			Field{"subsystem", fmt.Sprint(oh.Subsystem)}, Field{"dll characteristics", fmt.Sprintf("%#x", oh.DllCharacteristics)},
			Field{"linker version", fmt.Sprintf("%d.%d", oh.MajorLinkerVersion, oh.MinorLinkerVersion)})
		dirs = oh.DataDirectory[:min(int(oh.NumberOfRvaAndSizes), len(oh.DataDirectory))]
	case *pe.OptionalHeader64:
		out.Header = append(out.Header, Field{"image base", fmt.Sprintf("%#x", oh.ImageBase)},
			Field{"entry", fmt.Sprintf("%#x", oh.AddressOfEntryPoint)}, Field{"checksum", fmt.Sprintf("%#x", oh.CheckSum)},
			Field{"subsystem", fmt.Sprint(oh.Subsystem)}, Field{"dll characteristics", fmt.Sprintf("%#x", oh.DllCharacteristics)},
			Field{"linker version", fmt.Sprintf("%d.%d", oh.MajorLinkerVersion, oh.MinorLinkerVersion)})
		dirs = oh.DataDirectory[:min(int(oh.NumberOfRvaAndSizes), len(oh.DataDirectory))]
	}
	for i, d := range dirs {
		out.Header = append(out.Header, Field{fmt.Sprintf("data directory %d (%s)", i, peDirNames[i]), fmt.Sprintf("%#x+%#x", d.VirtualAddress, d.Size)})
	}
	for _, s := range pf.Sections {
		out.Sections = append(out.Sections, Section{Name: s.Name, Offset: int64(s.Offset), Size: int64(s.Size), Addr: uint64(s.VirtualAddress),
			Fields: []Field{{"virtual address", fmt.Sprintf("%#x", s.VirtualAddress)}, {"virtual size", fmt.Sprint(s.VirtualSize)},
				{"raw size", fmt.Sprint(s.Size)}, {"characteristics", fmt.Sprintf("%#x", s.Characteristics)}}})
	}
	if int(fh.NumberOfSymbols) > lim.MaxSymbols {
		out.SymbolsSkipped = fmt.Sprintf("symbol table over the %d-symbol limit", lim.MaxSymbols)
		return out, nil
	}
	if len(pf.Symbols) == 0 {
		out.SymbolsSkipped = "no COFF symbol table"
	}
	var syms []Symbol
	for _, s := range pf.Symbols {
		if s.SectionNumber <= 0 || int(s.SectionNumber) > len(pf.Sections) || (s.StorageClass != 2 && s.StorageClass != 3) {
			continue
		}
		sec := pf.Sections[s.SectionNumber-1]
		syms = append(syms, Symbol{Name: s.Name, Section: sec.Name, Addr: uint64(sec.VirtualAddress) + uint64(s.Value), Offset: int64(sec.Offset) + int64(s.Value)})
	}
	out.Symbols = sizeByNext(syms, out.Sections)
	return out, nil
}

var peDirNames = [16]string{"export", "import", "resource", "exception", "certificate", "base relocation", "debug", "architecture", "global ptr", "tls", "load config", "bound import", "iat", "delay import", "clr runtime", "reserved"}

func parseMachO(ra io.ReaderAt, lim Limits) (*File, error) {
	mf, err := macho.NewFile(ra)
	if err != nil {
		if _, ferr := macho.NewFatFile(ra); ferr == nil {
			return nil, fmt.Errorf("parse macho: universal (fat) binaries are compared byte by byte only")
		}
		return nil, fmt.Errorf("parse macho: %w", err)
	}
	out := &File{Format: format.MachO}
	out.Header = []Field{{"cpu", mf.Cpu.String()}, {"subcpu", fmt.Sprintf("%#x", mf.SubCpu)}, {"type", mf.Type.String()},
		{"flags", fmt.Sprintf("%#x", mf.Flags)}, {"load commands", fmt.Sprint(mf.Ncmd)}}
	for _, s := range mf.Sections {
		name := s.Seg + "," + s.Name
		sec := Section{Name: name, Offset: int64(s.Offset), Size: int64(s.Size), Addr: s.Addr,
			Fields: []Field{{"addr", fmt.Sprintf("%#x", s.Addr)}, {"size", fmt.Sprint(s.Size)}, {"flags", fmt.Sprintf("%#x", s.Flags)}}}
		if s.Flags&0xff == 0x1 || s.Flags&0xff == 0xc { // S_ZEROFILL, S_GB_ZEROFILL: no file bytes
			sec.Size = 0
		}
		out.Sections = append(out.Sections, sec)
	}
	if mf.Symtab == nil {
		out.SymbolsSkipped = "no symbol table"
		return out, nil
	}
	if len(mf.Symtab.Syms) > lim.MaxSymbols {
		out.SymbolsSkipped = fmt.Sprintf("symbol table over the %d-symbol limit", lim.MaxSymbols)
		return out, nil
	}
	var syms []Symbol
	for _, s := range mf.Symtab.Syms {
		if s.Sect == 0 || int(s.Sect) > len(mf.Sections) || s.Type&0x0e != 0x0e { // N_SECT
			continue
		}
		ms := mf.Sections[s.Sect-1]
		if s.Value < ms.Addr {
			continue
		}
		syms = append(syms, Symbol{Name: s.Name, Section: ms.Seg + "," + ms.Name, Addr: s.Value, Offset: int64(ms.Offset) + int64(s.Value-ms.Addr)})
	}
	out.Symbols = sizeByNext(syms, out.Sections)
	return out, nil
}

// sizeByNext gives each symbol the extent up to the next symbol (or the
// end of its section), for formats whose symbol tables carry no sizes.
func sizeByNext(syms []Symbol, secs []Section) []Symbol {
	end := map[string]int64{}
	for _, s := range secs {
		end[s.Name] = s.Offset + s.Size
	}
	sort.SliceStable(syms, func(i, j int) bool {
		if syms[i].Section != syms[j].Section {
			return syms[i].Section < syms[j].Section
		}
		return syms[i].Offset < syms[j].Offset
	})
	out := syms[:0]
	for i, s := range syms {
		limit := end[s.Section]
		if i+1 < len(syms) && syms[i+1].Section == s.Section {
			limit = syms[i+1].Offset
		}
		s.Size = limit - s.Offset
		if s.Size <= 0 || s.Offset+s.Size > end[s.Section] {
			continue
		}
		out = append(out, s)
	}
	return out
}
