package exe

import (
	"debug/elf"
	"debug/pe"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"github.com/reprove/reprove/compare/unwind"
)

// Where native functions come from (File.FuncsFrom).
const (
	FromUnwind = "unwind table"
)

// maxUnwindTable bounds the unwind section read into memory.
const maxUnwindTable = 64 << 20

// nativeELF finds the functions of an ELF file that has no function
// symbols (stripped C, C++, Rust …): each FDE of .eh_frame is one function;
// exported ones are named by the dynamic symbol table, PLT stubs by the
// relocations they jump through, the entry point is _start and, where
// _start hands main to __libc_start_main as glibc's does, main is found
// there. The rest are named sub_ADDR, after their address.
func nativeELF(ef *elf.File, out *File) ([]Symbol, []Symbol) {
	var funcs, objs []Symbol
	named := map[uint64]string{}
	if dyn, err := ef.DynamicSymbols(); err == nil && len(dyn) <= maxDynSyms {
		for _, s := range dyn {
			t := elf.ST_TYPE(s.Info)
			if s.Section == elf.SHN_UNDEF || s.Section >= elf.SHN_LORESERVE || int(s.Section) >= len(ef.Sections) || s.Size == 0 {
				continue
			}
			sec := ef.Sections[s.Section]
			if s.Value < sec.Addr || s.Value-sec.Addr > sec.Size || s.Size > sec.Size-(s.Value-sec.Addr) {
				continue
			}
			sym := Symbol{Name: s.Name, Section: sec.Name, Addr: s.Value, Size: int64(s.Size), Func: t == elf.STT_FUNC, Sized: true}
			if sec.Type != elf.SHT_NOBITS {
				sym.Offset = int64(sec.Offset + s.Value - sec.Addr)
			}
			switch t {
			case elf.STT_FUNC:
				if _, dup := named[s.Value]; !dup {
					named[s.Value] = s.Name
					funcs = append(funcs, sym)
				}
			case elf.STT_OBJECT:
				objs = append(objs, sym)
			}
		}
	}
	var ranges []unwind.Range
	if sec := ef.Section(".eh_frame"); sec != nil && sec.Type != elf.SHT_NOBITS && sec.Size <= maxUnwindTable {
		if data, err := sec.Data(); err == nil {
			ranges, err = unwind.EHFrame(data, sec.Addr, out.PtrSize, ef.ByteOrder)
			if err != nil {
				out.FuncsSkipped = ".eh_frame: " + err.Error()
			}
		}
	}
	if n := pltNames(ef); len(n) > 0 {
		for addr, name := range n {
			if s := sectionAt(ef, addr); s != nil {
				funcs = append(funcs, Symbol{Name: name, Section: s.Name, Addr: addr, Offset: int64(s.Offset + addr - s.Addr), Size: 16, Func: true, Sized: true})
				named[addr] = name
			}
		}
	}
	if _, ok := named[ef.Entry]; !ok {
		named[ef.Entry] = "_start"
	}
	if m, ok := mainFromStart(ef, ef.Entry); ok {
		if _, taken := named[m]; !taken {
			named[m] = "main"
		}
	}
	for _, r := range ranges {
		s := sectionAt(ef, r.Start)
		if s == nil || s.Flags&elf.SHF_EXECINSTR == 0 || r.Size > s.Size-(r.Start-s.Addr) {
			continue
		}
		name, ok := named[r.Start]
		if ok && name != "_start" && name != "main" {
			continue // a dynamic symbol already gives it, with its size
		}
		sym := Symbol{Name: name, Section: s.Name, Addr: r.Start, Offset: int64(s.Offset + r.Start - s.Addr), Size: int64(r.Size), Func: true, Sized: true}
		if !ok {
			sym.Name, sym.Anonymous = fmt.Sprintf("sub_%x", r.Start), true
		}
		funcs = append(funcs, sym)
	}
	sort.SliceStable(funcs, func(i, j int) bool { return funcs[i].Addr < funcs[j].Addr })
	return funcs, objs
}

// maxDynSyms bounds the dynamic symbol table read.
const maxDynSyms = 1 << 20

func sectionAt(ef *elf.File, addr uint64) *elf.Section {
	for _, s := range ef.Sections {
		if s.Flags&elf.SHF_ALLOC != 0 && addr >= s.Addr && addr-s.Addr < s.Size {
			return s
		}
	}
	return nil
}

// pltNames names the stubs of .plt.sec, or of .plt after its first
// entry, after the symbols their .rela.plt relocations name, in order:
// the linker writes one stub per relocation (x86-64, 16-byte stubs).
func pltNames(ef *elf.File) map[uint64]string {
	if ef.Machine != elf.EM_X86_64 || ef.Class != elf.ELFCLASS64 {
		return nil
	}
	rel := ef.Section(".rela.plt")
	if rel == nil || rel.Size > maxUnwindTable || rel.Size%24 != 0 {
		return nil
	}
	data, err := rel.Data()
	if err != nil {
		return nil
	}
	dyn, err := ef.DynamicSymbols()
	if err != nil {
		return nil
	}
	stubs, first := ef.Section(".plt.sec"), uint64(0)
	if stubs == nil {
		stubs, first = ef.Section(".plt"), 16
	}
	if stubs == nil {
		return nil
	}
	out := map[uint64]string{}
	for i := 0; i+24 <= len(data); i += 24 {
		info := binary.LittleEndian.Uint64(data[i+8:])
		if elf.R_X86_64(info&0xffffffff) != elf.R_X86_64_JMP_SLOT {
			continue
		}
		sym := info >> 32
		if sym == 0 || sym > uint64(len(dyn)) {
			continue
		}
		addr := stubs.Addr + first + uint64(i/24)*16
		if addr+16 > stubs.Addr+stubs.Size {
			break
		}
		out[addr] = dyn[sym-1].Name + "@plt"
	}
	return out
}

// mainFromStart finds main in glibc's x86-64 _start, which passes it to
// __libc_start_main in RDI: LEA RDI, [RIP+disp32] in position-independent
// executables, MOV RDI, imm32 otherwise; the first such instruction in
// _start's first 64 bytes.
func mainFromStart(ef *elf.File, entry uint64) (uint64, bool) {
	if ef.Machine != elf.EM_X86_64 {
		return 0, false
	}
	s := sectionAt(ef, entry)
	if s == nil || s.Type == elf.SHT_NOBITS {
		return 0, false
	}
	code := make([]byte, 64)
	n, _ := s.ReadAt(code, int64(entry-s.Addr))
	code = code[:n]
	for i := 0; i+7 <= len(code); i++ {
		switch {
		case code[i] == 0x48 && code[i+1] == 0x8d && code[i+2] == 0x3d:
			disp := int64(int32(binary.LittleEndian.Uint32(code[i+3:])))
			return uint64(int64(entry) + int64(i) + 7 + disp), true
		case code[i] == 0x48 && code[i+1] == 0xc7 && code[i+2] == 0xc7:
			return uint64(binary.LittleEndian.Uint32(code[i+3:])), true
		}
	}
	return 0, false
}

// nativePE finds the functions of a PE image without COFF symbols from
// its exception directory (.pdata), naming exported ones from the export
// directory and the rest sub_ADDR.
func nativePE(pf *pe.File, base uint64, dirs []pe.DataDirectory) []Symbol {
	if len(dirs) <= 3 || dirs[3].Size == 0 {
		return nil
	}
	d := dirs[3]
	data, sec := peRange(pf, d.VirtualAddress, d.Size)
	if data == nil {
		return nil
	}
	var ranges []unwind.Range
	var err error
	switch pf.FileHeader.Machine {
	case 0x8664:
		ranges, err = unwind.PData(data, base)
	case 0xaa64:
		ranges, err = unwind.PDataARM64(data, base)
	default:
		return nil
	}
	if err != nil || sec == nil {
		return nil
	}
	exports := peExports(pf, base, dirs)
	var out []Symbol
	for i, r := range ranges {
		s := peSectionAt(pf, base, r.Start)
		if s == nil {
			continue
		}
		size := r.Size
		if size == 0 && i+1 < len(ranges) {
			size = ranges[i+1].Start - r.Start
		}
		off := r.Start - base - uint64(s.VirtualAddress)
		if size == 0 || off+size > uint64(s.Size) {
			continue
		}
		sym := Symbol{Name: exports[r.Start], Section: s.Name, Addr: r.Start, Offset: int64(uint64(s.Offset) + off), Size: int64(size), Func: true, Sized: true}
		if sym.Name == "" {
			sym.Name, sym.Anonymous = fmt.Sprintf("sub_%x", r.Start), true
		}
		out = append(out, sym)
	}
	return out
}

func peSectionAt(pf *pe.File, base, addr uint64) *pe.Section {
	for _, s := range pf.Sections {
		start := base + uint64(s.VirtualAddress)
		if addr >= start && addr-start < uint64(max(s.VirtualSize, s.Size)) {
			return s
		}
	}
	return nil
}

// peRange returns the file bytes of an RVA range and its section.
func peRange(pf *pe.File, rva, size uint32) ([]byte, *pe.Section) {
	if size > maxUnwindTable {
		return nil, nil
	}
	for _, s := range pf.Sections {
		if rva >= s.VirtualAddress && rva-s.VirtualAddress < s.Size && size <= s.Size-(rva-s.VirtualAddress) {
			b := make([]byte, size)
			if _, err := s.ReadAt(b, int64(rva-s.VirtualAddress)); err != nil {
				return nil, nil
			}
			return b, s
		}
	}
	return nil, nil
}

// peExports maps exported functions' addresses to their names.
func peExports(pf *pe.File, base uint64, dirs []pe.DataDirectory) map[uint64]string {
	out := map[uint64]string{}
	if len(dirs) == 0 || dirs[0].Size < 40 {
		return out
	}
	d, _ := peRange(pf, dirs[0].VirtualAddress, dirs[0].Size)
	if d == nil {
		return out
	}
	le := binary.LittleEndian
	nFuncs, nNames := le.Uint32(d[20:]), le.Uint32(d[24:])
	funcsRVA, namesRVA, ordsRVA := le.Uint32(d[28:]), le.Uint32(d[32:]), le.Uint32(d[36:])
	if nFuncs > 1<<16 || nNames > 1<<16 {
		return out
	}
	fa, _ := peRange(pf, funcsRVA, nFuncs*4)
	na, _ := peRange(pf, namesRVA, nNames*4)
	oa, _ := peRange(pf, ordsRVA, nNames*2)
	if fa == nil || na == nil || oa == nil {
		return out
	}
	for i := uint32(0); i < nNames; i++ {
		ord := uint32(le.Uint16(oa[2*i:]))
		if ord >= nFuncs {
			continue
		}
		nameRVA := le.Uint32(na[4*i:])
		nb, _ := peRange(pf, nameRVA, 1)
		if nb == nil {
			continue
		}
		s := peSectionAt(pf, base, base+uint64(nameRVA))
		if s == nil {
			continue
		}
		buf := make([]byte, 256)
		n, _ := s.ReadAt(buf, int64(nameRVA-s.VirtualAddress))
		name, _, _ := strings.Cut(string(buf[:n]), "\x00")
		out[base+uint64(le.Uint32(fa[4*ord:]))] = name
	}
	return out
}
