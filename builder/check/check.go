// Package check tells a release engineer, before shipping, whether a
// recipe's build is reproducible: it builds twice, once normally and once
// under varied conditions (build path, umask, locale, time zone, hostname,
// file order on disk, number of CPUs, and the clock: shifted by more than
// a year in the varied build, see clockshift, and more than a second
// apart between any two builds), and compares the outputs by digest. When
// they differ it bisects: each variation alone, and a second normal build,
// show which condition the output depends on.
//
// The same containerd builder does the builds, so a recipe that passes
// check rebuilds the same way for anyone.
package check

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/builder"
	"github.com/reprove/reprove/builder/check/clockshift"
	"github.com/reprove/reprove/builder/plan"
	"github.com/reprove/reprove/recipes"
)

// Schema is the version of Report's JSON form (2: lowerCamelCase keys).
const Schema = 2

// Variation is one condition check changes.
type Variation struct {
	Name string `json:"name"`
	// Normal and Varied describe the two values.
	Normal string `json:"normal"`
	Varied string `json:"varied"`
	apply  func(*builder.Variation)
}

// TimeVariation names the clock. The varied build runs with its wall
// clock shifted by clockshift.Offset, which catches a build that embeds
// the date or the year; and any two builds read clocks more than a second
// apart, so two normal builds that differ blame it too.
const TimeVariation = "time"

// Variations are the conditions varied, in the order they are bisected.
func Variations() []Variation {
	cpus := fmt.Sprintf("all (%d)", runtime.NumCPU())
	return []Variation{
		{Name: "build-path", Normal: plan.SourceDir, Varied: "/build/reprove-check/source",
			apply: func(v *builder.Variation) { v.SourceDir = "/build/reprove-check/source" }},
		{Name: "umask", Normal: "0022", Varied: "0002",
			apply: func(v *builder.Variation) { v.Umask = plan.OptionalUmask{Set: true, Value: 0o002} }},
		{Name: "locale", Normal: "LC_ALL=C", Varied: "LC_ALL=C.UTF-8",
			apply: func(v *builder.Variation) { v.Locale = "C.UTF-8" }},
		{Name: "timezone", Normal: "TZ=UTC", Varied: "TZ=NZST-12NZDT,M9.5.0,M4.1.0/3",
			apply: func(v *builder.Variation) { v.TZ = "NZST-12NZDT,M9.5.0,M4.1.0/3" }},
		{Name: "hostname", Normal: plan.Hostname, Varied: "reprove-check",
			apply: func(v *builder.Variation) { v.Hostname = "reprove-check" }},
		{Name: "file-order", Normal: "the disk's order", Varied: "reverse lexical order (tmpfs)",
			apply: func(v *builder.Variation) { v.ReverseFileOrder = true }},
		{Name: "cpus", Normal: cpus, Varied: "1 (cpuset 0)",
			apply: func(v *builder.Variation) { v.CPUSet = "0" }},
		{Name: TimeVariation, Normal: "the host's clock", Varied: clockshift.Describe,
			apply: func(v *builder.Variation) { v.ClockOffset = clockshift.Offset }},
	}
}

// Options configure Run.
type Options struct {
	// Bisect, when outputs differ, finds which variations cause it
	// (several more builds).
	Bisect bool
	// Progress is told what is being built; it may be nil.
	Progress func(string)
}

// Report is check's result.
type Report struct {
	SchemaVersion int               `json:"schemaVersion"`
	Recipe        builder.RecipeRef `json:"recipe"`
	// Reproducible is true when the normal and the varied builds gave the
	// same outputs.
	Reproducible bool        `json:"reproducible"`
	Variations   []Variation `json:"variations"`
	// Outputs compares the normal and the varied build.
	Outputs []Output `json:"outputs"`
	// Causes are the variations that alone change the outputs ("time" when
	// two normal builds differ); empty when reproducible or not bisected.
	Causes []string `json:"causes,omitempty"`
	// Bisected is true when bisection ran.
	Bisected bool `json:"bisected"`
	// ClockHelper is the digest of the helper that shifted the clock
	// (clockshift.HelperDigest).
	ClockHelper digest.Digest `json:"clockHelper,omitempty"`
	// Note explains a bisection that could not name single causes.
	Note string `json:"note,omitempty"`
	// Builds lists every build made, with its outputs.
	Builds []Build `json:"builds"`
	// NormalDir and VariedDir hold the outputs of the two main builds.
	NormalDir string `json:"normalDir"`
	VariedDir string `json:"variedDir"`
}

// Output is one output of the normal and the varied build.
type Output struct {
	Path   string        `json:"path"`
	Normal digest.Digest `json:"normal"`
	Varied digest.Digest `json:"varied"`
	Same   bool          `json:"same"`
}

// Build is one build check made.
type Build struct {
	// Label is "normal", "varied", "normal-again" or a variation's name.
	Label   string                   `json:"label"`
	Outputs map[string]digest.Digest `json:"outputs"`
	Dir     string                   `json:"dir"`
	Started time.Time                `json:"started"`
	Result  *builder.Result          `json:"-"`
}

// Run checks r, building into directories under work (which must exist).
func Run(ctx context.Context, b *builder.Builder, r *recipes.Recipe, work string, opts Options) (*Report, error) {
	say := func(format string, args ...any) {
		if opts.Progress != nil {
			opts.Progress(fmt.Sprintf(format, args...))
		}
	}
	rd, err := r.Digest()
	if err != nil {
		return nil, err
	}
	vars := Variations()
	rep := &Report{SchemaVersion: Schema, Recipe: builder.RecipeRef{Name: r.Name, Version: r.Version, Digest: rd, URI: r.File()}, Variations: vars}

	var lastEnd time.Time
	build := func(label string, v builder.Variation) (*Build, error) {
		// A build starts more than a second after the one before it
		// ended, so that any clock reading of one (which it made before
		// it ended) and of the next (made after that one started) fall in
		// different seconds, however long each build takes: a build that
		// embeds the time to the second always shows it. (Counting from
		// the previous start, as before, let both read the same second
		// when the first spent long before its clock reading.)
		if d := time.Until(lastEnd.Add(1100 * time.Millisecond)); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if v.ClockOffset != 0 {
			helper, err := ClockHelper(ctx, b, say)
			if err != nil {
				return nil, err
			}
			v.ClockHelper = helper
			rep.ClockHelper = clockshift.HelperDigest
		}
		say("build %d: %s", len(rep.Builds)+1, label)
		dir := filepath.Join(work, label)
		res, err := b.BuildVaried(ctx, r, dir, v)
		lastEnd = time.Now()
		if err != nil {
			return nil, fmt.Errorf("check build %q: %w", label, err)
		}
		bd := &Build{Label: label, Outputs: map[string]digest.Digest{}, Dir: dir, Started: res.Started, Result: res}
		for _, o := range res.Outputs {
			bd.Outputs[o.Path] = o.Digest
		}
		rep.Builds = append(rep.Builds, *bd)
		return bd, nil
	}

	normal, err := build("normal", builder.Variation{})
	if err != nil {
		return nil, err
	}
	var all builder.Variation
	for _, v := range vars {
		v.apply(&all)
	}
	varied, err := build("varied", all)
	if err != nil {
		return nil, err
	}
	rep.NormalDir, rep.VariedDir = normal.Dir, varied.Dir
	rep.Reproducible = true
	paths := make([]string, 0, len(normal.Outputs))
	for p := range normal.Outputs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		o := Output{Path: p, Normal: normal.Outputs[p], Varied: varied.Outputs[p]}
		o.Same = o.Normal == o.Varied
		rep.Reproducible = rep.Reproducible && o.Same
		rep.Outputs = append(rep.Outputs, o)
	}
	if rep.Reproducible || !opts.Bisect {
		return rep, nil
	}

	rep.Bisected = true
	// First the clock: a second normal build differs only by it (and by
	// any nondeterminism). If it differs, every other build would too, and
	// trying the variations one by one would blame them all.
	say("outputs differ: building normally once more")
	again, err := build("normal-again", builder.Variation{})
	if err != nil {
		return nil, err
	}
	os.RemoveAll(again.Dir)
	rep.Builds[len(rep.Builds)-1].Dir = ""
	if !sameOutputs(normal, again) {
		rep.Causes = []string{TimeVariation}
		rep.Note = "two builds under the same conditions differ: the build depends on the clock or is otherwise nondeterministic; the other variations cannot be told apart until that is fixed"
		return rep, nil
	}
	say("trying each variation alone")
	for _, v := range vars {
		var one builder.Variation
		v.apply(&one)
		bd, err := build(v.Name, one)
		if err != nil {
			return nil, err
		}
		if !sameOutputs(normal, bd) {
			rep.Causes = append(rep.Causes, v.Name)
		}
		os.RemoveAll(bd.Dir)
		rep.Builds[len(rep.Builds)-1].Dir = ""
	}
	if len(rep.Causes) == 0 {
		rep.Note = "no variation alone changes the outputs: they differ only under a combination of variations"
	}
	return rep, nil
}

func sameOutputs(a, b *Build) bool {
	if len(a.Outputs) != len(b.Outputs) {
		return false
	}
	for p, d := range a.Outputs {
		if b.Outputs[p] != d {
			return false
		}
	}
	return true
}
