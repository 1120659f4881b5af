package infer

import (
	"fmt"
	"path"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/reprove/reprove/recipes"
)

// versionTag is the tag the binary's main module version came from, when
// it came from one: Go 1.24 and later stamp a build in a git checkout
// with the version of a tag at the commit (dir/vX.Y.Z for a module in a
// subdirectory). A pseudo-version, (devel), a dirty build or a module
// installed from the proxy did not.
func (in *inferrer) versionTag(s *Source) string {
	v := in.bi.Main.Version
	if s.Git == nil || in.set["vcs"] != "git" || in.bi.Main.Sum != "" || v == "" || v == "(devel)" ||
		!semver.IsValid(v) || module.IsPseudoVersion(v) || strings.Contains(v, "dirty") {
		return ""
	}
	tag := strings.TrimSuffix(v, "+incompatible")
	if s.ModuleDir != "" {
		tag = s.ModuleDir + "/" + tag
	}
	for _, t := range s.Tags {
		if t == tag {
			in.note(Certain, "source.git.tag", tag, "build info: the main module's version %s came from this tag at the commit (as Go 1.24 and later stamp it): the fetch checks that it still points there", v)
			return tag
		}
	}
	in.note(Unknown, "source.git.tag", tag, "the main module's version %s looks stamped from a tag, but no tag %s points at the commit in the source: a rebuild stamps another version", v, tag)
	return ""
}

// goreleaser reads the source's goreleaser configuration: the build that
// made the binary and its ldflags, filled from the tag (goTag, or the
// newest version tag at the commit), the commit and its date. It returns
// the rendered build (nil when there is none) and the tag the ldflags
// stamped, if they stamp a version.
func (in *inferrer) goreleaser(s *Source, pkg, moduleDir, goTag string, src recipes.Source) (*renderedBuild, string) {
	if s.GoreleaserErr != "" {
		in.note(Unknown, "goreleaser", s.GoreleaserFile, "the source has a goreleaser configuration that could not be read (%s): its ldflags are not proposed", s.GoreleaserErr)
		return nil, ""
	}
	g := s.Goreleaser
	if g == nil {
		return nil, ""
	}
	mainRel := path.Clean(strings.TrimPrefix(pkg, "./"))
	if pkg == in.bi.Path && in.bi.Main.Path != "" {
		mainRel = "." // a package outside the module: infer builds it by path
	}
	b, err := g.pickBuild(mainRel, moduleDir, in.set["-tags"], in.set["GOOS"], in.set["GOARCH"])
	if err != nil {
		in.note(Unknown, "goreleaser", s.GoreleaserFile, "%v (main package %s, tags %q, %s/%s): its ldflags are not proposed", err, path.Join(orDot(moduleDir), mainRel), in.set["-tags"], in.set["GOOS"], in.set["GOARCH"])
		return nil, ""
	}
	tag := goTag
	if tag == "" {
		// The highest version among the tags at the commit (a release
		// tagged beside its last release candidate is the release).
		for _, t := range s.Tags {
			if v := path.Base(t); semver.IsValid(v) && (tag == "" || semver.Compare(v, path.Base(tag)) > 0) {
				tag = t
			}
		}
	}
	commit := in.set["vcs.revision"]
	if src.Git != nil {
		commit = src.Git.Commit
	}
	project := g.ProjectName
	if project == "" && src.Git != nil {
		project = strings.TrimSuffix(path.Base(src.Git.URL), ".git")
	}
	facts := ReleaseFacts{
		Tag: tag, Commit: commit, ShortCommit: s.ShortCommit, CommitTime: s.CommitTime, ProjectName: project,
		GOOS: in.set["GOOS"], GOARCH: in.set["GOARCH"], GOAMD64: in.set["GOAMD64"], GOARM: in.set["GOARM"],
	}
	rb, err := b.render(facts)
	if err != nil {
		in.note(Unknown, "goreleaser", s.GoreleaserFile, "the ldflags of its build %s could not be filled in: %v", buildName(b), err)
		return nil, ""
	}
	in.note(Certain, "goreleaser", s.GoreleaserFile+" build "+buildName(b), "the source's goreleaser configuration has a Go build whose main package, tags and targets fit the binary")
	in.note(Guess, "-ldflags", rb.Ldflags, "goreleaser's ldflags of build %s, filled in from %s: the first candidate", buildName(b), describeFacts(facts))
	for _, f := range rb.Guessed {
		switch f {
		case "Env":
			in.note(Unknown, "-ldflags", "{{.Env}}", "goreleaser fills it from the environment of the original build, which the source does not hold: the candidate has it empty")
		default:
			in.note(Unknown, "-ldflags", "{{."+f+"}}", "goreleaser fills it with the time it ran, which the source does not hold: the candidate uses the commit time; if the rebuild differs in that string, infer --rebuild names the shipped value")
		}
	}
	if len(g.Before.Hooks) > 0 {
		in.note(Unknown, "goreleaser", "before.hooks", "goreleaser ran %d hook(s) before building (go generate, …), which the recipe does not: if they change the source, the rebuild differs", len(g.Before.Hooks))
	}
	stampsVersion := false
	for _, st := range rb.Stamps {
		if st.Kind == StampVersion {
			stampsVersion = true
		}
	}
	if stampsVersion && tag == "" {
		in.note(Unknown, "-ldflags", "{{.Version}}", "the ldflags stamp the version goreleaser took from a tag, but no version tag points at the commit")
	}
	if stampsVersion && tag != "" && goTag == "" {
		in.note(Certain, "source.git.tag", tag, "goreleaser's ldflags stamp the version from this tag at the commit: the fetch checks that it still points there")
		return rb, tag
	}
	return rb, ""
}

func buildName(b *GoreleaserBuild) string {
	if b.ID != "" {
		return b.ID
	}
	return "(default)"
}

func describeFacts(f ReleaseFacts) string {
	var parts []string
	if f.Tag != "" {
		parts = append(parts, "tag "+f.Tag)
	}
	parts = append(parts, "commit "+short(f.Commit))
	if !f.CommitTime.IsZero() {
		parts = append(parts, fmt.Sprintf("commit date %s", f.CommitTime.UTC().Format("2006-01-02T15:04:05Z")))
	}
	return strings.Join(parts, ", ")
}
