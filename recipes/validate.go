package recipes

import (
	_ "crypto/sha512" // registers sha384 and sha512 with go-digest
	"encoding/base64"
	"errors"
	"fmt"
	goversion "go/version"
	"io/fs"
	"math"
	"net/url"
	pathpkg "path"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/internal/lazyre"
	"github.com/reprove/reprove/internal/strictyaml"
)

// Validate checks every rule of the format and returns all problems found
// (an *Error, or Errors when there are several), located when the recipe
// was parsed from text. A recipe built in code is validated the same way.
func (r *Recipe) Validate() error {
	v := &validator{errorList: errorList{doc: r.doc}}
	v.recipe(r)
	return v.errs.Err()
}

type validator struct {
	errorList
}

var (
	nameRE      = lazyre.New(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)
	envRE       = lazyre.New(`^[A-Za-z_][A-Za-z0-9_]*$`)
	suiteRE     = lazyre.New(`^[a-z][a-z0-9-]*$`)
	debPkgRE    = lazyre.New(`^[a-z0-9][a-z0-9+.-]+$`) // Debian Policy 5.6.1
	normalizeRE = lazyre.New(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	commitRE    = lazyre.New(`^([0-9a-f]{40}|[0-9a-f]{64})$`)
)

func (v *validator) recipe(r *Recipe) {
	switch {
	case r.Schema == 0:
		v.at("schema", fmt.Errorf("%w: write schema: %d", ErrRequired, SchemaVersion))
	case r.Schema != SchemaVersion:
		v.at("schema", fmt.Errorf("%w %d (this reprove reads schema %d)", ErrSchema, r.Schema, SchemaVersion))
	}
	v.identifier("name", r.Name)
	v.text("version", r.Version)
	v.source(&r.Source)
	v.toolchain(r.Toolchain)
	v.image(r.Image)
	v.env(r.Env)
	v.steps(r.Steps)
	v.outputs(r.Outputs)
	v.normalizers(r.Normalizers)
	v.limits(r.Limits)
	v.utf8(reflect.ValueOf(r).Elem(), "")
}

// utf8 refuses text that is not UTF-8 anywhere in the recipe: JSON would
// replace it with U+FFFD, and two different recipes would then share one
// canonical form and digest. (YAML input is UTF-8 already; this guards
// recipes built in code.)
func (v *validator) utf8(val reflect.Value, path string) {
	switch val.Kind() {
	case reflect.Pointer:
		if !val.IsNil() {
			v.utf8(val.Elem(), path)
		}
	case reflect.Struct:
		names, index := strictyaml.Fields(val.Type())
		for _, n := range names {
			v.utf8(val.Field(index[n]), strictyaml.Join(path, n))
		}
	case reflect.Slice:
		for i := 0; i < val.Len(); i++ {
			v.utf8(val.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		for _, k := range val.MapKeys() {
			p := strictyaml.Join(path, k.String())
			if !utf8.ValidString(k.String()) {
				v.atf(path, "a key is not valid UTF-8")
			}
			v.utf8(val.MapIndex(k), p)
		}
	case reflect.String:
		if !utf8.ValidString(val.String()) {
			v.atf(path, "not valid UTF-8")
		}
	}
}

func (v *validator) required(path string) {
	v.at(path, ErrRequired)
}

func (v *validator) identifier(path, s string) {
	switch {
	case s == "":
		v.required(path)
	case len(s) > 128 || !nameRE().MatchString(s):
		v.atf(path, "%q is not a valid name: use letters, digits and . _ + - (at most 128)", s)
	}
}

// text checks a short free-form field: set, printable, no spaces.
func (v *validator) text(path, s string) {
	switch {
	case s == "":
		v.required(path)
	case len(s) > 128:
		v.atf(path, "longer than 128 bytes")
	case strings.IndexFunc(s, func(c rune) bool { return c <= ' ' || c == 0x7f }) >= 0:
		v.atf(path, "%q contains a space or control character", s)
	}
}

// Digest checks that d is a well-formed digest by an accepted algorithm
// (sha256, sha384 or sha512). md5 and sha1 are refused as pins.
func checkDigest(d digest.Digest) error {
	if d == "" {
		return ErrRequired
	}
	alg, _, ok := strings.Cut(string(d), ":")
	if !ok {
		return fmt.Errorf("%q is not a digest: write algorithm:hex, for example sha256:<64 hex digits>", d)
	}
	switch strings.ToLower(alg) {
	case "md5", "sha1", "sha224":
		return fmt.Errorf("%w: %s is not accepted as a pin; use sha256 or stronger", ErrWeakDigest, alg)
	}
	if err := d.Validate(); err != nil {
		return fmt.Errorf("invalid digest %q: %w", d, err)
	}
	return nil
}

func (v *validator) digest(path string, d digest.Digest) {
	if err := checkDigest(d); err != nil {
		v.at(path, err)
	}
}

// localPath checks a path on the machine running reprove (a dir source, a
// local archive or shipped file).
func (v *validator) localPath(path, p string) {
	switch {
	case p == "":
		v.required(path)
	case strings.ContainsRune(p, 0):
		v.atf(path, "contains a NUL byte")
	}
}

// relPath checks a path inside the source tree, /out or an archive: it must
// be a clean relative slash-separated path with no "." or ".." element.
func (v *validator) relPath(path, p string) {
	switch {
	case p == "":
		v.required(path)
	case !fs.ValidPath(p) || p == "." || strings.Contains(p, `\`):
		v.atf(path, "%q is not a clean relative path (no leading /, no . or .. elements, no empty elements, no backslashes)", p)
	case strings.IndexFunc(p, unicode.IsControl) >= 0:
		v.atf(path, "%q contains a NUL byte or another control character", p)
	}
}

// fetchURL checks a URL reprove downloads from.
func (v *validator) fetchURL(path, s string, schemes ...string) {
	if s == "" {
		v.required(path)
		return
	}
	u, err := url.Parse(s)
	if err != nil {
		v.atf(path, "invalid URL: %v", errors.Unwrap(err))
		return
	}
	if !slices.Contains(schemes, u.Scheme) {
		v.atf(path, "URL scheme %q is not supported here (use %s)", u.Scheme, strings.Join(schemes, ", "))
		return
	}
	if u.User != nil {
		v.atf(path, "the URL carries credentials; a recipe is published, so never write them in it")
	}
	if u.Host == "" && u.Scheme != "file" {
		v.atf(path, "the URL has no host")
	}
}

func (v *validator) source(s *Source) {
	var set []string
	if s.Git != nil {
		set = append(set, "git")
	}
	if s.Archive != nil {
		set = append(set, "archive")
	}
	if s.GoModule != nil {
		set = append(set, "gomod")
	}
	if s.Dir != nil {
		set = append(set, "dir")
	}
	if s.DSC != nil {
		set = append(set, "dsc")
	}
	switch len(set) {
	case 0:
		v.atf("source", "%w: set exactly one of git, archive, gomod, dir, dsc", ErrRequired)
		return
	case 1:
	default:
		v.atf("source", "set exactly one of git, archive, gomod, dir, dsc (found %s)", strings.Join(set, " and "))
		return
	}
	switch {
	case s.Git != nil:
		g := s.Git
		v.fetchURL("source.git.url", g.URL, "https", "http", "ssh", "git", "file")
		switch {
		case g.Commit == "":
			v.required("source.git.commit")
		case !commitRE().MatchString(g.Commit):
			v.atf("source.git.commit", "%q is not a full commit id (40 or 64 lower-case hex digits; branch and tag names move)", g.Commit)
		}
		if g.Tag != "" && !validTag(g.Tag) {
			v.atf("source.git.tag", "%q is not a tag name (letters, digits and . _ + - /, as git check-ref-format allows)", g.Tag)
		}
		if g.Tree == "" {
			v.atf("source.git.tree", "%w: the sha256 tree digest of the checkout (a commit id alone is SHA-1); `reprove infer --source CHECKOUT` computes it", ErrRequired)
		} else {
			v.digest("source.git.tree", g.Tree)
		}
	case s.Archive != nil:
		a := s.Archive
		switch {
		case a.URL == "" && a.Path == "":
			v.atf("source.archive", "%w: set url or path", ErrRequired)
		case a.URL != "" && a.Path != "":
			v.atf("source.archive", "set url or path, not both")
		case a.URL != "":
			v.fetchURL("source.archive.url", a.URL, "https", "http")
		default:
			v.localPath("source.archive.path", a.Path)
		}
		v.digest("source.archive.digest", a.Digest)
		if a.Strip < 0 {
			v.atf("source.archive.strip", "must not be negative")
		}
	case s.GoModule != nil:
		m := s.GoModule
		switch {
		case m.Path == "":
			v.required("source.gomod.path")
		case m.Version == "":
			v.required("source.gomod.version")
		default:
			if err := module.Check(m.Path, m.Version); err != nil {
				v.at("source.gomod", err)
			} else if semver.Canonical(m.Version) != m.Version {
				v.atf("source.gomod.version", "%q is not a canonical version (write %s)", m.Version, semver.Canonical(m.Version))
			}
		}
		if err := checkH1(m.Sum); err != nil {
			v.at("source.gomod.sum", err)
		}
	case s.Dir != nil:
		v.localPath("source.dir.path", s.Dir.Path)
		v.digest("source.dir.tree", s.Dir.Tree)
	case s.DSC != nil:
		v.fetchURL("source.dsc.url", s.DSC.URL, "https", "http")
		if u, err := url.Parse(s.DSC.URL); err == nil && !strings.HasSuffix(u.Path, ".dsc") {
			v.atf("source.dsc.url", "%q does not name a .dsc file", s.DSC.URL)
		}
		v.digest("source.dsc.digest", s.DSC.Digest)
	}
}

// checkH1 checks a go.sum hash: "h1:" and the base64 of a SHA-256.
func checkH1(sum string) error {
	if sum == "" {
		return ErrRequired
	}
	b64, ok := strings.CutPrefix(sum, "h1:")
	if !ok {
		return fmt.Errorf("%q is not a go.sum hash (want h1:<base64 of sha256>)", sum)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || len(b) != 32 {
		return fmt.Errorf("%q is not a go.sum hash: the part after h1: must be the base64 of 32 bytes", sum)
	}
	return nil
}

// CheckGoVersion checks a Go release version as written in toolchain.go
// ("1.23.5", "1.24rc1"): a release, not a language version ("1.23"), and
// one that has a golang.org/toolchain module (Go 1.21.0 and later).
func CheckGoVersion(s string) error {
	g := "go" + s
	switch {
	case strings.HasPrefix(s, "go"):
		return fmt.Errorf("%q: write the version without the go prefix", s)
	case !goversion.IsValid(g):
		return fmt.Errorf("%q is not a Go version", s)
	case goversion.Lang(g) == g:
		return fmt.Errorf("%q is a language version; name a release such as %s.0", s, s)
	case goversion.Compare(g, "go1.21.0") < 0:
		return fmt.Errorf("%q: toolchains before Go 1.21.0 are not published as modules", s)
	}
	return nil
}

func (v *validator) toolchain(t Toolchain) {
	if t.Go != "" {
		if err := CheckGoVersion(t.Go); err != nil {
			v.at("toolchain.go", err)
		}
	}
}

func (v *validator) image(im Image) {
	if im.Debian != nil && im.Ref != "" {
		v.atf("image", "set debian or ref, not both")
		return
	}
	if d := im.Debian; d != nil {
		switch {
		case d.Suite == "":
			v.required("image.debian.suite")
		case !suiteRE().MatchString(d.Suite):
			v.atf("image.debian.suite", "%q is not a Debian suite name", d.Suite)
		}
		switch d.Variant {
		case "", "minbase", "buildd", "essential":
		default:
			v.atf("image.debian.variant", "%q is not a variant reprove builds (minbase, buildd, or essential for a .buildinfo's exact set)", d.Variant)
		}
		seen := map[string]bool{}
		for i, p := range d.Packages {
			path := fmt.Sprintf("image.debian.packages[%d]", i)
			switch {
			case !debPkgRE().MatchString(p):
				v.atf(path, "%q is not a Debian package name", p)
			case seen[p]:
				v.atf(path, "%q is listed twice", p)
			}
			seen[p] = true
		}
		v.debianLock(d)
	}
	if im.Ref != "" {
		if !strings.Contains(im.Ref, "@") {
			v.atf("image.ref", "%q must name an image by digest (name@sha256:...); a tag moves", im.Ref)
			return
		}
		ref, err := name.NewDigest(im.Ref)
		if err != nil {
			v.atf("image.ref", "%q must name an image by digest (name@sha256:...): %v", im.Ref, err)
			return
		}
		v.digest("image.ref", digest.Digest(ref.DigestStr()))
	}
}

func (v *validator) env(env map[string]string) {
	for _, k := range slices.Sorted(mapKeys(env)) {
		path := "env." + k
		switch {
		case !envRE().MatchString(k):
			v.atf(path, "%q is not a valid variable name", k)
		case slices.Contains(ReservedEnv, k):
			v.atf(path, "%s is set by the builder and may not be set by a recipe", k)
		case strings.ContainsRune(env[k], 0):
			v.atf(path, "the value contains a NUL byte")
		}
	}
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (v *validator) steps(steps []Step) {
	if len(steps) == 0 {
		v.atf("steps", "%w: at least one step", ErrRequired)
	}
	for i, s := range steps {
		path := fmt.Sprintf("steps[%d]", i)
		switch {
		case len(s.Run) > 0 && s.Shell != "":
			v.atf(path, "set run or shell, not both")
		case len(s.Run) == 0 && s.Shell == "":
			v.atf(path, "%w: set run (an argv list) or shell (a script)", ErrRequired)
		case len(s.Run) > 0:
			if s.Run[0] == "" {
				v.atf(path+".run[0]", "%w: the program to run", ErrRequired)
			}
			for j, a := range s.Run {
				if strings.ContainsRune(a, 0) {
					v.atf(fmt.Sprintf("%s.run[%d]", path, j), "contains a NUL byte")
				}
			}
		default:
			if strings.ContainsRune(s.Shell, 0) {
				v.atf(path+".shell", "contains a NUL byte")
			}
		}
		if s.Dir != "" {
			v.relPath(path+".dir", s.Dir)
		}
	}
}

func (v *validator) outputs(outs []Output) {
	if len(outs) == 0 {
		v.atf("outputs", "%w: at least one output", ErrRequired)
	}
	seen := map[string]int{}
	for i, o := range outs {
		path := fmt.Sprintf("outputs[%d]", i)
		v.relPath(path+".path", o.Path)
		if j, dup := seen[o.Path]; dup && o.Path != "" {
			v.atf(path+".path", "%q is already outputs[%d]", o.Path, j)
		}
		seen[o.Path] = i
		if o.Shipped != nil {
			v.shipped(path+".shipped", o.Shipped)
		}
	}
}

func (v *validator) shipped(path string, s *Shipped) {
	switch {
	case s.URL == "" && s.Path == "":
		v.atf(path, "%w: set url or path", ErrRequired)
	case s.URL != "" && s.Path != "":
		v.atf(path, "set url or path, not both")
	case s.URL != "":
		v.fetchURL(path+".url", s.URL, "https", "http")
	default:
		v.localPath(path+".path", s.Path)
	}
	v.digest(path+".digest", s.Digest)
	switch {
	case s.Member != "":
		v.relPath(path+".member", s.Member)
		if s.MemberDigest == "" {
			v.atf(path+".member_digest", "%w: the digest of the member", ErrRequired)
		} else {
			v.digest(path+".member_digest", s.MemberDigest)
		}
	case s.MemberDigest != "":
		v.atf(path+".member_digest", "set only with member")
	}
}

func (v *validator) normalizers(ns []string) {
	seen := map[string]bool{}
	for i, n := range ns {
		path := fmt.Sprintf("normalizers[%d]", i)
		switch {
		case !normalizeRE().MatchString(n):
			v.atf(path, "%q is not a normalizer name (lower-case words joined by -)", n)
		case seen[n]:
			v.atf(path, "%q is listed twice", n)
		default:
			// The registry is compare/verdict's, a leaf without compare's
			// parsers, so every recipe loaded is checked against it and
			// lint reports an unknown name with the recipe's other
			// problems.
			if _, ok := verdict.Lookup(n); !ok {
				v.at(path, &verdict.UnknownNormalizerError{Name: n})
			}
		}
		seen[n] = true
	}
}

func (v *validator) limits(l Limits) {
	for _, f := range []struct{ path, value string }{
		{"limits.memory", l.Memory}, {"limits.disk", l.Disk}, {"limits.output_size", l.OutputSize},
	} {
		if f.value != "" {
			if _, err := ParseSize(f.value); err != nil {
				v.at(f.path, err)
			}
		}
	}
	if l.Pids < 0 {
		v.atf("limits.pids", "must not be negative")
	}
	if l.CPUs < 0 || math.IsNaN(l.CPUs) || math.IsInf(l.CPUs, 0) || l.CPUs > 1024 {
		v.atf("limits.cpus", "must be a number of CPUs between 0 and 1024")
	}
	if l.Timeout != "" {
		d, err := time.ParseDuration(l.Timeout)
		switch {
		case err != nil:
			v.atf("limits.timeout", "%q is not a duration (for example 30m or 1h30m)", l.Timeout)
		case d <= 0:
			v.atf("limits.timeout", "must be positive")
		}
	}
}

var (
	debVersionRE = lazyre.New(`^([0-9]+:)?[0-9][A-Za-z0-9.+~:-]*$`) // Debian Policy 5.6.12
	debArchRE    = lazyre.New(`^[a-z0-9][a-z0-9-]*$`)
	// archiveNameRE is an archive's name on a snapshot archive.
	archiveNameRE = lazyre.New(`^[a-z0-9][a-z0-9.-]*$`)
)

// debianLock checks a Debian image's lock: present (a Debian image is
// built only from locked files), well formed, and covering what the
// image asks for.
func (v *validator) debianLock(d *DebianImage) {
	l := d.Lock
	if l == nil {
		v.atf("image.debian.lock", "%w: a Debian image is built only from locked packages; run `reprove lock RECIPE` to resolve the suite's signed indexes and write the lock into the recipe", ErrRequired)
		return
	}
	if !debArchRE().MatchString(l.Architecture) {
		v.atf("image.debian.lock.architecture", "%q is not a Debian architecture", l.Architecture)
	}
	if l.Release.Suite != d.Suite && l.Release.Codename != d.Suite {
		v.atf("image.debian.lock.release", "the lock was resolved for %q (%s), not %q: run `reprove lock RECIPE` again", l.Release.Suite, l.Release.Codename, d.Suite)
	}
	if _, err := time.Parse(time.RFC3339, l.Release.Date); err != nil {
		v.atf("image.debian.lock.release.date", "%q is not an RFC 3339 time", l.Release.Date)
	}
	v.digest("image.debian.lock.release.digest", l.Release.Digest)
	origins := map[string]bool{}
	for i, a := range l.Also {
		path := fmt.Sprintf("image.debian.lock.also[%d]", i)
		v.fetchURL(path+".archive", a.Archive, "http", "https")
		if u, err := url.Parse(a.Archive); err == nil && a.Archive != "" && (u.RawQuery != "" || u.Fragment != "" || !archiveNameRE().MatchString(pathpkg.Base(u.Path))) {
			v.atf(path+".archive", "%q is not an archive's base URL: its last path element names the archive (debian-security), with no query or fragment", a.Archive)
		}
		switch {
		case a.Suite == "":
			v.required(path + ".suite")
		case !suiteRE().MatchString(a.Suite):
			v.atf(path+".suite", "%q is not a Debian suite name", a.Suite)
		}
		if a.Codename != "" && !suiteRE().MatchString(a.Codename) {
			v.atf(path+".codename", "%q is not a Debian suite name", a.Codename)
		}
		if _, err := time.Parse(time.RFC3339, a.Date); err != nil {
			v.atf(path+".date", "%q is not an RFC 3339 time", a.Date)
		}
		v.digest(path+".digest", a.Digest)
		switch n := a.Release().Name(); {
		case n == "":
		case origins[n] || n == l.Release.Name():
			v.atf(path, "%q is named twice: each Release of a lock has its own codename", n)
		default:
			origins[n] = true
		}
	}
	if len(l.Packages) == 0 {
		v.atf("image.debian.lock.packages", "%w: the lock lists no packages", ErrRequired)
	}
	names, paths := map[string]bool{}, map[string]bool{}
	for i, p := range l.Packages {
		path := fmt.Sprintf("image.debian.lock.packages[%d]", i)
		switch {
		case !debPkgRE().MatchString(p.Name):
			v.atf(path+".name", "%q is not a Debian package name", p.Name)
		case names[p.Name]:
			v.atf(path+".name", "%q is locked twice", p.Name)
		case i > 0 && l.Packages[i-1].Name > p.Name:
			v.atf(path+".name", "%q is out of order: the lock is sorted by name", p.Name)
		}
		names[p.Name] = true
		if !debVersionRE().MatchString(p.Version) {
			v.atf(path+".version", "%q is not a Debian version", p.Version)
		}
		if p.Arch != "all" && p.Arch != l.Architecture {
			v.atf(path+".arch", "%q is neither all nor the lock's %s", p.Arch, l.Architecture)
		}
		v.relPath(path+".path", p.Path)
		if !strings.HasPrefix(p.Path, "pool/") || !strings.HasSuffix(p.Path, ".deb") {
			v.atf(path+".path", "%q is not a .deb in the archive's pool/", p.Path)
		}
		if p.Size <= 0 {
			v.atf(path+".size", "must be positive")
		}
		v.digest(path+".sha256", p.SHA256)
		if p.SHA256 != "" && p.SHA256.Algorithm() != digest.SHA256 {
			v.atf(path+".sha256", "must be a sha256: digest, as the archive's indexes give")
		}
		if p.From != "" && !origins[p.From] {
			v.atf(path+".from", "%q names no Release of the lock's also", p.From)
		}
		if len(l.Also) > 0 {
			// Two archives share one local repository in the image.
			if paths[p.Path] {
				v.atf(path+".path", "%q is locked twice", p.Path)
			}
			paths[p.Path] = true
		}
	}
	for i, p := range d.Packages {
		if !names[p] && len(l.Packages) > 0 {
			v.atf(fmt.Sprintf("image.debian.packages[%d]", i), "%q is not in the lock: run `reprove lock RECIPE` again", p)
		}
	}
}

// validTag reports whether t is a tag name git accepts (git
// check-ref-format, narrowed to the characters release tags use): no
// empty, leading-dot or .lock components, no "..", no leading dash.
func validTag(t string) bool {
	if len(t) > 255 || !tagRE().MatchString(t) || strings.Contains(t, "..") || strings.HasPrefix(t, "-") {
		return false
	}
	for _, c := range strings.Split(t, "/") {
		if c == "" || strings.HasPrefix(c, ".") || strings.HasSuffix(c, ".lock") || strings.HasSuffix(c, ".") {
			return false
		}
	}
	return true
}

var tagRE = lazyre.New(`^[A-Za-z0-9._+/-]+$`)
