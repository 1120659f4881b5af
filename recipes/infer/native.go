package infer

import (
	"bytes"
	"compress/zlib"
	"context"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/internal/exefile"
	"github.com/reprove/reprove/internal/lazyre"
)

// NativeFacts is what a non-Go executable records about how it was built.
type NativeFacts struct {
	Digest  digest.Digest `json:"digest"`
	Format  string        `json:"format"`
	Machine string        `json:"machine"`
	// Comments are the strings of the ELF .comment section (compilers and
	// linkers append their identification there).
	Comments []string `json:"comments,omitempty"`
	// Compilers are the compilers identified (from .comment, or for PE
	// from the identification strings mingw-w64's GCC leaves in the
	// data), with their versions.
	Compilers []Compiler `json:"compilers,omitempty"`
	// BuildID is the GNU build ID (hex), when the file has one.
	BuildID string `json:"buildId,omitempty"`
	// Interpreter is the ELF dynamic loader.
	Interpreter string `json:"interpreter,omitempty"`
	// Needed are the shared libraries (ELF DT_NEEDED) or DLLs (PE
	// imports) the file loads.
	Needed []string `json:"needed,omitempty"`
	// Stripped: the file has no symbol table.
	Stripped bool `json:"stripped"`
	// Rust: the dependencies cargo-auditable embedded (.dep-v0), if any.
	CargoAuditable []CrateDep `json:"cargoAuditable,omitempty"`
}

// Compiler is one compiler a file names.
type Compiler struct {
	// Name is gcc, clang, rustc or mingw-w64-gcc.
	Name string `json:"name"`
	// Version is the upstream version ("12.2.0").
	Version string `json:"version"`
	// Distro is the distribution's package version when the string names
	// one ("12.2.0-14" from "GCC: (Debian 12.2.0-14) 12.2.0").
	Distro string `json:"distro,omitempty"`
	// Raw is the string it was read from.
	Raw string `json:"raw"`
}

// CrateDep is one package of cargo-auditable's dependency list.
type CrateDep struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Source  string `json:"source,omitempty"`
	Root    bool   `json:"root,omitempty"`
}

var (
	gccRE     = lazyre.New(`^GCC: \(([^)]*)\) ([0-9][0-9.]*)`)
	debGccRE  = lazyre.New(`^Debian ([0-9][^ ]*)$`)
	clangRE   = lazyre.New(`clang version ([0-9][0-9.]*)`)
	rustcRE   = lazyre.New(`rustc version ([0-9][0-9.]*(?:-[a-z0-9.]+)?)(?: \(([^)]*)\))?`)
	mingwGCC  = lazyre.New(`GCC: \(GNU\) ([0-9][0-9.]*-win32|[0-9][0-9.]*-posix|[0-9][0-9.]*)( [0-9]{8})?`)
	printable = lazyre.New(`[\x20-\x7e]{8,200}`)
)

// compilerOf reads one identification string.
func compilerOf(s string) (Compiler, bool) {
	if m := gccRE().FindStringSubmatch(s); m != nil {
		c := Compiler{Name: "gcc", Version: m[2], Raw: s}
		if d := debGccRE().FindStringSubmatch(m[1]); d != nil {
			c.Distro = d[1]
		}
		return c, true
	}
	if m := clangRE().FindStringSubmatch(s); m != nil {
		return Compiler{Name: "clang", Version: m[1], Raw: s}, true
	}
	if m := rustcRE().FindStringSubmatch(s); m != nil {
		return Compiler{Name: "rustc", Version: m[1], Raw: s}, true
	}
	return Compiler{}, false
}

// ReadNative reads what a non-Go ELF or PE file records, bounded as every
// read of an untrusted executable is.
func ReadNative(ctx context.Context, file string, lim Limits) (*NativeFacts, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("read executable: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > lim.MaxSize {
		return nil, fmt.Errorf("read executable %s: not a regular file within %d bytes", file, lim.MaxSize)
	}
	d, err := digest.SHA256.FromReader(f)
	if err != nil {
		return nil, err
	}
	x, err := exefile.Open(f, st.Size(), exefile.Limits{MaxSize: lim.MaxSize, MaxRead: lim.MaxRead})
	if err != nil {
		return nil, fmt.Errorf("read executable %s: %w", file, err)
	}
	nf := &NativeFacts{Digest: d, Format: x.Format.String()}
	err = x.Guard(func() error {
		switch x.Format {
		case exefile.ELF:
			return readNativeELF(x.ELF, nf)
		case exefile.PE:
			return readNativePE(x, nf)
		}
		return fmt.Errorf("%s files are not read for native facts", x.Format)
	})
	if err != nil {
		return nil, fmt.Errorf("read executable %s: %w", file, err)
	}
	return nf, nil
}

const maxSection = 16 << 20

func sectionData(s interface {
	Open() io.ReadSeeker
}, size uint64) ([]byte, error) {
	if size > maxSection {
		return nil, fmt.Errorf("section of %d bytes", size)
	}
	return exefile.ReadAll(s.Open(), maxSection)
}

func readNativeELF(e *elf.File, nf *NativeFacts) error {
	nf.Machine = e.Machine.String()
	if s := e.Section(".comment"); s != nil && s.Type != elf.SHT_NOBITS {
		b, err := sectionData(s, s.Size)
		if err != nil {
			return fmt.Errorf(".comment: %w", err)
		}
		for _, c := range bytes.Split(b, []byte{0}) {
			if str := strings.TrimSpace(string(c)); str != "" && !slices.Contains(nf.Comments, str) {
				nf.Comments = append(nf.Comments, str)
				if comp, ok := compilerOf(str); ok {
					nf.Compilers = append(nf.Compilers, comp)
				}
			}
		}
	}
	if s := e.Section(".note.gnu.build-id"); s != nil && s.Type != elf.SHT_NOBITS {
		b, err := sectionData(s, s.Size)
		if err == nil && len(b) >= 16 {
			namesz := e.ByteOrder.Uint32(b[0:4])
			descsz := e.ByteOrder.Uint32(b[4:8])
			off := 12 + (int(namesz)+3)&^3
			if namesz < 16 && descsz <= 64 && off+int(descsz) <= len(b) {
				nf.BuildID = hex.EncodeToString(b[off : off+int(descsz)])
			}
		}
	}
	for _, p := range e.Progs {
		if p.Type == elf.PT_INTERP && p.Filesz < 4096 {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err == nil {
				nf.Interpreter = strings.TrimRight(string(b), "\x00")
			}
		}
	}
	if libs, err := e.ImportedLibraries(); err == nil {
		nf.Needed = libs
	}
	nf.Stripped = e.Section(".symtab") == nil
	if s := e.Section(".dep-v0"); s != nil && s.Type != elf.SHT_NOBITS {
		b, err := sectionData(s, s.Size)
		if err != nil {
			return fmt.Errorf(".dep-v0: %w", err)
		}
		deps, err := cargoAuditable(b)
		if err != nil {
			return fmt.Errorf(".dep-v0 (cargo auditable): %w", err)
		}
		nf.CargoAuditable = deps
	}
	return nil
}

// cargoAuditable decodes cargo-auditable's section: zlib-compressed JSON
// {"packages": [{"name", "version", "source", "root"}…]}.
func cargoAuditable(b []byte) ([]CrateDep, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	raw, err := exefile.ReadAll(zr, 8<<20)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Packages []CrateDep `json:"packages"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	return doc.Packages, nil
}

func readNativePE(x *exefile.File, nf *NativeFacts) error {
	p := x.PE
	nf.Machine = fmt.Sprintf("0x%x", p.Machine)
	// debug/pe's ImportedLibraries is a stub; the DLLs are read off the
	// imported symbols ("Func:dll").
	if syms, err := p.ImportedSymbols(); err == nil {
		for _, sym := range syms {
			if _, dll, ok := strings.Cut(sym, ":"); ok && !slices.Contains(nf.Needed, strings.ToLower(dll)) {
				nf.Needed = append(nf.Needed, strings.ToLower(dll))
			}
		}
		slices.Sort(nf.Needed)
	}
	nf.Stripped = p.FileHeader.NumberOfSymbols == 0
	// mingw-w64's GCC leaves "GCC: (GNU) 12-win32" in the data of what it
	// compiles (its .rdata$zzz identification), where an ELF file would
	// have .comment.
	for _, s := range p.Sections {
		if s.Name != ".rdata" && s.Name != ".data" {
			continue
		}
		b, err := exefile.ReadAll(s.Open(), maxSection)
		if err != nil {
			continue
		}
		for _, m := range printable().FindAll(b, -1) {
			str := string(m)
			if strings.HasPrefix(str, "GCC: ") && !slices.Contains(nf.Comments, str) {
				nf.Comments = append(nf.Comments, str)
				if mm := mingwGCC().FindStringSubmatch(str); mm != nil {
					nf.Compilers = append(nf.Compilers, Compiler{Name: "mingw-w64-gcc", Version: mm[1], Raw: str})
				}
			}
		}
	}
	return nil
}

// NativeSuggestion is what infer says about a native executable: findings
// and the Debian packages of a build environment with its compiler.
type NativeSuggestion struct {
	Findings []Finding
	// Packages to install (on buildd) for that compiler.
	Packages []string
	// Want maps a package to the version the file records, to compare
	// with the suite's.
	Want map[string]string
}

// SuggestNative turns native facts into findings and a suggested
// environment. It says plainly what a native file does not record.
func SuggestNative(nf *NativeFacts) *NativeSuggestion {
	s := &NativeSuggestion{Want: map[string]string{}}
	note := func(c Certainty, topic, value, reason string, args ...any) {
		s.Findings = append(s.Findings, Finding{Certainty: c, Topic: topic, Value: value, Reason: fmt.Sprintf(reason, args...)})
	}
	if len(nf.Compilers) == 0 {
		note(Unknown, "compiler", "", "the file names no compiler (%s)", map[bool]string{true: "no .comment section", false: "no identification string"}[len(nf.Comments) == 0])
	}
	for _, c := range nf.Compilers {
		switch c.Name {
		case "gcc":
			major, _, _ := strings.Cut(c.Version, ".")
			pkg := "gcc-" + major
			note(Certain, "compiler", c.Raw, "recorded in .comment")
			if c.Distro != "" {
				s.Want[pkg] = c.Distro
				note(Guess, "image", pkg+" "+c.Distro, "Debian's GCC built it (its package version is in the string); a locked buildd image with %s of that version", pkg)
			}
			s.Packages = appendNew(s.Packages, pkg)
		case "clang":
			major, _, _ := strings.Cut(c.Version, ".")
			note(Certain, "compiler", c.Raw, "recorded in .comment")
			s.Packages = appendNew(s.Packages, "clang-"+major)
		case "rustc":
			note(Certain, "compiler", c.Raw, "recorded in .comment")
			s.Want["rustc"] = c.Version
			s.Packages = appendNew(s.Packages, "rustc", "cargo")
		case "mingw-w64-gcc":
			note(Certain, "compiler", c.Raw, "mingw-w64's GCC identification string in the data")
			s.Packages = appendNew(s.Packages, "gcc-mingw-w64")
		}
	}
	if nf.BuildID != "" {
		note(Certain, "build-id", nf.BuildID, "GNU build ID note: a hash of the linked output, so a rebuild that matches it matches the code")
	}
	if nf.Interpreter != "" {
		note(Certain, "interpreter", nf.Interpreter, "PT_INTERP")
	}
	if len(nf.Needed) > 0 {
		note(Certain, "needed", strings.Join(nf.Needed, " "), "the libraries it loads; their -dev packages are build dependencies")
	}
	if len(nf.CargoAuditable) > 0 {
		var roots []string
		for _, d := range nf.CargoAuditable {
			if d.Root {
				roots = append(roots, d.Name+" "+d.Version)
			}
		}
		note(Certain, "crates", fmt.Sprintf("%d crates (root %s)", len(nf.CargoAuditable), strings.Join(roots, ", ")), "cargo auditable's .dep-v0 section")
	}
	note(Unknown, "source", "", "a native executable does not record where its source is; give the source package or archive")
	note(Unknown, "flags", "", "compiler and linker flags, the build system and its options are not recorded (unless the file keeps DWARF with -grecord-gcc-switches)")
	return s
}

func appendNew(list []string, names ...string) []string {
	for _, n := range names {
		if !slices.Contains(list, n) {
			list = append(list, n)
		}
	}
	return list
}
