// Package recipes is reprove's vocabulary: the recipe format that says
// exactly how to rebuild one release and which shipped artifact to compare
// the result with.
//
// A recipe pins every input by a digest (sha256 or stronger): the source, the
// toolchain (through the Go checksum database), the base image and each
// shipped artifact. Its own digest is computed over a canonical form so that
// attestations can cite it.
package recipes

import (
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/internal/strictyaml"
)

// SchemaVersion is the recipe format version this package reads and writes.
const SchemaVersion = 1

// Recipe describes how to rebuild one release.
type Recipe struct {
	// Schema is the format version; it must equal SchemaVersion.
	Schema int `json:"schema" yaml:"schema"`
	// Name and Version identify the release (for example "gofmt", "go1.23.5").
	Name    string `json:"name" yaml:"name"`
	Version string `json:"version" yaml:"version"`

	// Source is what is rebuilt; exactly one of its variants is set.
	Source Source `json:"source" yaml:"source"`
	// Toolchain names the Go toolchain to build with, if any.
	Toolchain Toolchain `json:"toolchain,omitzero" yaml:"toolchain,omitempty"`
	// Image selects the base image; the zero value is reprove's minimal
	// rootfs (plus the toolchain).
	Image Image `json:"image,omitzero" yaml:"image,omitempty"`

	// Env is added to the build's fixed base environment. Keys in
	// ReservedEnv are refused.
	Env map[string]string `json:"env,omitempty" yaml:"env,omitempty"`
	// Steps run in order in the build container, without network.
	Steps []Step `json:"steps" yaml:"steps"`
	// Outputs are the files the build must leave in /out.
	Outputs []Output `json:"outputs" yaml:"outputs"`
	// Normalizers the recipe allows when comparing (names from compare's
	// registry, compare/verdict; Validate refuses others). Empty by
	// default: only identical counts.
	Normalizers []string `json:"normalizers,omitempty" yaml:"normalizers,omitempty"`
	// Limits bound the build's resources; zero fields take the builder's
	// defaults.
	Limits Limits `json:"limits,omitzero" yaml:"limits,omitempty"`

	// Where the recipe came from, for locating errors and resolving
	// relative paths; not part of the recipe or its digest.
	file    string
	baseDir string
	doc     *strictyaml.Doc
}

// Source is the code that is rebuilt. Exactly one field is set.
type Source struct {
	Git      *GitSource      `json:"git,omitempty" yaml:"git,omitempty"`
	Archive  *ArchiveSource  `json:"archive,omitempty" yaml:"archive,omitempty"`
	GoModule *GoModuleSource `json:"gomod,omitempty" yaml:"gomod,omitempty"`
	Dir      *DirSource      `json:"dir,omitempty" yaml:"dir,omitempty"`
	// DSC is a Debian source package, named by its .dsc.
	DSC *DSCSource `json:"dsc,omitempty" yaml:"dsc,omitempty"`
}

// DSCSource is a Debian source package: its .dsc, fetched from URL and
// pinned by Digest, and every file the .dsc lists, fetched from beside it
// and checked against the .dsc's Checksums-Sha256. The files are put in
// the source directory as they are; the build unpacks them (dpkg-source
// -x) inside the container.
type DSCSource struct {
	URL    string        `json:"url" yaml:"url"`
	Digest digest.Digest `json:"digest" yaml:"digest"`
}

// DirSource is a local directory, pinned by its treehash digest (for
// sources that exist only on the auditor's disk).
type DirSource struct {
	Path string        `json:"path" yaml:"path"`
	Tree digest.Digest `json:"tree" yaml:"tree"`
}

// GitSource is a git repository at one commit.
//
// A commit id is a SHA-1 (or SHA-256) object name; since SHA-1 alone is not
// accepted as a pin, the checked-out tree is also pinned by Tree, a sha256
// tree digest computed by internal/treehash over the files of the checkout.
type GitSource struct {
	URL    string `json:"url" yaml:"url"`
	Commit string `json:"commit" yaml:"commit"`
	// Tag, when set, is a tag that must point at Commit: the fetch checks
	// it, and the checkout holds it (Go 1.24 and later stamp the main
	// module's version from a tag at the commit).
	Tag string `json:"tag,omitempty" yaml:"tag,omitempty"`
	// Tree is the treehash digest of the checkout at Commit.
	Tree digest.Digest `json:"tree" yaml:"tree"`
}

// ArchiveSource is a source archive (tar, tar.gz, tar.xz, zip) fetched from a
// URL or read from a local path, pinned by the digest of the archive file.
type ArchiveSource struct {
	URL    string        `json:"url,omitempty" yaml:"url,omitempty"`
	Path   string        `json:"path,omitempty" yaml:"path,omitempty"`
	Digest digest.Digest `json:"digest" yaml:"digest"`
	// Strip removes this many leading path components from each member, as
	// tar --strip-components does.
	Strip int `json:"strip,omitempty" yaml:"strip,omitempty"`
}

// GoModuleSource is a module version from the Go module proxy, checked
// against the Go checksum database and against Sum.
type GoModuleSource struct {
	Path    string `json:"path" yaml:"path"`
	Version string `json:"version" yaml:"version"`
	// Sum is the module's go.sum hash ("h1:" + base64 SHA-256).
	Sum string `json:"sum" yaml:"sum"`
}

// Toolchain is the compiler a build uses.
type Toolchain struct {
	// Go is a Go release version such as "1.23.5" (no "go" prefix). The
	// builder installs golang.org/toolchain@v0.0.1-go<Go>.linux-<arch> from
	// the Go module proxy, verified by the checksum database.
	Go string `json:"go,omitempty" yaml:"go,omitempty"`
}

// Image is the base image of the build container. At most one of Debian and
// Ref is set; with neither, the builder uses its minimal rootfs.
type Image struct {
	// Debian builds a reproducible Debian minbase rootfs with extra packages.
	Debian *DebianImage `json:"debian,omitempty" yaml:"debian,omitempty"`
	// Ref names a registry image; it must include a digest
	// ("name@sha256:...").
	Ref string `json:"ref,omitempty" yaml:"ref,omitempty"`
}

// DebianImage is a Debian rootfs built from exactly the packages its Lock
// names, each checked by digest.
type DebianImage struct {
	// Suite is the Debian suite, for example "bookworm".
	Suite string `json:"suite" yaml:"suite"`
	// Variant is the base package set, as mmdebstrap names it: "minbase"
	// (the default: the essential set, Priority: required and apt) or
	// "buildd" (minbase and build-essential).
	Variant string `json:"variant,omitempty" yaml:"variant,omitempty"`
	// Packages are installed on top of the variant.
	Packages []string `json:"packages,omitempty" yaml:"packages,omitempty"`
	// Lock is every package of the image, resolved from the suite's
	// signed indexes (`reprove lock` writes it). It is part of the
	// recipe, and so of its digest.
	Lock *DebianLock `json:"lock,omitempty" yaml:"lock,omitempty"`
}

// DebianLock is a resolved Debian environment: every .deb it holds,
// essential set included.
type DebianLock struct {
	// Architecture is the Debian architecture ("amd64").
	Architecture string `json:"architecture" yaml:"architecture"`
	// Release is the signed index the lock was resolved from (the
	// image's suite, on the mirror).
	Release DebianRelease `json:"release" yaml:"release"`
	// Also are further signed indexes, each of its own archive, that the
	// lock was resolved from together with Release, as apt resolves over
	// every suite in its sources: a stable suite's security updates
	// (bookworm-security of http://deb.debian.org/debian-security).
	// Absent for a lock of one suite.
	Also []DebianArchiveRelease `json:"also,omitempty" yaml:"also,omitempty"`
	// Packages are sorted by name.
	Packages []DebianPackage `json:"packages" yaml:"packages"`
}

// DebianRelease identifies a signed Release file.
type DebianRelease struct {
	// Suite and Codename as the Release states them.
	Suite    string `json:"suite" yaml:"suite"`
	Codename string `json:"codename,omitempty" yaml:"codename,omitempty"`
	// Date is the Release's Date (RFC 3339): where a snapshot archive
	// finds the packages once the mirror has moved on.
	Date string `json:"date" yaml:"date"`
	// Digest is the sha256 of the InRelease file that was verified.
	Digest digest.Digest `json:"digest" yaml:"digest"`
}

// Name is how a lock's packages name the Release they come from: its
// codename ("bookworm-security"), or its suite when it states none.
func (r DebianRelease) Name() string {
	if r.Codename != "" {
		return r.Codename
	}
	return r.Suite
}

// DebianArchiveRelease is a signed Release of another archive than the
// image's mirror.
type DebianArchiveRelease struct {
	// Archive is the archive's base URL, under which dists/ and pool/
	// are. Its last path element names it on a snapshot archive
	// ("debian-security": snapshot.debian.org/archive/debian-security/).
	Archive  string        `json:"archive" yaml:"archive"`
	Suite    string        `json:"suite" yaml:"suite"`
	Codename string        `json:"codename,omitempty" yaml:"codename,omitempty"`
	Date     string        `json:"date" yaml:"date"`
	Digest   digest.Digest `json:"digest" yaml:"digest"`
}

// Release is the Release part of r.
func (r DebianArchiveRelease) Release() DebianRelease {
	return DebianRelease{Suite: r.Suite, Codename: r.Codename, Date: r.Date, Digest: r.Digest}
}

// Origin returns the further Release a package of the lock comes from,
// or nil for the lock's Release.
func (l *DebianLock) Origin(p DebianPackage) *DebianArchiveRelease {
	if p.From == "" {
		return nil
	}
	for i := range l.Also {
		if l.Also[i].Release().Name() == p.From {
			return &l.Also[i]
		}
	}
	return nil
}

// DebianPackage is one .deb of a lock.
type DebianPackage struct {
	Name    string `json:"name" yaml:"name"`
	Version string `json:"version" yaml:"version"`
	Arch    string `json:"arch" yaml:"arch"`
	// Path is the file's path in the archive ("pool/main/…/x.deb").
	Path string `json:"path" yaml:"path"`
	Size int64  `json:"size" yaml:"size"`
	// SHA256 pins the file.
	SHA256 digest.Digest `json:"sha256" yaml:"sha256"`
	// From names the Release of the lock's Also the file comes from (by
	// its Name); empty for the lock's Release.
	From string `json:"from,omitempty" yaml:"from,omitempty"`
}

// Step is one command of the build. Exactly one of Run and Shell is set.
type Step struct {
	// Run is an argv list, executed without a shell.
	Run []string `json:"run,omitempty" yaml:"run,omitempty"`
	// Shell is a script run with /bin/sh -ec; a recipe must ask for a shell
	// explicitly.
	Shell string `json:"shell,omitempty" yaml:"shell,omitempty"`
	// Dir is the working directory relative to the source root ("" is the
	// root).
	Dir string `json:"dir,omitempty" yaml:"dir,omitempty"`
}

// Output is a file the build writes to /out, and optionally the shipped
// artifact it must match.
type Output struct {
	// Path is the file's path relative to /out.
	Path string `json:"path" yaml:"path"`
	// Shipped is the released artifact to compare the output with.
	Shipped *Shipped `json:"shipped,omitempty" yaml:"shipped,omitempty"`
}

// Shipped locates a released artifact: a file at a URL or local path, or a
// member inside such an archive (for example package/bin/esbuild inside an
// npm .tgz).
type Shipped struct {
	URL  string `json:"url,omitempty" yaml:"url,omitempty"`
	Path string `json:"path,omitempty" yaml:"path,omitempty"`
	// Digest pins the file at URL or Path.
	Digest digest.Digest `json:"digest" yaml:"digest"`
	// Member is the path of the artifact inside that archive, if any.
	Member string `json:"member,omitempty" yaml:"member,omitempty"`
	// MemberDigest pins the member; required when Member is set.
	MemberDigest digest.Digest `json:"member_digest,omitempty" yaml:"member_digest,omitempty"`
}

// ArtifactDigest is the digest of the artifact that is compared and
// attested: the member's when Member is set, else the file's.
func (s *Shipped) ArtifactDigest() digest.Digest {
	if s.Member != "" {
		return s.MemberDigest
	}
	return s.Digest
}

// Limits bound a build. Sizes are written as ParseSize reads them
// ("4GiB"), the timeout as a Go duration ("30m").
type Limits struct {
	// Memory bounds the build's memory (no swap).
	Memory string `json:"memory,omitempty" yaml:"memory,omitempty"`
	// Disk bounds what the build may write to /src, /out and /home/build
	// together.
	Disk string  `json:"disk,omitempty" yaml:"disk,omitempty"`
	Pids int64   `json:"pids,omitempty" yaml:"pids,omitempty"`
	CPUs float64 `json:"cpus,omitempty" yaml:"cpus,omitempty"`
	// Timeout bounds the whole build: every step and the collection of
	// the outputs.
	Timeout string `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	// OutputSize bounds the declared outputs' total size.
	OutputSize string `json:"output_size,omitempty" yaml:"output_size,omitempty"`
}

// ReservedEnv lists the variables the builder sets itself; a recipe may not
// set them. (GOFLAGS may be set: the builder prepends -mod=readonly, or
// -mod=vendor for vendored sources.)
var ReservedEnv = []string{
	"HOME", "TZ", "LC_ALL",
	"GOPROXY", "GOSUMDB", "GONOSUMDB", "GONOSUMCHECK", "GOPRIVATE", "GONOPROXY", "GOINSECURE",
	"GOTOOLCHAIN", "GOMODCACHE", "GOCACHE", "GOPATH", "GOENV", "GOTMPDIR", "GOROOT_FINAL",
}

// Ref names a recipe wherever a build is recorded (results, provenance,
// check reports): one type, so every record names a recipe the same way.
type Ref struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// URI is where the recipe was read from (its file), when known.
	URI    string        `json:"uri,omitempty"`
	Digest digest.Digest `json:"digest"`
}

// Ref returns the recipe's reference, with its canonical digest.
func (r *Recipe) Ref() (Ref, error) {
	d, err := r.Digest()
	if err != nil {
		return Ref{}, err
	}
	return Ref{Name: r.Name, Version: r.Version, URI: r.File(), Digest: d}, nil
}
