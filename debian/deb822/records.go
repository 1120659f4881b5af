package deb822

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/opencontainers/go-digest"
	"pault.ag/go/debian/dependency"
	"pault.ag/go/debian/version"

	"github.com/reprove/reprove/internal/lazyre"
)

var (
	// Debian Policy 5.6.1 (package names) and 5.6.8 (architectures).
	nameRE = lazyre.New(`^[a-z0-9][a-z0-9+.-]+$`)
	archRE = lazyre.New(`^[a-z0-9][a-z0-9-]*$`)
)

// CheckName reports whether s is a valid Debian package name.
func CheckName(s string) error {
	if !nameRE().MatchString(s) {
		return fmt.Errorf("%q is not a Debian package name", s)
	}
	return nil
}

// CheckVersion parses a Debian version and refuses what dpkg would.
func CheckVersion(s string) error {
	if s == "" || strings.ContainsAny(s, " \t\n/") {
		return fmt.Errorf("%q is not a Debian version", s)
	}
	if _, err := version.Parse(s); err != nil {
		return fmt.Errorf("%q is not a Debian version: %w", s, err)
	}
	return nil
}

// CheckArch reports whether s is an architecture name.
func CheckArch(s string) error {
	if !archRE().MatchString(s) {
		return fmt.Errorf("%q is not an architecture name", s)
	}
	return nil
}

// checkPoolPath refuses a path that could leave the archive's root.
func checkPoolPath(p string) error {
	if !fs.ValidPath(p) || p == "." || strings.ContainsAny(p, "\\\x00") || strings.IndexFunc(p, func(c rune) bool { return c < ' ' || c == 0x7f }) >= 0 {
		return fmt.Errorf("%q is not a clean relative path", p)
	}
	return nil
}

// checkFileName refuses a file name with a directory part.
func checkFileName(n string) error {
	if err := checkPoolPath(n); err != nil || strings.Contains(n, "/") {
		return fmt.Errorf("%q is not a plain file name", n)
	}
	return nil
}

// sha256Digest reads 64 hex digits as a digest.
func sha256Digest(s string) (digest.Digest, error) {
	if len(s) != 64 {
		return "", fmt.Errorf("%q is not a SHA-256 (64 hex digits)", s)
	}
	if _, err := hex.DecodeString(s); err != nil {
		return "", fmt.Errorf("%q is not a SHA-256 (64 hex digits)", s)
	}
	return digest.NewDigestFromEncoded(digest.SHA256, strings.ToLower(s)), nil
}

// ParseRelations parses a relationship field (Depends, Build-Depends).
func ParseRelations(s string) (*dependency.Dependency, error) {
	if strings.TrimSpace(s) == "" {
		return &dependency.Dependency{}, nil
	}
	d, err := dependency.Parse(s)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// BinaryPackage is one paragraph of a Packages index.
type BinaryPackage struct {
	Package      string
	Version      string
	Architecture string
	// Source and SourceVersion name the source package ("" version when
	// it is the binary's own).
	Source        string
	SourceVersion string
	Essential     bool
	Priority      string
	MultiArch     string
	// Relationship fields, as written; parsed when resolving.
	PreDepends, Depends, Provides, Conflicts, Breaks string
	// Filename is the path in the archive ("pool/main/…/x.deb").
	Filename string
	Size     int64
	SHA256   digest.Digest
}

// SourceName returns the source package's name and version.
func (b *BinaryPackage) SourceName() (string, string) {
	name, ver := b.Source, b.SourceVersion
	if name == "" {
		name = b.Package
	}
	if ver == "" {
		ver = b.Version
	}
	return name, ver
}

// sourceField splits "name (version)".
func sourceField(s string) (string, string, error) {
	s = strings.TrimSpace(s)
	name, rest, ok := strings.Cut(s, " ")
	if !ok {
		return s, "", CheckName(s)
	}
	rest = strings.TrimSpace(rest)
	if !strings.HasPrefix(rest, "(") || !strings.HasSuffix(rest, ")") {
		return "", "", fmt.Errorf("%q is not \"name (version)\"", s)
	}
	ver := strings.TrimSpace(rest[1 : len(rest)-1])
	if err := CheckName(name); err != nil {
		return "", "", err
	}
	if err := CheckVersion(ver); err != nil {
		return "", "", err
	}
	return name, ver, nil
}

// binaryFields reads the fields a Packages paragraph and a .deb's control
// file share.
func binaryFields(what string, p *Paragraph) (*BinaryPackage, error) {
	b := &BinaryPackage{}
	var err error
	fail := func(field string, err error) error {
		return &FieldError{What: what, Paragraph: p.Index, Name: b.Package, Field: field, Err: err}
	}
	if b.Package, err = require(what, p, "", "Package"); err != nil {
		return nil, err
	}
	if err := CheckName(b.Package); err != nil {
		return nil, fail("Package", err)
	}
	if b.Version, err = require(what, p, b.Package, "Version"); err != nil {
		return nil, err
	}
	if err := CheckVersion(b.Version); err != nil {
		return nil, fail("Version", err)
	}
	if b.Architecture, err = require(what, p, b.Package, "Architecture"); err != nil {
		return nil, err
	}
	if err := CheckArch(b.Architecture); err != nil {
		return nil, fail("Architecture", err)
	}
	if s, ok := p.Get("Source"); ok {
		if b.Source, b.SourceVersion, err = sourceField(s); err != nil {
			return nil, fail("Source", err)
		}
	}
	switch e := strings.TrimSpace(p.Value("Essential")); e {
	case "", "no":
	case "yes":
		b.Essential = true
	default:
		return nil, fail("Essential", fmt.Errorf("%q is neither yes nor no", e))
	}
	b.Priority = strings.TrimSpace(p.Value("Priority"))
	b.MultiArch = strings.TrimSpace(p.Value("Multi-Arch"))
	for _, f := range []struct {
		key string
		dst *string
	}{{"Pre-Depends", &b.PreDepends}, {"Depends", &b.Depends}, {"Provides", &b.Provides}, {"Conflicts", &b.Conflicts}, {"Breaks", &b.Breaks}} {
		v := strings.TrimSpace(p.Value(f.key))
		if _, err := ParseRelations(v); err != nil {
			return nil, fail(f.key, err)
		}
		*f.dst = v
	}
	return b, nil
}

// ParsePackages reads a Packages index (uncompressed).
func ParsePackages(what string, r io.Reader) ([]*BinaryPackage, error) {
	rd, err := NewReader(what, r, MaxIndex)
	if err != nil {
		return nil, err
	}
	var out []*BinaryPackage
	for {
		p, err := rd.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		b, err := binaryFields(what, p)
		if err != nil {
			return nil, err
		}
		fail := func(field string, err error) error {
			return &FieldError{What: what, Paragraph: p.Index, Name: b.Package, Field: field, Err: err}
		}
		if b.Filename, err = require(what, p, b.Package, "Filename"); err != nil {
			return nil, err
		}
		if err := checkPoolPath(b.Filename); err != nil {
			return nil, fail("Filename", err)
		}
		size, err := require(what, p, b.Package, "Size")
		if err != nil {
			return nil, err
		}
		if b.Size, err = strconv.ParseInt(size, 10, 64); err != nil || b.Size < 0 {
			return nil, fail("Size", fmt.Errorf("%q is not a size", size))
		}
		sum, err := require(what, p, b.Package, "SHA256")
		if err != nil {
			return nil, err
		}
		if b.SHA256, err = sha256Digest(sum); err != nil {
			return nil, fail("SHA256", err)
		}
		out = append(out, b)
	}
}

// ParseControl reads the control file of a .deb (one paragraph).
func ParseControl(what string, data []byte) (*BinaryPackage, error) {
	rd, err := NewReader(what, bytes.NewReader(data), MaxDocument)
	if err != nil {
		return nil, err
	}
	ps, err := rd.All()
	if err != nil {
		return nil, err
	}
	if len(ps) != 1 {
		return nil, fmt.Errorf("read %s: %d paragraphs, want 1", what, len(ps))
	}
	return binaryFields(what, ps[0])
}

// File is one file a source package (or a .buildinfo) lists.
type File struct {
	Name   string
	Size   int64
	SHA256 digest.Digest
}

// parseFiles reads a Checksums-Sha256 field: "sha256 size name" lines.
func parseFiles(v string) ([]File, error) {
	var files []File
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(v), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("line %q is not \"sha256 size name\"", line)
		}
		d, err := sha256Digest(f[0])
		if err != nil {
			return nil, err
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("%q is not a size", f[1])
		}
		if err := checkFileName(f[2]); err != nil {
			return nil, err
		}
		if seen[f[2]] {
			return nil, fmt.Errorf("%s is listed twice", f[2])
		}
		seen[f[2]] = true
		files = append(files, File{Name: f[2], Size: size, SHA256: d})
	}
	if len(files) == 0 {
		return nil, errors.New("lists no files")
	}
	return files, nil
}

// SourcePackage is a source package: a paragraph of a Sources index, or a
// .dsc.
type SourcePackage struct {
	Package string
	Version string
	Format  string
	// Architecture lists the architectures (or any, all) it builds for.
	Architecture []string
	Binary       []string
	// Directory is the pool directory of its files (Sources only).
	Directory string
	// Build relationships, as written.
	BuildDepends, BuildDependsArch, BuildDependsIndep       string
	BuildConflicts, BuildConflictsArch, BuildConflictsIndep string
	// Files are its files by SHA-256 (the .dsc itself too, in Sources).
	Files []File
}

func sourceFields(what string, p *Paragraph, nameKey string) (*SourcePackage, error) {
	s := &SourcePackage{}
	var err error
	fail := func(field string, err error) error {
		return &FieldError{What: what, Paragraph: p.Index, Name: s.Package, Field: field, Err: err}
	}
	if s.Package, err = require(what, p, "", nameKey); err != nil {
		return nil, err
	}
	if err := CheckName(s.Package); err != nil {
		return nil, fail(nameKey, err)
	}
	if s.Version, err = require(what, p, s.Package, "Version"); err != nil {
		return nil, err
	}
	if err := CheckVersion(s.Version); err != nil {
		return nil, fail("Version", err)
	}
	s.Format = strings.TrimSpace(p.Value("Format"))
	s.Architecture = strings.Fields(p.Value("Architecture"))
	for _, b := range strings.Split(p.Value("Binary"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			s.Binary = append(s.Binary, b)
		}
	}
	for _, f := range []struct {
		key string
		dst *string
	}{
		{"Build-Depends", &s.BuildDepends}, {"Build-Depends-Arch", &s.BuildDependsArch}, {"Build-Depends-Indep", &s.BuildDependsIndep},
		{"Build-Conflicts", &s.BuildConflicts}, {"Build-Conflicts-Arch", &s.BuildConflictsArch}, {"Build-Conflicts-Indep", &s.BuildConflictsIndep},
	} {
		v := strings.Join(strings.Fields(p.Value(f.key)), " ")
		if _, err := ParseRelations(v); err != nil {
			return nil, fail(f.key, err)
		}
		*f.dst = v
	}
	sums, err := require(what, p, s.Package, "Checksums-Sha256")
	if err != nil {
		return nil, err
	}
	if s.Files, err = parseFiles(sums); err != nil {
		return nil, fail("Checksums-Sha256", err)
	}
	return s, nil
}

// ParseSources reads a Sources index (uncompressed).
func ParseSources(what string, r io.Reader) ([]*SourcePackage, error) {
	rd, err := NewReader(what, r, MaxIndex)
	if err != nil {
		return nil, err
	}
	var out []*SourcePackage
	for {
		p, err := rd.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		s, err := sourceFields(what, p, "Package")
		if err != nil {
			return nil, err
		}
		if s.Directory, err = require(what, p, s.Package, "Directory"); err != nil {
			return nil, err
		}
		if err := checkPoolPath(s.Directory); err != nil {
			return nil, &FieldError{What: what, Paragraph: p.Index, Name: s.Package, Field: "Directory", Err: err}
		}
		out = append(out, s)
	}
}

// Clearsigned returns the text of an OpenPGP clearsigned document without
// checking its signature (for documents pinned by digest, such as a .dsc
// named in a recipe), or the document itself when it is not signed.
func Clearsigned(data []byte) []byte {
	if !bytes.HasPrefix(bytes.TrimLeft(data, "\r\n\t "), []byte("-----BEGIN PGP SIGNED MESSAGE-----")) {
		return data
	}
	b, _ := clearsign.Decode(data)
	if b == nil {
		return nil
	}
	return b.Plaintext
}

// ParseDSC reads a .dsc (signed or not; the signature is not checked: a
// .dsc is pinned by its SHA-256).
func ParseDSC(what string, data []byte) (*SourcePackage, error) {
	if len(data) > MaxDocument {
		return nil, fmt.Errorf("read %s: %w", what, ErrTooLarge)
	}
	body := Clearsigned(data)
	if body == nil {
		return nil, fmt.Errorf("read %s: broken OpenPGP armour", what)
	}
	rd, err := NewReader(what, bytes.NewReader(body), MaxDocument)
	if err != nil {
		return nil, err
	}
	ps, err := rd.All()
	if err != nil {
		return nil, err
	}
	if len(ps) != 1 {
		return nil, fmt.Errorf("read %s: %d paragraphs, want 1", what, len(ps))
	}
	return sourceFields(what, ps[0], "Source")
}

// BuildInfo is a .buildinfo: what a build of a source package installed.
type BuildInfo struct {
	Source  string
	Version string
	// Distribution is the suite the build was for ("unstable",
	// "bookworm-security"…).
	Distribution      string
	BuildArchitecture string
	// BuildDate is as written (RFC 2822).
	BuildDate string
	BuildPath string
	// Environment is the build's recorded environment (DEB_BUILD_OPTIONS,
	// SOURCE_DATE_EPOCH, …) as KEY=VALUE.
	Environment []string
	// Installed are the Installed-Build-Depends, each exactly versioned.
	Installed []Installed
	// Checksums are the built files.
	Checksums []File
}

// Installed is one package a build had installed.
type Installed struct {
	Name, Version, Arch string
}

// ParseBuildInfo reads a .buildinfo (signed or not; unchecked).
func ParseBuildInfo(what string, data []byte) (*BuildInfo, error) {
	if len(data) > MaxDocument {
		return nil, fmt.Errorf("read %s: %w", what, ErrTooLarge)
	}
	body := Clearsigned(data)
	if body == nil {
		return nil, fmt.Errorf("read %s: broken OpenPGP armour", what)
	}
	rd, err := NewReader(what, bytes.NewReader(body), MaxDocument)
	if err != nil {
		return nil, err
	}
	ps, err := rd.All()
	if err != nil {
		return nil, err
	}
	if len(ps) != 1 {
		return nil, fmt.Errorf("read %s: %d paragraphs, want 1", what, len(ps))
	}
	p := ps[0]
	bi := &BuildInfo{}
	fail := func(field string, err error) error {
		return &FieldError{What: what, Paragraph: 1, Name: bi.Source, Field: field, Err: err}
	}
	src, err := require(what, p, "", "Source")
	if err != nil {
		return nil, err
	}
	if bi.Source, _, err = sourceField(src); err != nil {
		return nil, fail("Source", err)
	}
	if bi.Version, err = require(what, p, bi.Source, "Version"); err != nil {
		return nil, err
	}
	if err := CheckVersion(bi.Version); err != nil {
		return nil, fail("Version", err)
	}
	if bi.BuildArchitecture, err = require(what, p, bi.Source, "Build-Architecture"); err != nil {
		return nil, err
	}
	if err := CheckArch(bi.BuildArchitecture); err != nil {
		return nil, fail("Build-Architecture", err)
	}
	bi.BuildDate = strings.TrimSpace(p.Value("Build-Date"))
	bi.Distribution = strings.TrimSpace(p.Value("Distribution"))
	bi.BuildPath = strings.TrimSpace(p.Value("Build-Path"))
	for _, line := range strings.Split(p.Value("Environment"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fail("Environment", fmt.Errorf("%q is not KEY=\"VALUE\"", line))
		}
		v = strings.TrimSuffix(strings.TrimPrefix(v, `"`), `"`)
		bi.Environment = append(bi.Environment, k+"="+v)
	}
	deps, err := require(what, p, bi.Source, "Installed-Build-Depends")
	if err != nil {
		return nil, err
	}
	rel, err := ParseRelations(strings.Join(strings.Fields(deps), " "))
	if err != nil {
		return nil, fail("Installed-Build-Depends", err)
	}
	for _, r := range rel.Relations {
		if len(r.Possibilities) != 1 {
			return nil, fail("Installed-Build-Depends", errors.New("an alternative (|) where an exact package is due"))
		}
		pos := r.Possibilities[0]
		if pos.Version == nil || pos.Version.Operator != "=" {
			return nil, fail("Installed-Build-Depends", fmt.Errorf("%s has no exact version (= …)", pos.Name))
		}
		if err := CheckVersion(pos.Version.Number); err != nil {
			return nil, fail("Installed-Build-Depends", err)
		}
		arch := ""
		if pos.Arch != nil {
			arch = pos.Arch.String()
		}
		bi.Installed = append(bi.Installed, Installed{Name: pos.Name, Version: pos.Version.Number, Arch: arch})
	}
	if sums, ok := p.Get("Checksums-Sha256"); ok {
		if bi.Checksums, err = parseFiles(sums); err != nil {
			return nil, fail("Checksums-Sha256", err)
		}
	}
	return bi, nil
}
