// Package exe reads the structure of executables and object files (ELF, PE,
// Mach-O) that compare needs to explain a difference: header fields,
// sections with their file and memory ranges, symbols with their extents,
// the functions of a Go binary (from its pclntab, so stripped binaries have
// them too), and Go build information.
//
// Files are opened through internal/exefile, the hardened reader compare
// shares with infer: files over Limits.File.MaxSize are not parsed, the
// debug/* parsers may read at most Limits.File.MaxRead bytes, symbol tables
// above Limits.MaxSymbols are skipped, and a panic inside debug/* becomes
// an error.
package exe

import (
	"debug/buildinfo"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/reprove/reprove/compare/format"
	"github.com/reprove/reprove/internal/exefile"
)

// Limits bound what parsing one file may consume.
type Limits struct {
	File        exefile.Limits // file size and bytes the debug/* parsers read
	MaxSymbols  int            // largest symbol table read
	MaxSections int            // most sections
	MaxPclntab  int64          // largest Go function table read into memory
}

// DefaultLimits are the shared reader's, and generous for symbol tables
// (a large Go binary has ~100k symbols; debug/elf holds them in memory).
func DefaultLimits() Limits {
	return Limits{File: exefile.DefaultLimits(), MaxSymbols: 1_000_000, MaxSections: 65535, MaxPclntab: 256 << 20}
}

// Field is one header field as text.
type Field struct {
	Name, Value string
}

// Section is a named range of the file and of the memory image.
type Section struct {
	Name   string
	Offset int64 // file offset
	Size   int64 // bytes in the file (0 for bss-like sections)
	Addr   uint64
	// MemSize is the section's size in memory (bss-like sections have no
	// file bytes but a size).
	MemSize uint64
	// Exec: the section holds code. Data: it holds data the program reads
	// (not headers, tables about the code, symbols or debug information).
	Exec, Data bool
	Fields     []Field // type, flags, alignment, virtual size, …
}

// Symbol is a function or data object with its extent.
type Symbol struct {
	Name    string
	Section string
	Addr    uint64
	Offset  int64 // file offset of its first byte
	Size    int64
	Func    bool
	// Sized: the symbol table gave the size (ELF); otherwise it runs to
	// the next symbol, which may be far (PE, Mach-O).
	Sized bool
	// Anonymous: no table names it; Name is made from its address
	// (sub_ADDR), so it differs between builds where the code moved.
	Anonymous bool
}

// File is what Parse found.
type File struct {
	Format format.Format
	// Arch is the instruction set in GOARCH spelling ("amd64", "arm64",
	// "386", …), or the format's own name for one Go does not know.
	Arch      string
	PtrSize   int
	ByteOrder binary.ByteOrder
	Header    []Field
	Sections  []Section
	// Symbols are the symbol table's functions and objects with a file
	// extent.
	Symbols   []Symbol
	BuildInfo *buildinfo.BuildInfo // nil unless a Go binary
	// SymbolsSkipped says why symbols are missing, when they are.
	SymbolsSkipped string
	// BuildID is the Go build ID; HasBuildID says whether one (maybe
	// empty, as with -buildid=) was found.
	BuildID    string
	HasBuildID bool
	// ModuledataAddr is where the runtime's moduledata starts (see
	// ModuledataSize), 0 when not found.
	ModuledataAddr uint64
	// PclntabAddr is where the Go function table starts when it lies in a
	// section shared with other data (PE), else 0.
	PclntabAddr uint64
	// Funcs are the functions with their extents, in address order: from
	// the Go pclntab when there is one (stripped or not), else the symbol
	// table's. FuncsFrom says which; FuncsSkipped why there are none.
	Funcs        []Symbol
	FuncsFrom    string
	FuncsSkipped string

	// native are the functions the unwind tables, dynamic symbols and
	// exports give a file without function symbols (see nativeELF).
	native []Symbol
}

// Parse reads the executable in ra. A malformed file is an error naming
// where; a stripped one just has no symbols.
func Parse(ra io.ReaderAt, size int64, f format.Format, lim Limits) (*File, error) {
	if f != format.ELF && f != format.PE && f != format.MachO {
		return nil, fmt.Errorf("parse executable: %v is not an executable format", f)
	}
	if size > lim.File.MaxSize {
		return nil, fmt.Errorf("parse %v: %d bytes is over the %d-byte limit for structural analysis", f, size, lim.File.MaxSize)
	}
	x, err := exefile.Open(ra, size, lim.File)
	if err != nil {
		return nil, fmt.Errorf("parse %v: %w", f, err)
	}
	var file *File
	err = x.Guard(func() error {
		var err error
		switch x.Format {
		case exefile.ELF:
			file, err = parseELF(x.ELF, lim)
		case exefile.PE:
			file, err = parsePE(x.PE, lim)
		default:
			file, err = parseMachO(x.MachO, lim)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("parse %v: %w", f, err)
	}
	if file.Format != f {
		return nil, fmt.Errorf("parse %v: the file is %v", f, file.Format)
	}
	if len(file.Sections) > lim.MaxSections {
		return nil, fmt.Errorf("parse %v: %d sections is over the limit of %d", f, len(file.Sections), lim.MaxSections)
	}
	for _, s := range file.Sections {
		// Sections without file bytes (bss, noptrbss, empty ones) may
		// record any offset, even one past the end of the file.
		if s.Size == 0 {
			continue
		}
		if s.Offset < 0 || s.Size < 0 || s.Offset > size || s.Size > size-s.Offset {
			return nil, fmt.Errorf("parse %v: section %q lies outside the file (offset %d, size %d, file %d bytes)", f, s.Name, s.Offset, s.Size, size)
		}
	}
	if bi, err := x.BuildInfo(); err == nil {
		file.BuildInfo = bi
	}
	file.goFuncs(ra, size, lim)
	if file.BuildInfo != nil || file.FuncsFrom == "pclntab" {
		file.readBuildID(ra, size)
	}
	return file, nil
}

var elfArch = map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_386: "386", elf.EM_AARCH64: "arm64", elf.EM_ARM: "arm",
	elf.EM_RISCV: "riscv64", elf.EM_PPC64: "ppc64", elf.EM_S390: "s390x", elf.EM_MIPS: "mips", elf.EM_LOONGARCH: "loong64"}

// elfMeta are sections whose bytes describe the code or the file rather
// than hold the program's data: compared as bytes, never as data words.
func elfMeta(name string) bool {
	for _, m := range []string{"gopclntab", ".go.module", "typelink", "itablink", "gosymtab", ".go.buildinfo", ".go.fipsinfo", ".note", ".debug", ".zdebug", ".rela", ".dyn", ".got", ".plt", ".interp", ".hash", ".gnu", ".eh_frame", ".symtab", ".strtab", ".shstrtab", ".init_array", ".fini_array"} {
		if strings.Contains(name, m) {
			return true
		}
	}
	return false
}

func parseELF(ef *elf.File, lim Limits) (*File, error) {
	out := &File{Format: format.ELF, Arch: elfArch[ef.Machine], ByteOrder: ef.ByteOrder, PtrSize: 8}
	if ef.Class == elf.ELFCLASS32 {
		out.PtrSize = 4
	}
	if out.Arch == "" {
		out.Arch = strings.ToLower(strings.TrimPrefix(ef.Machine.String(), "EM_"))
	}
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
		if s.Flags&elf.SHF_ALLOC != 0 {
			sec.MemSize = s.Size
			sec.Exec = s.Flags&elf.SHF_EXECINSTR != 0
			sec.Data = !sec.Exec && !elfMeta(s.Name)
		}
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
			if s.Value < sec.Addr || s.Value-sec.Addr > sec.Size || s.Size > sec.Size-(s.Value-sec.Addr) {
				continue
			}
			sym := Symbol{Name: s.Name, Section: sec.Name, Addr: s.Value, Size: int64(s.Size), Func: t == elf.STT_FUNC, Sized: true}
			if sec.Type != elf.SHT_NOBITS {
				if s.Value-sec.Addr+s.Size > sec.FileSize {
					continue
				}
				sym.Offset = int64(sec.Offset + s.Value - sec.Addr)
			}
			out.Symbols = append(out.Symbols, sym)
		}
	}
	hasFunc := false
	for _, s := range out.Symbols {
		hasFunc = hasFunc || s.Func
	}
	if !hasFunc {
		var objs []Symbol
		out.native, objs = nativeELF(ef, out)
		out.Symbols = append(out.Symbols, objs...)
	}
	return out, nil
}

const (
	peCode     = 0x20
	peUninit   = 0x80
	peExecute  = 0x20000000
	peDiscard  = 0x02000000
	peInitData = 0x40
)

var peArch = map[uint16]string{0x8664: "amd64", 0x14c: "386", 0xaa64: "arm64", 0x1c4: "arm"}

func parsePE(pf *pe.File, lim Limits) (*File, error) {
	out := &File{Format: format.PE, Arch: peArch[pf.FileHeader.Machine], ByteOrder: binary.LittleEndian, PtrSize: 4}
	if out.Arch == "" {
		out.Arch = fmt.Sprintf("pe-machine-%#x", pf.FileHeader.Machine)
	}
	fh := pf.FileHeader
	out.Header = []Field{
		{"machine", fmt.Sprintf("%#x", fh.Machine)}, {"timestamp", fmt.Sprint(fh.TimeDateStamp)},
		{"characteristics", fmt.Sprintf("%#x", fh.Characteristics)},
		{"symbol table", fmt.Sprintf("%#x (%d symbols)", fh.PointerToSymbolTable, fh.NumberOfSymbols)},
	}
	var dirs []pe.DataDirectory
	var base uint64
	switch oh := pf.OptionalHeader.(type) {
	case *pe.OptionalHeader32:
		base = uint64(oh.ImageBase)
		out.Header = append(out.Header, Field{"image base", fmt.Sprintf("%#x", oh.ImageBase)},
			Field{"entry", fmt.Sprintf("%#x", oh.AddressOfEntryPoint)}, Field{"checksum", fmt.Sprintf("%#x", oh.CheckSum)},
			Field{"subsystem", fmt.Sprint(oh.Subsystem)}, Field{"dll characteristics", fmt.Sprintf("%#x", oh.DllCharacteristics)},
			Field{"linker version", fmt.Sprintf("%d.%d", oh.MajorLinkerVersion, oh.MinorLinkerVersion)})
		dirs = oh.DataDirectory[:min(int(oh.NumberOfRvaAndSizes), len(oh.DataDirectory))]
	case *pe.OptionalHeader64:
		base = oh.ImageBase
		out.PtrSize = 8
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
		sec := Section{Name: s.Name, Offset: int64(s.Offset), Size: int64(s.Size), Addr: base + uint64(s.VirtualAddress),
			MemSize: uint64(s.VirtualSize),
			Fields: []Field{{"virtual address", fmt.Sprintf("%#x", s.VirtualAddress)}, {"virtual size", fmt.Sprint(s.VirtualSize)},
				{"raw size", fmt.Sprint(s.Size)}, {"characteristics", fmt.Sprintf("%#x", s.Characteristics)}}}
		if s.Characteristics&peUninit != 0 && s.Characteristics&(peCode|peInitData) == 0 {
			sec.Size = 0
		}
		if s.Characteristics&peDiscard == 0 {
			sec.Exec = s.Characteristics&(peExecute|peCode) != 0
			sec.Data = !sec.Exec && (s.Name == ".data" || s.Name == ".rdata" || s.Name == ".bss" || s.Name == ".noptrdata")
		}
		out.Sections = append(out.Sections, sec)
	}
	if int(fh.NumberOfSymbols) > lim.MaxSymbols {
		out.SymbolsSkipped = fmt.Sprintf("symbol table over the %d-symbol limit", lim.MaxSymbols)
		return out, nil
	}
	if len(pf.Symbols) == 0 {
		out.SymbolsSkipped = "no COFF symbol table"
		out.native = nativePE(pf, base, dirs)
	}
	var syms []Symbol
	for _, s := range pf.Symbols {
		if s.SectionNumber <= 0 || int(s.SectionNumber) > len(pf.Sections) || (s.StorageClass != 2 && s.StorageClass != 3) {
			continue
		}
		sec := pf.Sections[s.SectionNumber-1]
		syms = append(syms, Symbol{Name: s.Name, Section: sec.Name, Addr: base + uint64(sec.VirtualAddress) + uint64(s.Value), Offset: int64(sec.Offset) + int64(s.Value),
			Func: sec.Characteristics&(peExecute|peCode) != 0})
	}
	out.Symbols = sizeByNext(syms, out.Sections)
	return out, nil
}

var peDirNames = [16]string{"export", "import", "resource", "exception", "certificate", "base relocation", "debug", "architecture", "global ptr", "tls", "load config", "bound import", "iat", "delay import", "clr runtime", "reserved"}

var machoArch = map[macho.Cpu]string{macho.CpuAmd64: "amd64", macho.Cpu386: "386", macho.CpuArm64: "arm64", macho.CpuArm: "arm", macho.CpuPpc64: "ppc64"}

func parseMachO(mf *macho.File, lim Limits) (*File, error) {
	out := &File{Format: format.MachO, Arch: machoArch[mf.Cpu], ByteOrder: mf.ByteOrder, PtrSize: 4}
	if mf.Magic == macho.Magic64 {
		out.PtrSize = 8
	}
	if out.Arch == "" {
		out.Arch = strings.ToLower(mf.Cpu.String())
	}
	out.Header = []Field{{"cpu", mf.Cpu.String()}, {"subcpu", fmt.Sprintf("%#x", mf.SubCpu)}, {"type", mf.Type.String()},
		{"flags", fmt.Sprintf("%#x", mf.Flags)}, {"load commands", fmt.Sprint(mf.Ncmd)}}
	for _, s := range mf.Sections {
		name := s.Seg + "," + s.Name
		sec := Section{Name: name, Offset: int64(s.Offset), Size: int64(s.Size), Addr: s.Addr, MemSize: s.Size,
			Fields: []Field{{"addr", fmt.Sprintf("%#x", s.Addr)}, {"size", fmt.Sprint(s.Size)}, {"flags", fmt.Sprintf("%#x", s.Flags)}}}
		if s.Flags&0xff == 0x1 || s.Flags&0xff == 0xc { // S_ZEROFILL, S_GB_ZEROFILL: no file bytes
			sec.Size = 0
		}
		sec.Exec = s.Flags&0x80000400 != 0 // S_ATTR_PURE_INSTRUCTIONS, S_ATTR_SOME_INSTRUCTIONS
		sec.Data = !sec.Exec && s.Seg != "__DWARF" && s.Seg != "__LINKEDIT" && !strings.Contains(s.Name, "pclntab") &&
			!strings.Contains(s.Name, "typelink") && !strings.Contains(s.Name, "itablink") && !strings.Contains(s.Name, "gosymtab") &&
			!strings.HasPrefix(s.Name, "__go_") && s.Name != "__got" && !strings.HasPrefix(s.Name, "__la_symbol") && !strings.HasPrefix(s.Name, "__nl_symbol")
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
		syms = append(syms, Symbol{Name: s.Name, Section: ms.Seg + "," + ms.Name, Addr: s.Value, Offset: int64(ms.Offset) + int64(s.Value-ms.Addr),
			Func: ms.Flags&0x80000400 != 0})
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
