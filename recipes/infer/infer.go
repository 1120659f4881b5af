// Package infer writes a first recipe for a Go binary from what the binary
// itself records: its build information (debug/buildinfo: Go version, main
// package, modules, build flags, GOOS/GOARCH, VCS stamping) and what the
// linker left in or out of the executable (symbol table, DWARF, build ID,
// dynamic loader, source paths).
//
// ReadFacts does the I/O (bounded, for untrusted files); Infer is a pure
// function from Facts and Options to a recipe and a list of findings, each
// marked certain, guess or unknown, so that a user knows what to check.
//
// What cannot be inferred is said, never papered over: with -trimpath the go
// command does not record -ldflags, so a -X version stamp is invisible; a
// binary built from a modified checkout has no commit to rebuild from.
//
// A Debian .deb (deb.go) gets a recipe that rebuilds it from its source
// package in a locked buildd environment; a native ELF or PE file
// (native.go) gets its recorded facts and a suggested environment, and no
// recipe, since it does not name its source.
package infer

import (
	"errors"
	"fmt"
	goversion "go/version"
	"path"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/reprove/reprove/recipes"
)

// Certainty says how sure a finding is.
type Certainty int

// Certainties, from sure to not known.
const (
	// Certain: read from the binary, or implied by what was read.
	Certain Certainty = iota + 1
	// Guess: a plausible choice that a rebuild confirms or refutes.
	Guess
	// Unknown: the binary does not say; the recipe may need a human.
	Unknown
)

var certaintyNames = map[Certainty]string{Certain: "certain", Guess: "guess", Unknown: "unknown"}

func (c Certainty) String() string {
	if s, ok := certaintyNames[c]; ok {
		return s
	}
	return fmt.Sprintf("Certainty(%d)", int(c))
}

// MarshalText implements encoding.TextMarshaler.
func (c Certainty) MarshalText() ([]byte, error) {
	s, ok := certaintyNames[c]
	if !ok {
		return nil, fmt.Errorf("marshal certainty: invalid value %d", int(c))
	}
	return []byte(s), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Certainty) UnmarshalText(b []byte) error {
	for k, s := range certaintyNames {
		if string(b) == s {
			*c = k
			return nil
		}
	}
	return fmt.Errorf("unmarshal certainty: unknown certainty %q (want certain, guess or unknown)", b)
}

// Finding is one thing infer decided, and how sure it is.
type Finding struct {
	Certainty Certainty `json:"certainty"`
	// Topic names what was decided ("toolchain", "-ldflags", "source").
	Topic string `json:"topic"`
	// Value is what the recipe now says about it, if anything.
	Value string `json:"value,omitempty"`
	// Reason says where it came from or what is missing.
	Reason string `json:"reason"`
}

// Source is what the caller learned about the source to rebuild from.
// Exactly one of Git, Dir and GoModule is set.
type Source struct {
	Git      *recipes.GitSource
	Dir      *recipes.DirSource
	GoModule *recipes.GoModuleSource
	// ModuleDir is the main module's directory relative to the source root
	// ("" for the root).
	ModuleDir string
	// Tags are the tags that point at a git source's commit, and
	// ShortCommit and CommitTime what git says of the commit (goreleaser
	// fills its templates from them).
	Tags        []string
	ShortCommit string
	CommitTime  time.Time
	// Goreleaser is the project's goreleaser configuration, read from
	// GoreleaserFile in the source; GoreleaserErr says why one that is
	// there could not be read.
	Goreleaser     *Goreleaser
	GoreleaserFile string
	GoreleaserErr  string
	// StampVars are the main module's string variables named as release
	// tooling names what it sets with -X (version, commit, date, …).
	StampVars []StampVar
}

// Options carry what infer cannot read from the binary.
type Options struct {
	// Output is the file name the recipe builds into /out; by default the
	// last element of the main package path.
	Output string
	// Source, if set, is where the source is; otherwise infer guesses a
	// git repository from the module path and leaves its tree unpinned.
	Source *Source
	// Shipped is the released artifact (where the binary came from); it
	// becomes the output's shipped entry.
	Shipped *recipes.Shipped
	// Ldflags are linker flags to add that the binary cannot reveal
	// (typically -X version stamps), one alternative per entry: the first
	// goes into the recipe, all become rebuild candidates. Empty means
	// one candidate with none.
	Ldflags []string
	// BuildGoRoot is where the build container's Go lives (paths of a
	// binary built without -trimpath must match it).
	BuildGoRoot string
	// Writable are the directories a build step may create files under,
	// besides the source (for builds that must run at a recorded path).
	Writable []string
	// Suite is the Debian suite of images infer picks ("bookworm").
	Suite string
	// BuildArch is the architecture of the build machine ("amd64"): a
	// command of the Go distribution is rebuilt from the distribution for
	// linux/BuildArch.
	BuildArch string
	// ToolchainSum is the go.sum hash of that distribution's
	// golang.org/toolchain module, when the caller looked it up.
	ToolchainSum string
	// PackageVersion is the release version a package manifest states
	// (an npm package's package.json, see PackageVersion), and
	// PackageManifest names that manifest for the finding. It is used
	// when the binary records no module version, before the VCS revision.
	PackageVersion  string
	PackageManifest string
}

// DistCommand reports whether the binary is a command of the Go
// distribution itself (cmd/gofmt, cmd/go): such binaries have no main
// module.
func DistCommand(f *Facts) bool {
	return f != nil && f.BuildInfo != nil && f.BuildInfo.Main.Path == "" && strings.HasPrefix(f.BuildInfo.Path, "cmd/")
}

// Candidate is one complete recipe worth rebuilding; they differ only in
// what the binary could not tell (the linker flags).
type Candidate struct {
	Ldflags string `json:"ldflags"`
	// Stamps are the -X flags among Ldflags whose values infer filled in
	// (from a goreleaser configuration), with what each value is.
	Stamps []Stamp         `json:"stamps,omitempty"`
	Recipe *recipes.Recipe `json:"recipe"`
}

// Result is what Infer decided.
type Result struct {
	// Recipe is the first candidate's recipe.
	Recipe     *recipes.Recipe `json:"recipe"`
	Findings   []Finding       `json:"findings"`
	Candidates []Candidate     `json:"candidates"`
	// Incomplete lists what must be filled in before the recipe is valid
	// (empty when it validates).
	Incomplete []string `json:"incomplete,omitempty"`
	// StampVars are the source's variables a -X flag may have set, for
	// explaining a rebuild that differs only by a stamped string.
	StampVars []StampVar `json:"stampVars,omitempty"`
}

// archEnv are the build settings that are per-architecture environment
// variables, as the go command records them.
var archEnv = []string{"GO386", "GOAMD64", "GOARM", "GOARM64", "GOMIPS", "GOMIPS64", "GOPPC64", "GORISCV64", "GOWASM", "GOLOONG64"}

// flagSettings are the settings that are go build flags, in the order a
// person would write them.
var flagSettings = []string{"-buildmode", "-compiler", "-trimpath", "-race", "-msan", "-asan", "-tags", "-gcflags", "-asmflags", "-ldflags", "-pgo"}

// known lists every setting Infer understands; any other is reported.
var known = slices.Concat([]string{
	"CGO_ENABLED", "CGO_CFLAGS", "CGO_CPPFLAGS", "CGO_CXXFLAGS", "CGO_LDFLAGS", "CGO_FFLAGS",
	"GOOS", "GOARCH", "GOEXPERIMENT", "GOFIPS140", "DefaultGODEBUG",
	"vcs", "vcs.revision", "vcs.time", "vcs.modified",
}, archEnv, flagSettings)

type inferrer struct {
	f        *Facts
	opts     Options
	bi       *debug.BuildInfo
	set      map[string]string
	findings []Finding
}

func (in *inferrer) note(c Certainty, topic, value, reason string, args ...any) {
	in.findings = append(in.findings, Finding{Certainty: c, Topic: topic, Value: value, Reason: fmt.Sprintf(reason, args...)})
}

// Infer turns what a binary records into a recipe for rebuilding it.
func Infer(f *Facts, opts Options) (*Result, error) {
	if f == nil || f.BuildInfo == nil {
		return nil, fmt.Errorf("infer recipe: %w", ErrNotGo)
	}
	if opts.Suite == "" {
		opts.Suite = "bookworm"
	}
	if opts.BuildArch == "" {
		opts.BuildArch = "amd64"
	}
	in := &inferrer{f: f, opts: opts, bi: f.BuildInfo, set: map[string]string{}}
	for _, s := range in.bi.Settings {
		in.set[s.Key] = s.Value
		if !slices.Contains(known, s.Key) {
			in.note(Unknown, s.Key, s.Value, "a build setting infer does not know; the recipe ignores it")
		}
	}
	return in.run()
}

func (in *inferrer) run() (*Result, error) {
	bi, set := in.bi, in.set
	r := &recipes.Recipe{Schema: recipes.SchemaVersion}

	// Toolchain.
	goVersion, _, _ := strings.Cut(bi.GoVersion, " ")
	tc := strings.TrimPrefix(goVersion, "go")
	if err := recipes.CheckGoVersion(tc); err != nil {
		return nil, fmt.Errorf("infer toolchain from %q: %w", bi.GoVersion, err)
	}
	if goVersion != bi.GoVersion {
		in.note(Unknown, "toolchain", bi.GoVersion, "the Go version carries a suffix (a patched or experimental toolchain); the recipe uses the plain release %s", goVersion)
	}
	if c := set["-compiler"]; c != "" && c != "gc" {
		return nil, fmt.Errorf("infer toolchain: built with the %s compiler; only gc toolchains are published as modules", c)
	}
	dist := DistCommand(in.f)
	if dist {
		in.note(Certain, "toolchain", "/src/bin/go", "build info: %s, a command of the Go %s distribution: rebuilt from that distribution's source with its own go command (GOROOT /src)", bi.Path, tc)
	} else {
		r.Toolchain.Go = tc
		in.note(Certain, "toolchain", tc, "build info: %s", goVersion)
	}

	// Build flags.
	var flags []string
	if m := set["-buildmode"]; m != "" && m != "exe" {
		flags = append(flags, "-buildmode="+m)
		in.note(Certain, "-buildmode", m, "build info")
	}
	trimpath := set["-trimpath"] == "true"
	if trimpath {
		flags = append(flags, "-trimpath")
		in.note(Certain, "-trimpath", "true", "build info")
	} else {
		in.note(Certain, "-trimpath", "false", "build info records no -trimpath: the binary holds the absolute source paths of the original build")
	}
	for _, k := range []string{"-race", "-msan", "-asan"} {
		if set[k] == "true" {
			flags = append(flags, k)
			in.note(Certain, k, "true", "build info")
		}
	}
	for _, k := range []string{"-tags", "-gcflags", "-asmflags"} {
		if v, ok := set[k]; ok {
			flags = append(flags, k+"="+v)
			in.note(Certain, k, v, "build info")
		}
	}
	if p, ok := set["-pgo"]; ok {
		in.note(Guess, "-pgo", p, "build info records a profile; the go command's default (-pgo=auto) uses default.pgo in the main package's directory, which must be in the source")
	}

	// Environment.
	env := map[string]string{}
	for _, k := range append([]string{"CGO_ENABLED", "GOOS", "GOARCH", "GOEXPERIMENT", "GOFIPS140"}, archEnv...) {
		if v, ok := set[k]; ok {
			env[k] = v
			in.note(Certain, k, v, "build info")
		}
	}
	for _, k := range []string{"CGO_CFLAGS", "CGO_CPPFLAGS", "CGO_CXXFLAGS", "CGO_FFLAGS", "CGO_LDFLAGS"} {
		if v := set[k]; v != "" {
			env[k] = v
			in.note(Certain, k, v, "build info")
		}
	}
	if dist && gopathDist(goVersion) {
		in.distGOPATH(env)
	} else if _, ok := set["DefaultGODEBUG"]; ok {
		in.note(Certain, "DefaultGODEBUG", "", "follows from the source's go.mod and //go:debug lines; nothing to set")
	}
	if len(env) > 0 {
		r.Env = env
	}

	// Image.
	var packages []string
	vcs := set["vcs"]
	switch vcs {
	case "":
	case "git":
		packages = append(packages, "git")
		in.note(Certain, "image", "debian "+in.opts.Suite+" with git", "the binary is stamped with VCS information (vcs.revision %s): the go command ran git during the build, so the rebuild needs git in the image and a git checkout", short(set["vcs.revision"]))
	default:
		in.note(Unknown, "vcs", vcs, "stamped from a %s checkout; only git sources are supported, so the rebuild will lack this stamping", vcs)
	}
	if set["CGO_ENABLED"] == "1" {
		if in.f.Dynamic {
			packages = append(packages, "gcc", "libc6-dev")
			in.note(Guess, "image", "gcc, libc6-dev", "the binary uses cgo (it has a dynamic loader): a C toolchain is needed; its version (Debian %s's) may differ from the original's", in.opts.Suite)
		} else if in.f.Format == ELF {
			in.note(Certain, "image", "no C compiler", "CGO_ENABLED=1 but the binary is statically linked: no package used cgo")
		} else {
			in.note(Guess, "image", "no C compiler", "CGO_ENABLED=1; whether a package used cgo is not read from %v files", in.f.Format)
		}
	}
	if len(packages) > 0 {
		r.Image.Debian = &recipes.DebianImage{Suite: in.opts.Suite, Packages: packages}
	}

	// Source.
	src, moduleDir := in.source(r)
	if vcs == "" && src.Git != nil {
		// A git checkout in the build would otherwise stamp what the
		// original did not.
		flags = append(flags, "-buildvcs=false")
		in.note(Certain, "-buildvcs", "false", "the binary has no VCS stamping, and the rebuild runs in a git checkout")
	}

	// Linker flags.
	spellings, ldOK := in.ldflags(trimpath)
	if !ldOK {
		in.note(Unknown, "-ldflags", "", "the executable lacks a symbol table or DWARF that its recorded flags would have kept: it was probably stripped after linking (strip, upx); no go build reproduces that")
	}

	// Name, version, output.
	pkg, out := in.pkg()
	if in.opts.Output != "" {
		out = in.opts.Output
	}
	r.Name = sanitizeName(out)
	if dist {
		r.Version = goVersion
	} else {
		r.Version = in.version()
	}
	r.Outputs = []recipes.Output{{Path: out, Shipped: in.opts.Shipped}}

	// Release tooling: the tag the version came from, and the goreleaser
	// build that made the binary, whose ldflags become the first candidate.
	var release *renderedBuild
	if s := in.opts.Source; s != nil {
		tag := in.versionTag(s)
		var relTag string
		release, relTag = in.goreleaser(s, pkg, moduleDir, tag, src)
		if tag == "" {
			tag = relTag
		}
		if tag != "" && src.Git != nil {
			g := *src.Git
			g.Tag = tag
			src.Git = &g
		}
	}

	alts := in.opts.Ldflags
	if len(alts) == 0 {
		alts = []string{""}
		if trimpath && set["-ldflags"] == "" && release == nil {
			in.note(Unknown, "-ldflags", "", "with -trimpath the go command does not record -ldflags: besides -s/-w/-buildid (read from the executable), a -X version stamp or other linker flag cannot be inferred; if the rebuild differs in string data, give the flags with --ldflags")
		}
	} else {
		in.note(Guess, "-ldflags", strings.Join(alts, " | "), "given by the user (%d alternative(s)); --rebuild tries each in turn", len(alts))
	}

	mkSteps := in.stepsFor(moduleDir, src)
	if src.GoModule != nil && in.bi.Main.Sum != "" {
		in.note(Unknown, "steps", "go build", "the binary was made by go install %s@%s, so its build info names the main module by version and go.sum hash; a go build in the module's extracted source records (devel) there instead, so the rebuild will differ in the build info (and build ID): the hermetic build cannot run go install path@version (it needs the checksum database and a writable module cache)", in.bi.Path, in.bi.Main.Version)
	}
	res := &Result{}
	seen := map[string]bool{}
	type try struct {
		ld     string
		stamps []Stamp
	}
	var tries []try
	if release != nil {
		ld := release.Ldflags
		if strings.HasSuffix(spellings[0], "-buildid=") && !strings.Contains(ld, "-buildid=") {
			ld += " -buildid="
		}
		tries = append(tries, try{ld, release.Stamps})
	}
	for _, extra := range alts {
		for _, sp := range spellings {
			tries = append(tries, try{ld: strings.TrimSpace(sp + " " + extra)})
		}
	}
	for _, tr := range tries {
		{
			ld := tr.ld
			if seen[ld] {
				continue
			}
			seen[ld] = true
			c := *r
			argv := []string{"go", "build"}
			if dist {
				argv[0] = "/src/bin/go"
			}
			argv = append(argv, flags...)
			if ld != "" {
				argv = append(argv, "-ldflags="+ld)
			}
			argv = append(argv, "-o", "/out/"+out, pkg)
			c.Steps = mkSteps(argv)
			c.Source = src
			res.Candidates = append(res.Candidates, Candidate{Ldflags: ld, Stamps: tr.stamps, Recipe: &c})
		}
	}
	res.Recipe = res.Candidates[0].Recipe
	if in.opts.Source != nil {
		res.StampVars = in.opts.Source.StampVars
	}
	res.Findings = in.findings
	res.Incomplete = incomplete(res.Recipe)
	return res, nil
}

// gopathDist reports whether the Go distribution of goVersion ("go1.22.12")
// built its commands in GOPATH mode: every release from 1.21 (the first
// published as golang.org/toolchain modules) to 1.23. Rebuilding bin/gofmt
// and bin/go of 1.21.13, 1.22.12 and 1.23.5 gives the shipped bytes with
// GO111MODULE=off and different ones without it; from 1.24 on, a
// module-mode build gives them (the catalogue's 1.24, 1.25 and 1.26
// recipes).
func gopathDist(goVersion string) bool {
	return goversion.Compare(goVersion, "go1.24") < 0
}

// distGOPATH sets what a GOPATH-mode command of the distribution needs. Its
// recorded DefaultGODEBUG is the evidence: GOPATH mode gives the standard
// library's commands Go 1.20's defaults (panicnil=1, …), where a module-mode
// build of the same source records the distribution's own (none).
func (in *inferrer) distGOPATH(env map[string]string) {
	env["GO111MODULE"] = "off"
	if d := in.set["DefaultGODEBUG"]; d != "" {
		in.note(Certain, "GO111MODULE", "off", "the Go %s distribution built its commands in GOPATH mode (as every release from 1.21 to 1.23 did): the recorded DefaultGODEBUG=%s holds Go 1.20's defaults, which only a GOPATH-mode build gives them", strings.TrimPrefix(in.bi.GoVersion, "go"), d)
		in.note(Certain, "DefaultGODEBUG", "", "follows from GOPATH mode; nothing to set")
		return
	}
	in.note(Guess, "GO111MODULE", "off", "releases 1.21 to 1.23 built their commands in GOPATH mode, but this binary records no DefaultGODEBUG (Go 1.20's defaults) to show it")
}

// SetDebianImage puts img (a locked image) in place of the Debian image
// infer named, in the recipe and every candidate, and says again what is
// incomplete. Locking reads the archive's signed indexes, which infer does
// not: pipeline.Infer (or the user, with reprove lock) does it.
func (res *Result) SetDebianImage(img *recipes.DebianImage) {
	for i := range res.Candidates {
		if res.Candidates[i].Recipe.Image.Debian != nil {
			res.Candidates[i].Recipe.Image.Debian = img
		}
	}
	if res.Recipe.Image.Debian != nil {
		res.Recipe.Image.Debian = img
	}
	res.Incomplete = incomplete(res.Recipe)
}

// incomplete lists the fields that keep r from validating.
func incomplete(r *recipes.Recipe) []string {
	err := r.Validate()
	if err == nil {
		return nil
	}
	var out []string
	var es recipes.Errors
	var e *recipes.Error
	switch {
	case errors.As(err, &es):
		for _, e := range es {
			out = append(out, what(e))
		}
	case errors.As(err, &e):
		out = append(out, what(e))
	default:
		out = append(out, err.Error())
	}
	return out
}

// what is one problem of an incomplete recipe, with what fills it in where
// infer knows: a clone whose origin is a path or an scp-style address
// (git@host:repo) gives no URL a rebuilder can fetch.
func what(e *recipes.Error) string {
	if e.Field == "source.git.url" {
		return e.Error() + "; give the repository's URL with --source-url"
	}
	return e.Error()
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

// sanitizeName makes a recipe name from an output file name.
func sanitizeName(s string) string {
	s = strings.TrimSuffix(path.Base(s), ".exe")
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '+' || c == '-') {
			b[i] = '-'
		}
	}
	s = strings.TrimLeft(string(b), "._+-")
	if s == "" {
		return "program"
	}
	return s
}

func (in *inferrer) version() string {
	v := in.bi.Main.Version
	if v != "" && v != "(devel)" {
		in.note(Certain, "version", v, "build info: main module version")
		return v
	}
	if v := in.opts.PackageVersion; v != "" {
		in.note(Certain, "version", v, "%s states it (the binary records no module version)", in.opts.PackageManifest)
		return v
	}
	if rev := in.set["vcs.revision"]; rev != "" {
		in.note(Guess, "version", short(rev), "no module version recorded; named after the %s revision", in.set["vcs"])
		return short(rev)
	}
	in.note(Unknown, "version", "unknown", "no module version or revision recorded; set version by hand")
	return "unknown"
}

// pkg returns the package argument of go build and the output name.
func (in *inferrer) pkg() (pkg, out string) {
	p, m := in.bi.Path, in.bi.Main.Path
	ext := ""
	if in.set["GOOS"] == "windows" {
		ext = ".exe"
	}
	switch {
	case p == "command-line-arguments" || p == "":
		in.note(Unknown, "package", ".", "built from a list of files (go build file.go ...): the files are not recorded; the recipe builds the package in the module's directory")
		return ".", sanitizeName(execName(m)) + ext
	case p == m:
		in.note(Certain, "package", ".", "build info: main package %s is the module root", p)
	case strings.HasPrefix(p, m+"/"):
		rel := "./" + strings.TrimPrefix(p, m+"/")
		in.note(Certain, "package", rel, "build info: main package %s in module %s", p, m)
		return rel, execName(p) + ext
	case m == "":
		// A command of the Go distribution (cmd/gofmt): no main module.
		in.note(Certain, "package", p, "build info: %s has no main module (a command of the Go distribution)", p)
		return p, execName(p) + ext
	default:
		in.note(Unknown, "package", p, "main package %s is outside main module %s", p, m)
		return p, execName(p) + ext
	}
	return ".", execName(p) + ext
}

// execName is the name go build gives the program of package p: its last
// element, or the one before when the last is a major version suffix
// (example.com/tool/v2 builds "tool", as the go command names it).
func execName(p string) string {
	elem := path.Base(p)
	if dir := path.Dir(p); dir != "." && dir != "/" && isMajorSuffix(elem) {
		return path.Base(dir)
	}
	return elem
}

// isMajorSuffix reports whether elem is a module path's major version
// element: v2, v3, … (v0 and v1 are never suffixes; v02 is not one).
func isMajorSuffix(elem string) bool {
	if len(elem) < 2 || elem[0] != 'v' || elem[1] < '1' || elem[1] > '9' {
		return false
	}
	for _, c := range elem[2:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return elem != "v1"
}

// source decides the recipe's source and the main module's directory in it.
func (in *inferrer) source(r *recipes.Recipe) (recipes.Source, string) {
	set := in.set
	rev := ""
	if set["vcs"] == "git" {
		rev = set["vcs.revision"]
	}
	if set["vcs.modified"] == "true" {
		in.note(Unknown, "source", "", "vcs.modified=true: the binary was built from a checkout with uncommitted changes; no commit reproduces it exactly")
	}
	if s := in.opts.Source; s != nil {
		switch {
		case s.Git != nil:
			g := *s.Git
			switch {
			case rev != "" && g.Commit != rev:
				in.note(Unknown, "source.git.commit", g.Commit, "the binary was built from revision %s, not %s", rev, g.Commit)
			case rev != "":
				in.note(Certain, "source.git.commit", g.Commit, "build info: vcs.revision")
			default:
				in.note(Guess, "source.git.commit", g.Commit, "the binary records no revision; the commit was given")
			}
			if g.Tree != "" {
				in.note(Certain, "source.git.tree", string(g.Tree), "computed from a checkout of %s", short(g.Commit))
			}
			in.moduleDirNote(s.ModuleDir)
			return recipes.Source{Git: &g}, s.ModuleDir
		case s.Dir != nil:
			d := *s.Dir
			if set["vcs"] != "" {
				in.note(Unknown, "source", d.Path, "the binary carries VCS stamping, but a directory's tree digest does not cover .git, so the revision a rebuild stamps is not pinned (nor there at all without .git): point --source at a git clone or URL")
			}
			in.note(Certain, "source.dir.tree", string(d.Tree), "computed from %s", d.Path)
			in.moduleDirNote(s.ModuleDir)
			return recipes.Source{Dir: &d}, s.ModuleDir
		case s.GoModule != nil:
			m := *s.GoModule
			return recipes.Source{GoModule: &m}, s.ModuleDir
		}
	}
	if DistCommand(in.f) {
		v := recipes.ToolchainVersion(strings.TrimPrefix(strings.Fields(in.bi.GoVersion)[0], "go"), in.opts.BuildArch)
		if in.opts.ToolchainSum != "" {
			in.note(Certain, "source.gomod", recipes.ToolchainModule+"@"+v, "the Go distribution for linux/%s, its hash from the checksum database", in.opts.BuildArch)
		} else {
			in.note(Unknown, "source.gomod.sum", "", "the go.sum hash of %s@%s was not looked up: copy it from the checksum database", recipes.ToolchainModule, v)
		}
		return recipes.Source{GoModule: &recipes.GoModuleSource{Path: recipes.ToolchainModule, Version: v, Sum: in.opts.ToolchainSum}}, ""
	}
	m := in.bi.Main
	if m.Sum != "" {
		// go install path@version: the main module came from the proxy.
		in.note(Certain, "source.gomod", m.Path+"@"+m.Version, "build info records the main module's version and go.sum hash: it was built with go install %s@%s", in.bi.Path, m.Version)
		return recipes.Source{GoModule: &recipes.GoModuleSource{Path: m.Path, Version: m.Version, Sum: m.Sum}}, ""
	}
	url := repoURL(m.Path)
	if url == "" {
		url = "https://" + m.Path
	}
	in.note(Guess, "source.git.url", url, "from the module path %s; check it, or give --source", m.Path)
	if rev != "" {
		in.note(Certain, "source.git.commit", rev, "build info: vcs.revision")
	} else {
		in.note(Unknown, "source.git.commit", "", "the binary records no revision; give --source and --commit")
	}
	in.note(Unknown, "source.git.tree", "", "the sha256 tree digest needs a checkout: give --source (a clone, or the repository URL)")
	if strings.Contains(m.Path, "/v") && repoURL(m.Path) != "" {
		in.note(Guess, "module directory", "", "assumed at the repository root; a /vN module may live in a subdirectory")
	}
	return recipes.Source{Git: &recipes.GitSource{URL: url, Commit: rev}}, ""
}

func (in *inferrer) moduleDirNote(dir string) {
	if dir != "" {
		in.note(Certain, "module directory", dir, "the go.mod of %s was found there", in.bi.Main.Path)
	}
}

// repoURL guesses a repository URL from a module path on a well-known code
// host, where the first three elements name the repository.
func repoURL(modPath string) string {
	parts := strings.Split(modPath, "/")
	switch parts[0] {
	case "github.com", "gitlab.com", "bitbucket.org", "codeberg.org":
		if len(parts) >= 3 {
			return "https://" + strings.Join(parts[:3], "/")
		}
	}
	return ""
}

// ldflags returns the spellings of the linker flags implied by what the
// executable lacks, most common first. The spelling matters even where the
// effect is the same ("-s" and "-s -w" since Go 1.22): the go command
// hashes the flags into the build ID the linker writes. Only an empty
// build ID (-buildid=) makes the spellings equal. ok is false when the
// recorded flags contradict the executable.
func (in *inferrer) ldflags(trimpath bool) (spellings []string, ok bool) {
	f := in.f
	if ld, ok := in.set["-ldflags"]; ok {
		in.note(Certain, "-ldflags", ld, "build info (recorded because the build did not use -trimpath)")
		return []string{ld}, true
	}
	if !trimpath {
		// Without -trimpath any -ldflags would have been recorded.
		in.note(Certain, "-ldflags", "", "none: without -trimpath the go command records -ldflags, and none are recorded")
		return []string{""}, f.Symbols && f.DWARF
	}
	goVersion, _, _ := strings.Cut(in.bi.GoVersion, " ")
	sImpliesW := goversion.Compare(goVersion, "go1.22") >= 0
	switch {
	case !f.Symbols && !f.DWARF:
		spellings = []string{"-s -w", "-w -s"}
		if sImpliesW {
			spellings = []string{"-s -w", "-s", "-w -s"}
		}
		in.note(Certain, "-ldflags", "-s -w", "the %v file has neither a symbol table nor DWARF", f.Format)
	case !f.Symbols:
		spellings = []string{"-s"}
		if sImpliesW {
			spellings = []string{"-s -w=0", "-w=0 -s"}
		}
		in.note(Certain, "-ldflags", spellings[0], "the %v file has DWARF but no symbol table", f.Format)
	case !f.DWARF:
		spellings = []string{"-w"}
		in.note(Certain, "-ldflags", "-w", "the %v file has a symbol table but no DWARF", f.Format)
	default:
		spellings = []string{""}
		in.note(Certain, "-ldflags", "no -s, no -w", "the %v file has a symbol table and DWARF", f.Format)
	}
	emptyID := false
	switch {
	case f.BuildIDFound && f.BuildID == "":
		emptyID = true
		in.note(Certain, "-ldflags", "-buildid=", "the Go build ID is empty")
	case !f.BuildIDFound && f.Format == ELF:
		emptyID = true
		in.note(Certain, "-ldflags", "-buildid=", "the ELF file has no Go build ID note, which the linker writes unless -buildid= is given")
	case !f.BuildIDFound:
		in.note(Guess, "-ldflags", "", "no Go build ID found in the %v file; if the rebuild differs only there, add -buildid=", f.Format)
	}
	if emptyID {
		// No build ID, so no hash of the spelling: one candidate will do.
		return []string{strings.TrimSpace(spellings[0] + " -buildid=")}, true
	}
	if len(spellings) > 1 {
		in.note(Guess, "-ldflags", strings.Join(quoteAll(spellings), " | "), "the build ID hashes how the flags were spelled, which the binary does not reveal: each spelling is a candidate for --rebuild")
	}
	return spellings, true
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// stepsFor decides once how a go build command line becomes steps, noting
// why, and returns the function that does it for each candidate.
func (in *inferrer) stepsFor(moduleDir string, src recipes.Source) func(argv []string) []recipes.Step {
	plain := func(argv []string) []recipes.Step { return []recipes.Step{{Run: argv, Dir: moduleDir}} }
	if in.set["-trimpath"] == "true" {
		return plain
	}
	if in.f.MainDir == "" {
		in.note(Unknown, "build directory", "", "the binary was built without -trimpath but its source paths could not be read from the %v file; the rebuild runs in /src, and its embedded paths differ unless the original build ran there too", in.f.Format)
		return plain
	}
	// Without -trimpath the binary embeds the directory it was built in:
	// the rebuild must run at that same path.
	pkgRel := strings.TrimPrefix(strings.TrimPrefix(in.bi.Path, in.bi.Main.Path), "/")
	modRoot := in.f.MainDir
	if pkgRel != "" {
		modRoot = strings.TrimSuffix(modRoot, "/"+pkgRel)
	}
	srcRoot := modRoot
	if moduleDir != "" {
		srcRoot = strings.TrimSuffix(modRoot, "/"+moduleDir)
	}
	in.note(Certain, "build directory", modRoot, "read from the line table: the rebuild copies the source to %s and builds there", srcRoot)
	if in.opts.BuildGoRoot != "" && in.f.GoRoot != "" && in.f.GoRoot != in.opts.BuildGoRoot {
		in.note(Unknown, "GOROOT", in.f.GoRoot, "the original Go installation was at %s, the build container's is at %s: the embedded paths will differ", in.f.GoRoot, in.opts.BuildGoRoot)
	}
	if len(in.bi.Deps) > 0 {
		in.note(Unknown, "GOMODCACHE", "", "without -trimpath the source paths of the %d dependencies (in the original module cache) are embedded too; the builder's module cache is at another path", len(in.bi.Deps))
	}
	if srcRoot == "/src" {
		return plain
	}
	if !slices.ContainsFunc(in.opts.Writable, func(w string) bool { return srcRoot == w || strings.HasPrefix(srcRoot, w+"/") }) {
		in.note(Unknown, "build directory", srcRoot, "is outside the directories a build may write (%s): the copy will fail", strings.Join(in.opts.Writable, ", "))
	}
	return func(argv []string) []recipes.Step {
		script := fmt.Sprintf("mkdir -p %s\ncp -a /src/. %s/\ncd %s\n%s\n",
			shellQuote(srcRoot), shellQuote(srcRoot), shellQuote(modRoot), shellJoin(argv))
		return []recipes.Step{{Shell: script}}
	}
}

// shellQuote quotes s for /bin/sh when it holds anything but safe
// characters.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}
