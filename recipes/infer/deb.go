package infer

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"pault.ag/go/debian/version"

	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/debian/deb822"
	"github.com/reprove/reprove/debian/debfile"
	"github.com/reprove/reprove/debian/lock"
	"github.com/reprove/reprove/internal/lazyre"
	"github.com/reprove/reprove/recipes"
)

// ErrNotDeb is returned for a file that is not a Debian binary package.
var ErrNotDeb = errors.New("not a Debian binary package (.deb)")

// IsDeb reports whether the file at p starts as a .deb does.
func IsDeb(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 21)
	n, _ := f.Read(head)
	return n == 21 && string(head) == "!<arch>\ndebian-binary"
}

// DebFacts is what a .deb and the archive say about it.
type DebFacts struct {
	// Control is the .deb's own control file.
	Control *deb822.BinaryPackage
	Digest  digest.Digest
	// Source is the source package's paragraph in the suite's signed
	// Sources index.
	Source *deb822.SourcePackage
	// InArchive is the binary's paragraph in the signed Packages index
	// (nil when the suite holds another version).
	InArchive *deb822.BinaryPackage
	// Lock is the build environment: buildd and the source's
	// Build-Depends, resolved against the suite (or exactly a
	// .buildinfo's Installed-Build-Depends).
	Lock *recipes.DebianLock
	// BuildInfo, when given, is the .buildinfo of the original build.
	BuildInfo *deb822.BuildInfo
	// BinNMU is the changelog entry of a binary-only upload (a binNMU:
	// the same source built again, its version suffixed +bN), as the .deb
	// ships it in usr/share/doc/PACKAGE/changelog.Debian.ARCH.gz; empty
	// for a .deb built from its source version as it is.
	BinNMU string
	Mirror string
	Suite  string
	// SourceMirror and SourceSuite are where the source package was
	// found when not in Suite on Mirror: a security update's, in
	// SUITE-security of the security archive. The lock then spans both.
	SourceMirror, SourceSuite string
	// InArchiveMirror is the archive InArchive is in (Mirror when empty).
	InArchiveMirror string
}

// DebOptions are what ReadDebFacts may be given beside the .deb.
type DebOptions struct {
	// BuildInfo is the original build's .buildinfo: its
	// Installed-Build-Depends are locked exactly, from Snapshot.
	BuildInfo *deb822.BuildInfo
	// Snapshot reads the snapshot archive (its Base the snapshot
	// archive's base URL); needed with BuildInfo.
	Snapshot *archive.Client
	// Security, when set, reads the security archive (its Base, for
	// example archive.DefaultSecurity): a .deb whose source version the
	// suite does not hold is looked for in SUITE-security there, and
	// found, its build environment is locked over both suites, as
	// Debian's security buildds install from both. With a .buildinfo of
	// a security update (Distribution SUITE-security), both suites are
	// read from the snapshot archive at the build's date, and only
	// Security's Base is used: the archive the lock records.
	Security *archive.Client
}

// ReadDebFacts reads the .deb at p, finds its source package in the
// suite's signed Sources index and locks its build environment.
func ReadDebFacts(ctx context.Context, c *archive.Client, p, suite string, opts ...DebOptions) (*DebFacts, error) {
	var o DebOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("infer: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	raw, err := debfile.Control(p, f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("infer: %w", err)
	}
	ctl, err := deb822.ParseControl(p+": control", raw)
	if err != nil {
		return nil, fmt.Errorf("infer: %w", err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		return nil, err
	}
	d, err := digest.SHA256.FromReader(f)
	if err != nil {
		return nil, err
	}
	facts := &DebFacts{Control: ctl, Digest: d, Mirror: strings.TrimSuffix(c.Base, "/"), Suite: suite}
	if facts.BinNMU, err = binNMUEntry(p, f, fi.Size(), ctl); err != nil {
		return nil, fmt.Errorf("infer: %w", err)
	}
	if facts.Mirror == "" {
		facts.Mirror = archive.DefaultMirror
	}
	arch := ctl.Architecture
	if arch == "all" {
		arch = "amd64"
	}
	var ix *lock.Index
	if bi := o.BuildInfo; bi != nil {
		if bi.Source != func() string { n, _ := ctl.SourceName(); return n }() {
			return nil, fmt.Errorf("infer: the .buildinfo is of %s, the .deb of source %s", bi.Source, ctl.Source)
		}
		when, err := buildDate(bi.BuildDate)
		if err != nil {
			return nil, fmt.Errorf("infer: .buildinfo Build-Date: %w", err)
		}
		sc := *o.Snapshot
		sc.Base = archive.SnapshotURL(o.Snapshot.Base, when)
		sc.Verify.IgnoreValidUntil = true
		dist := bi.Distribution
		if dist == "" {
			dist = suite
		}
		var also []lock.Source
		if base, ok := strings.CutSuffix(dist, "-security"); ok {
			// A security update's buildd installed from the suite and
			// its security suite: both at the build's date, the
			// security archive's snapshot as the snapshot archive
			// names it.
			ssc := sc
			ssc.Base = archive.SnapshotArchiveURL(o.Snapshot.Base, "debian-security", when)
			secArchive := archive.DefaultSecurity
			if o.Security != nil {
				secArchive = o.Security.Base
			}
			also = append(also, lock.Source{Client: &ssc, Suite: dist, Archive: secArchive})
			dist = base
		}
		facts.BuildInfo = bi
		if facts.Lock, ix, err = lock.BuildInfo(ctx, &sc, dist, bi, also...); err != nil {
			return nil, fmt.Errorf("infer: %w", err)
		}
		facts.Mirror = strings.TrimSuffix(sc.Base, "/")
		suite, c = dist, &sc
	} else if ix, err = lock.Fetch(ctx, c, suite, arch); err != nil {
		return nil, err
	}
	srcs, err := c.Sources(ctx, ix.Release, suite, lock.Component)
	if err != nil {
		return nil, err
	}
	name, ver := ctl.SourceName()
	var held []string
	facts.Source, held = findSource(srcs, name, ver)
	if facts.Source == nil && len(ix.Also) > 0 {
		// A .buildinfo of a security update: its source is in the
		// security suite's snapshot.
		so := ix.Also[0]
		more, err := so.Client().Sources(ctx, so.Release, so.Suite, lock.Component)
		if err != nil {
			return nil, fmt.Errorf("infer: look for %s %s in %s: %w", name, ver, so.Suite, err)
		}
		var secHeld []string
		if facts.Source, secHeld = findSource(more, name, ver); facts.Source == nil {
			return nil, notInSuite(name, ver, suite, held, true, &secTry{suite: so.Suite, base: so.Client().Base, held: secHeld})
		}
		facts.SourceMirror, facts.SourceSuite = strings.TrimSuffix(so.Client().Base, "/"), so.Suite
	}
	if facts.Source == nil && o.Security != nil && o.BuildInfo == nil {
		sec := lock.Source{Client: o.Security, Suite: suite + "-security"}
		both, err := lock.Fetch(ctx, c, suite, arch, sec)
		switch {
		case archive.NotFound(err):
			// No security suite for this suite (unstable, testing).
			return nil, notInSuite(name, ver, suite, held, false, &secTry{suite: sec.Suite, base: o.Security.Base, missing: true})
		case err != nil:
			return nil, fmt.Errorf("infer: look for %s %s in %s: %w", name, ver, sec.Suite, err)
		}
		so := both.Also[0]
		more, err := so.Client().Sources(ctx, so.Release, so.Suite, lock.Component)
		if err != nil {
			return nil, fmt.Errorf("infer: look for %s %s in %s: %w", name, ver, sec.Suite, err)
		}
		var secHeld []string
		if facts.Source, secHeld = findSource(more, name, ver); facts.Source == nil {
			return nil, notInSuite(name, ver, suite, held, false, &secTry{suite: sec.Suite, base: so.Base, held: secHeld})
		}
		ix, facts.SourceMirror, facts.SourceSuite = both, so.Base, so.Suite
	}
	if facts.Source == nil {
		return nil, notInSuite(name, ver, suite, held, o.BuildInfo != nil, nil)
	}
	if b, ok := ix.Lookup(ctl.Package); ok && b.Version == ctl.Version && (b.Architecture == ctl.Architecture) {
		facts.InArchive = b
		if o := ix.From(b); o != nil {
			facts.InArchiveMirror = strings.TrimSuffix(o.Client().Base, "/")
		}
	}
	if facts.BuildInfo == nil {
		if facts.Lock, err = ix.Resolve(lock.Request{Suite: suite, Variant: "buildd", Packages: BuilddExtra, BuildDepends: lock.BuildDepends(facts.Source), Arch: arch}); err != nil {
			return nil, fmt.Errorf("infer: lock the build environment of %s %s: %w", name, ver, err)
		}
	}
	facts.Suite = suite
	return facts, nil
}

// findSource returns the source package name at version ver of a Sources
// index, or the versions it holds instead.
func findSource(srcs []*deb822.SourcePackage, name, ver string) (*deb822.SourcePackage, []string) {
	var held []string
	for _, s := range srcs {
		if s.Package != name {
			continue
		}
		if s.Version == ver {
			return s, nil
		}
		held = append(held, s.Version)
	}
	return nil, held
}

// secTry is what the security suite said when a source package was
// looked for there too.
type secTry struct {
	suite, base string
	// missing: the archive has no such suite.
	missing bool
	held    []string
}

// holds says what a Sources index holds of a source package instead of
// version ver.
func holds(name, ver string, held []string) string {
	if len(held) > 0 {
		return fmt.Sprintf("holds %s %s, not %s", name, strings.Join(held, ", "), ver)
	}
	return fmt.Sprintf("holds no source package %s", name)
}

// notInSuite says that the suite's signed Sources index does not hold the
// .deb's source package at its version, what it holds instead (and what
// its security suite holds, when asked), and what the user can do about it.
func notInSuite(name, ver, suite string, held []string, withBuildInfo bool, sec *secTry) error {
	what := holds(name, ver, held)
	switch {
	case sec == nil:
	case sec.missing:
		what += fmt.Sprintf(", and %s has no suite %s", sec.base, sec.suite)
	default:
		what += fmt.Sprintf(", and %s's (%s) %s", sec.suite, sec.base, holds(name, ver, sec.held))
	}
	hint := "give --buildinfo FILE (Debian publishes one per build) to lock from the snapshot archive at the build's date"
	if withBuildInfo {
		hint = "the snapshot of the .buildinfo's Distribution at its Build-Date does not list this version"
	}
	if sec == nil && !withBuildInfo && stableUpdate().MatchString(ver) {
		hint += fmt.Sprintf("; if it is a security update, its source is in %s-security of the security archive (%s)", suite, archive.DefaultSecurity)
	}
	return fmt.Errorf("infer: source package %s %s is not in %s's signed Sources index: it %s; %s", name, ver, suite, what, hint)
}

func buildDate(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC1123Z, time.RFC1123, "Mon, 2 Jan 2006 15:04:05 -0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date", s)
}

// binNMUSuffix is the version suffix of a binary-only upload.
var binNMUSuffix = lazyre.New(`\+b[0-9]+$`)

// stableUpdate matches the version of a stable release's update
// ("2.5.0-1+deb12u5"), security updates among them.
var stableUpdate = lazyre.New(`\+deb[0-9]+u[0-9]+`)

// binNMUEntry returns the changelog entry of a binary-only upload that
// the .deb records, or "" when ctl's version is its source's. Debian's
// buildds (sbuild) put that entry at the top of debian/changelog before
// building; dh_installchangelogs ships it apart, as
// changelog.Debian.ARCH.gz, which is where it is read back from.
func binNMUEntry(p string, r io.ReaderAt, size int64, ctl *deb822.BinaryPackage) (string, error) {
	srcName, sv := ctl.SourceName()
	if sv == ctl.Version || !binNMUSuffix().MatchString(ctl.Version) || strings.TrimSuffix(ctl.Version, binNMUSuffix().FindString(ctl.Version)) != sv {
		return "", nil
	}
	name := "usr/share/doc/" + ctl.Package + "/changelog.Debian." + ctl.Architecture + ".gz"
	gz, err := debfile.DataFile(p, r, size, name, 1<<20)
	if err != nil {
		return "", fmt.Errorf("%s %s is a binary-only upload of source version %s, and its changelog entry, which the rebuild needs, is not where dh_installchangelogs puts it: %w", ctl.Package, ctl.Version, sv, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return "", fmt.Errorf("%s: %s: %w", p, name, err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, 1<<20))
	if err != nil {
		return "", fmt.Errorf("%s: %s: %w", p, name, err)
	}
	// The first entry: its header line to its trailer line (" -- ").
	var entry []string
	for _, line := range strings.Split(string(raw), "\n") {
		entry = append(entry, line)
		if strings.HasPrefix(line, " -- ") {
			break
		}
	}
	if len(entry) < 3 || !strings.HasPrefix(entry[0], srcName+" ("+ctl.Version+") ") || !strings.HasPrefix(entry[len(entry)-1], " -- ") {
		return "", fmt.Errorf("%s: %s does not start with the entry of %s %s", p, name, ctl.Package, ctl.Version)
	}
	return strings.Join(entry, "\n") + "\n", nil
}

// BuilddExtra are the packages Debian's buildds (sbuild) install beside
// the buildd variant and the Build-Depends: fakeroot, which
// dpkg-buildpackage runs debian/rules binary under as a user.
var BuilddExtra = []string{"fakeroot"}

// upstream is a version without its epoch and Debian revision.
func upstream(v string) string {
	pv, err := version.Parse(v)
	if err != nil {
		return v
	}
	return pv.Version
}

func noEpoch(v string) string {
	pv, err := version.Parse(v)
	if err != nil {
		return v
	}
	return pv.StringWithoutEpoch()
}

// InferDeb writes the recipe that rebuilds a .deb from its source package
// as Debian's buildds build it.
func InferDeb(f *DebFacts) (*Result, error) {
	if f == nil || f.Control == nil || f.Source == nil || f.Lock == nil {
		return nil, fmt.Errorf("infer recipe: %w", ErrNotDeb)
	}
	ctl, src := f.Control, f.Source
	var findings []Finding
	note := func(c Certainty, topic, value, reason string, args ...any) {
		findings = append(findings, Finding{Certainty: c, Topic: topic, Value: value, Reason: fmt.Sprintf(reason, args...)})
	}
	var dsc *deb822.File
	for i, file := range src.Files {
		if strings.HasSuffix(file.Name, ".dsc") {
			dsc = &src.Files[i]
		}
	}
	if dsc == nil {
		return nil, fmt.Errorf("infer: the Sources paragraph of %s %s lists no .dsc", src.Package, src.Version)
	}
	r := &recipes.Recipe{Schema: recipes.SchemaVersion, Name: ctl.Package, Version: noEpoch(ctl.Version)}
	srcMirror := f.Mirror
	if f.SourceMirror != "" {
		srcMirror = f.SourceMirror
	}
	dscURL := srcMirror + "/" + src.Directory + "/" + dsc.Name
	r.Source.DSC = &recipes.DSCSource{URL: dscURL, Digest: dsc.SHA256}
	if f.SourceSuite != "" {
		note(Certain, "source", src.Package+" "+src.Version, "the .deb's control file names its source package (Source: %s); %s's signed Sources index does not hold this version, %s's of %s lists its .dsc with this sha256: a security update", src.Package, f.Suite, f.SourceSuite, f.SourceMirror)
	} else {
		note(Certain, "source", src.Package+" "+src.Version, "the .deb's control file names its source package (Source: %s); the suite's signed Sources index lists its .dsc with this sha256", src.Package)
	}

	r.Image.Debian = &recipes.DebianImage{Suite: f.Suite, Variant: "buildd", Packages: BuilddExtra, Lock: f.Lock}
	if f.BuildInfo != nil {
		// Exactly what the build had: the essential set comes from the
		// lock like everything else, nothing is added by a variant.
		r.Image.Debian = &recipes.DebianImage{Suite: f.Suite, Variant: "essential", Lock: f.Lock}
	}
	if f.BuildInfo != nil {
		where := "the snapshot archive's signed index"
		if f.SourceSuite != "" {
			where = fmt.Sprintf("the snapshot archive's signed indexes of %s and %s", f.Suite, f.SourceSuite)
		}
		note(Certain, "image", fmt.Sprintf("%d packages", len(f.Lock.Packages)), "exactly the .buildinfo's Installed-Build-Depends, found in %s", where)
	} else if f.SourceSuite != "" {
		var from int
		for _, p := range f.Lock.Packages {
			if p.From != "" {
				from++
			}
		}
		note(Guess, "image", fmt.Sprintf("buildd + Build-Depends: %d packages of %s and %s as they are today (%d from %s)", len(f.Lock.Packages), f.Suite, f.SourceSuite, from, f.SourceSuite),
			"Debian's security buildds install from both suites, the highest version of each package; a .deb does not record its build environment, and the suites' current compilers and debhelper may differ from the ones the buildd had (give --buildinfo to lock exactly what it had)")
	} else {
		note(Guess, "image", fmt.Sprintf("buildd + Build-Depends: %d packages of %s as it is today", len(f.Lock.Packages), f.Suite),
			"a .deb does not record its build environment; the suite's current compilers and debhelper may differ from the ones the buildd had (give --buildinfo to lock exactly what it had)")
	}

	dir := src.Package + "-" + upstream(src.Version)
	deb := fmt.Sprintf("%s_%s_%s.deb", ctl.Package, noEpoch(ctl.Version), ctl.Architecture)
	var env []string
	if f.BuildInfo != nil {
		for _, kv := range f.BuildInfo.Environment {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "DEB_BUILD_OPTIONS", "DEB_BUILD_PROFILES", "LANG", "LC_ALL", "LC_COLLATE", "LC_CTYPE":
				env = append(env, fmt.Sprintf("export %s=%s", k, debShellQuote(v)))
			}
		}
		note(Certain, "environment", strings.Join(f.BuildInfo.Environment, " "), "recorded in the .buildinfo")
	} else {
		note(Unknown, "DEB_BUILD_OPTIONS", "", "not recorded in the .deb; Debian's buildds set parallel=N, which does not change the output of a reproducible package")
	}
	script := []string{
		"dpkg-source -x " + dsc.Name + " " + dir,
		"cd " + dir,
	}
	if f.BinNMU != "" {
		// As sbuild does for a binNMU: the entry, a blank line, then the
		// source's own changelog. Its date is SOURCE_DATE_EPOCH's.
		script = append(script,
			"printf '%s\\n' "+debShellQuote(f.BinNMU)+" > ../changelog.binnmu",
			"cat debian/changelog >> ../changelog.binnmu",
			"mv ../changelog.binnmu debian/changelog",
		)
		note(Certain, "binNMU", ctl.Version, "a binary-only upload of %s %s: its changelog entry, as the .deb ships it (changelog.Debian.%s.gz), goes at the top of debian/changelog before the build, as Debian's buildds put it", src.Package, src.Version, ctl.Architecture)
		if f.BuildInfo == nil {
			for _, a := range rebuiltAgainst(f.BinNMU, f.Lock) {
				switch {
				case a.locked == "", strings.HasPrefix(a.locked, a.version+"."), strings.HasPrefix(a.locked, a.version+"-"):
					// Not in the lock, or a series ("perl 5.36") that
					// the lock's version belongs to: nothing certain.
					continue
				case a.locked == a.version:
					note(Certain, "rebuilt against", a.source+" "+a.version, "the binNMU's changelog entry names it, and the lock has the same version")
					continue
				}
				note(Guess, "rebuilt against", a.source+" "+a.version, "the binNMU's changelog entry says the buildd rebuilt it against %s %s, but the lock has %s %s: what the package takes from it at build time (a statically linked library, a header, a Built-Using version) is likely to differ (give --buildinfo to lock exactly what it had)", a.source, a.version, a.source, a.locked)
			}
		}
	}
	script = append(script, env...)
	script = append(script,
		`export SOURCE_DATE_EPOCH="$(dpkg-parsechangelog -STimestamp)"`,
		"dpkg-buildpackage -b -uc -us",
		"cp ../"+deb+" /out/",
	)
	r.Steps = []recipes.Step{{Shell: strings.Join(script, "\n") + "\n"}}
	note(Certain, "build", "dpkg-buildpackage -b", "as Debian's buildds build: unpacked with dpkg-source in the container at %s/%s, SOURCE_DATE_EPOCH from debian/changelog", "/build/reproducible-path", dir)

	out := recipes.Output{Path: deb}
	if f.InArchive != nil && f.InArchive.SHA256 == f.Digest {
		shippedMirror := f.Mirror
		if f.InArchiveMirror != "" {
			shippedMirror = f.InArchiveMirror
		}
		out.Shipped = &recipes.Shipped{URL: shippedMirror + "/" + f.InArchive.Filename, Digest: f.InArchive.SHA256}
		note(Certain, "shipped", out.Shipped.URL, "the file is the one the suite's signed Packages index lists (sha256 %s)", f.Digest.Encoded()[:12])
	} else {
		note(Unknown, "shipped", "", "the suite's signed Packages index does not list this file (another version or build); compare with your file: reprove compare")
	}
	r.Outputs = []recipes.Output{out}
	res := &Result{Recipe: r, Findings: findings, Candidates: []Candidate{{Recipe: r}}}
	if err := r.Validate(); err != nil {
		res.Incomplete = append(res.Incomplete, err.Error())
	}
	return res, nil
}

func debShellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// againstText finds the source packages a binNMU's changelog entry says it
// was rebuilt against: "Rebuild against glibc 2.36-9+deb12u12", and the
// "source/version" pairs of "Rebuild for outdated Built-Using (…)".
var (
	againstText   = lazyre.New(`(?i)\bagainst ([a-z0-9][a-z0-9+.-]+) \(?([0-9][A-Za-z0-9.+~:-]*)`)
	builtUsingArg = lazyre.New(`\b([a-z0-9][a-z0-9+.-]+)/([0-9][A-Za-z0-9.+~:-]*)`)
)

// against is one source package a binNMU was rebuilt against.
type against struct {
	source, version string
	// locked is the version of that source the lock holds ("" when it
	// holds none of its binaries).
	locked string
}

// rebuiltAgainst reads the source packages (and versions) a binNMU's
// changelog entry names, and the version of each that the lock holds. A
// lock's .deb sits in the pool under its source package's directory
// (pool/COMPONENT/PREFIX/SOURCE/FILE), which is where its source name is
// read from; its version is the binary's, less a binNMU suffix.
func rebuiltAgainst(entry string, lk *recipes.DebianLock) []against {
	var found []against
	seen := map[string]bool{}
	add := func(m []string) {
		src, ver := m[1], noEpoch(strings.TrimRight(m[2], ".,;:-"))
		if seen[src] {
			return
		}
		if _, err := version.Parse(ver); err != nil {
			return
		}
		seen[src] = true
		a := against{source: src, version: ver}
		if lk != nil {
			for _, p := range lk.Packages {
				// pool/COMPONENT/PREFIX/SOURCE/FILE, or a security
				// archive's pool/updates/COMPONENT/PREFIX/SOURCE/FILE.
				parts := strings.Split(p.Path, "/")
				if (len(parts) == 5 || len(parts) == 6 && parts[1] == "updates") && parts[0] == "pool" && parts[len(parts)-2] == src {
					a.locked = noEpoch(binNMUSuffix().ReplaceAllString(p.Version, ""))
					break
				}
			}
		}
		found = append(found, a)
	}
	for _, m := range againstText().FindAllStringSubmatch(entry, -1) {
		add(m)
	}
	for _, m := range builtUsingArg().FindAllStringSubmatch(entry, -1) {
		add(m)
	}
	return found
}
