// Package resolve chooses the exact set of binary packages a Debian build
// environment holds, from one signed Packages index: the variant's base
// set (as mmdebstrap defines the variants: essential, minbase, buildd),
// the packages asked for, and every package they depend on (Pre-Depends
// and Depends; not Recommends, as neither mmdebstrap nor Debian's buildds
// install them).
//
// It is pure: an Index built from parsed paragraphs in, a sorted list of
// packages out, so every choice is pinned by table tests. A stable suite
// holds one version of each package per architecture, which keeps the
// choice simple and deterministic:
//
//   - a relation is satisfied when any alternative is already chosen
//     (a real package of a fitting version, or a package that provides it);
//   - otherwise the first alternative that the index can satisfy is
//     chosen: the real package of that name, else its providers (one
//     already chosen, else the one of highest priority, then by name);
//   - Build-Depends keep only their first alternative, as Debian's buildds
//     resolve them (sbuild's apt resolver);
//   - conflicts and breaks between chosen packages are an error, never
//     resolved by choosing differently.
//
// apt and dpkg still install the set (the image builder runs mmdebstrap
// over exactly these files), so a set they would refuse fails there.
package resolve

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"pault.ag/go/debian/dependency"
	"pault.ag/go/debian/version"

	"github.com/reprove/reprove/debian/deb822"
)

// Variants, as mmdebstrap names them.
const (
	// Extract unpacks the requested packages only (no essential set, no
	// dependencies): reprove's minimal image.
	Extract = "extract"
	// Essential is the Essential:yes packages and their dependencies.
	Essential = "essential"
	// Minbase adds every Priority:required package and apt.
	Minbase = "minbase"
	// Buildd adds build-essential to minbase.
	Buildd = "buildd"
)

// Variants lists the variants a lock may name.
var Variants = []string{Extract, Essential, Minbase, Buildd}

// Index is one architecture's Packages index (arch-all packages included,
// as Debian lists them in every architecture's index).
type Index struct {
	arch      string
	pkgs      map[string]*deb822.BinaryPackage
	providers map[string][]provide
	parsed    map[*deb822.BinaryPackage]*rels
}

type provide struct {
	pkg     *deb822.BinaryPackage
	version string // "" when the provide is unversioned
}

type rels struct {
	pre, dep, conflicts, breaks *dependency.Dependency
}

// NewIndex indexes the packages of arch (and all). Where an index lists a
// package twice, the higher version is kept.
func NewIndex(arch string, pkgs []*deb822.BinaryPackage) (*Index, error) {
	idx := &Index{arch: arch, pkgs: map[string]*deb822.BinaryPackage{}, providers: map[string][]provide{}, parsed: map[*deb822.BinaryPackage]*rels{}}
	for _, p := range pkgs {
		if p.Architecture != arch && p.Architecture != "all" {
			continue
		}
		if old, ok := idx.pkgs[p.Package]; ok && compare(old.Version, p.Version) >= 0 {
			continue
		}
		idx.pkgs[p.Package] = p
	}
	for _, name := range slices.Sorted(mapKeys(idx.pkgs)) {
		p := idx.pkgs[name]
		prov, err := deb822.ParseRelations(p.Provides)
		if err != nil {
			return nil, fmt.Errorf("index %s: Provides: %w", p.Package, err)
		}
		for _, r := range prov.Relations {
			for _, pos := range r.Possibilities {
				pv := provide{pkg: p}
				if pos.Version != nil && pos.Version.Operator == "=" {
					pv.version = pos.Version.Number
				}
				idx.providers[pos.Name] = append(idx.providers[pos.Name], pv)
			}
		}
	}
	return idx, nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Lookup returns the package of that name.
func (idx *Index) Lookup(name string) (*deb822.BinaryPackage, bool) {
	p, ok := idx.pkgs[name]
	return p, ok
}

func compare(a, b string) int {
	va, err1 := version.Parse(a)
	vb, err2 := version.Parse(b)
	if err1 != nil || err2 != nil {
		return strings.Compare(a, b)
	}
	return version.Compare(va, vb)
}

func (idx *Index) relations(p *deb822.BinaryPackage) (*rels, error) {
	if r, ok := idx.parsed[p]; ok {
		return r, nil
	}
	r := &rels{}
	var err error
	for _, f := range []struct {
		name string
		v    string
		dst  **dependency.Dependency
	}{{"Pre-Depends", p.PreDepends, &r.pre}, {"Depends", p.Depends, &r.dep}, {"Conflicts", p.Conflicts, &r.conflicts}, {"Breaks", p.Breaks, &r.breaks}} {
		if *f.dst, err = deb822.ParseRelations(f.v); err != nil {
			return nil, fmt.Errorf("%s %s: %s: %w", p.Package, p.Version, f.name, err)
		}
	}
	idx.parsed[p] = r
	return r, nil
}

// Request is what a build environment must hold.
type Request struct {
	// Variant is one of Variants (Minbase when empty).
	Variant string
	// Packages are package names, or relations ("foo (>= 1.2)").
	Packages []string
	// BuildDepends are relationship fields (Build-Depends,
	// Build-Depends-Arch, …) to satisfy, first alternatives only.
	BuildDepends []string
	// Profiles are the active build profiles (none by default: <!nocheck>
	// holds, <nocheck> does not).
	Profiles []string
}

// UnsatisfiableError says which relation no package in the index meets.
type UnsatisfiableError struct {
	// Of is the package (or "request", "Build-Depends") that needs it.
	Of       string
	Relation string
	Why      string
}

func (e *UnsatisfiableError) Error() string {
	return fmt.Sprintf("resolve: %s needs %s: %s", e.Of, e.Relation, e.Why)
}

// ConflictError names two chosen packages that may not be installed
// together.
type ConflictError struct {
	A, B   string
	Field  string
	Clause string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("resolve: %s %s %s (%s): they cannot be installed together", e.A, strings.ToLower(e.Field), e.B, e.Clause)
}

type resolver struct {
	idx      *Index
	chosen   map[string]*deb822.BinaryPackage
	provided map[string][]provide // by virtual name, among chosen
	queue    []*deb822.BinaryPackage
	profiles []string
}

// Resolve returns the packages req needs, sorted by name.
func Resolve(idx *Index, req Request) ([]*deb822.BinaryPackage, error) {
	variant := req.Variant
	if variant == "" {
		variant = Minbase
	}
	if !slices.Contains(Variants, variant) {
		return nil, fmt.Errorf("resolve: unknown variant %q (want one of %s)", variant, strings.Join(Variants, ", "))
	}
	r := &resolver{idx: idx, chosen: map[string]*deb822.BinaryPackage{}, provided: map[string][]provide{}, profiles: req.Profiles}
	var base []string
	for _, name := range slices.Sorted(mapKeys(idx.pkgs)) {
		p := idx.pkgs[name]
		switch variant {
		case Essential:
			if p.Essential {
				base = append(base, name)
			}
		case Minbase, Buildd:
			if p.Essential || p.Priority == "required" {
				base = append(base, name)
			}
		}
	}
	switch variant {
	case Minbase:
		base = append(base, "apt")
	case Buildd:
		base = append(base, "apt", "build-essential")
	}
	for _, name := range base {
		if err := r.want("variant "+variant, name); err != nil {
			return nil, err
		}
	}
	for _, s := range req.Packages {
		if err := r.want("request", s); err != nil {
			return nil, err
		}
	}
	for _, bd := range req.BuildDepends {
		d, err := deb822.ParseRelations(bd)
		if err != nil {
			return nil, fmt.Errorf("resolve: Build-Depends: %w", err)
		}
		for _, rel := range d.Relations {
			alts := r.applicable(rel)
			if len(alts) == 0 {
				continue // for other architectures or profiles only
			}
			if err := r.satisfy("Build-Depends", alts[:1]); err != nil {
				return nil, err
			}
		}
	}
	if variant != Extract {
		if err := r.closure(); err != nil {
			return nil, err
		}
		if err := r.checkConflicts(); err != nil {
			return nil, err
		}
	}
	out := make([]*deb822.BinaryPackage, 0, len(r.chosen))
	for _, name := range slices.Sorted(mapKeys(r.chosen)) {
		out = append(out, r.chosen[name])
	}
	return out, nil
}

// want adds a package named by a relation string.
func (r *resolver) want(of, s string) error {
	d, err := deb822.ParseRelations(s)
	if err != nil || len(d.Relations) != 1 {
		return fmt.Errorf("resolve: %s: %q is not one package or relation", of, s)
	}
	return r.satisfy(of, r.applicable(d.Relations[0]))
}

// applicable drops alternatives restricted to other architectures or to
// profiles that are not active.
func (r *resolver) applicable(rel dependency.Relation) []dependency.Possibility {
	var out []dependency.Possibility
	arch, _ := dependency.ParseArch(r.idx.arch)
	for _, p := range rel.Possibilities {
		if p.Substvar {
			continue
		}
		if p.Architectures != nil && len(p.Architectures.Architectures) > 0 && arch != nil && !p.Architectures.Matches(arch) {
			continue
		}
		if !r.profilesHold(p.StageSets) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// profilesHold evaluates a restriction formula: any of the sets holds
// when all of its terms do.
func (r *resolver) profilesHold(sets []dependency.StageSet) bool {
	if len(sets) == 0 {
		return true
	}
	for _, set := range sets {
		all := true
		for _, s := range set.Stages {
			active := slices.Contains(r.profiles, s.Name)
			if active == s.Not {
				all = false
			}
		}
		if all {
			return true
		}
	}
	return false
}

// fits reports whether a package of version v meets pos's version
// relation.
func fits(pos dependency.Possibility, v string) bool {
	if pos.Version == nil {
		return true
	}
	if v == "" {
		return false
	}
	ver, err := version.Parse(v)
	if err != nil {
		return false
	}
	return pos.Version.SatisfiedBy(ver)
}

func name(pos dependency.Possibility) string {
	// foo:any and foo:native name foo (Multi-Arch allowed/same); other
	// architecture qualifiers are not used in one-architecture images.
	return pos.Name
}

// satisfiedByChosen reports whether a chosen package meets pos.
func (r *resolver) satisfiedByChosen(pos dependency.Possibility) bool {
	if p, ok := r.chosen[name(pos)]; ok && fits(pos, p.Version) {
		return true
	}
	for _, pv := range r.provided[name(pos)] {
		if pos.Version == nil || fits(pos, pv.version) {
			return true
		}
	}
	return false
}

var priorityRank = map[string]int{"required": 0, "important": 1, "standard": 2, "optional": 3, "extra": 4}

func rank(p string) int {
	if r, ok := priorityRank[p]; ok {
		return r
	}
	return 5
}

// candidate returns the package the index would install for pos, if any.
func (r *resolver) candidate(pos dependency.Possibility) (*deb822.BinaryPackage, string) {
	if p, ok := r.idx.pkgs[name(pos)]; ok {
		if fits(pos, p.Version) {
			return p, ""
		}
		return nil, fmt.Sprintf("the suite has %s %s", p.Package, p.Version)
	}
	var provs []provide
	for _, pv := range r.idx.providers[name(pos)] {
		if pos.Version == nil || fits(pos, pv.version) {
			provs = append(provs, pv)
		}
	}
	if len(provs) == 0 {
		return nil, "no package of that name, and none provides it"
	}
	sort.SliceStable(provs, func(i, j int) bool {
		a, b := provs[i].pkg, provs[j].pkg
		if rank(a.Priority) != rank(b.Priority) {
			return rank(a.Priority) < rank(b.Priority)
		}
		return a.Package < b.Package
	})
	return provs[0].pkg, ""
}

// satisfy makes sure one of alts is met, choosing the first it can.
func (r *resolver) satisfy(of string, alts []dependency.Possibility) error {
	if len(alts) == 0 {
		return nil
	}
	for _, pos := range alts {
		if r.satisfiedByChosen(pos) {
			return nil
		}
	}
	var why []string
	for _, pos := range alts {
		p, reason := r.candidate(pos)
		if p != nil {
			r.choose(p)
			return nil
		}
		why = append(why, fmt.Sprintf("%s: %s", pos.String(), reason))
	}
	strs := make([]string, len(alts))
	for i, a := range alts {
		strs[i] = a.String()
	}
	return &UnsatisfiableError{Of: of, Relation: strings.Join(strs, " | "), Why: strings.Join(why, "; ")}
}

func (r *resolver) choose(p *deb822.BinaryPackage) {
	if _, ok := r.chosen[p.Package]; ok {
		return
	}
	r.chosen[p.Package] = p
	prov, _ := deb822.ParseRelations(p.Provides)
	for _, rel := range prov.Relations {
		for _, pos := range rel.Possibilities {
			pv := provide{pkg: p}
			if pos.Version != nil && pos.Version.Operator == "=" {
				pv.version = pos.Version.Number
			}
			r.provided[pos.Name] = append(r.provided[pos.Name], pv)
		}
	}
	r.queue = append(r.queue, p)
}

// closure adds the Pre-Depends and Depends of everything chosen, in the
// order packages were chosen.
func (r *resolver) closure() error {
	for len(r.queue) > 0 {
		p := r.queue[0]
		r.queue = r.queue[1:]
		rl, err := r.idx.relations(p)
		if err != nil {
			return err
		}
		for _, d := range []*dependency.Dependency{rl.pre, rl.dep} {
			for _, rel := range d.Relations {
				if err := r.satisfy(p.Package+" "+p.Version, r.applicable(rel)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (r *resolver) checkConflicts() error {
	var errs []error
	for _, n := range slices.Sorted(mapKeys(r.chosen)) {
		p := r.chosen[n]
		rl, err := r.idx.relations(p)
		if err != nil {
			return err
		}
		for _, f := range []struct {
			field string
			d     *dependency.Dependency
		}{{"Conflicts", rl.conflicts}, {"Breaks", rl.breaks}} {
			for _, rel := range f.d.Relations {
				for _, pos := range rel.Possibilities {
					if q, ok := r.chosen[name(pos)]; ok && q != p && fits(pos, q.Version) {
						errs = append(errs, &ConflictError{A: p.Package, B: q.Package, Field: f.field, Clause: pos.String()})
					}
					if pos.Version != nil {
						continue
					}
					// A conflict with a virtual name hits its other
					// providers, never the package itself.
					for _, pv := range r.provided[name(pos)] {
						if pv.pkg != p {
							errs = append(errs, &ConflictError{A: p.Package, B: pv.pkg.Package, Field: f.field, Clause: pos.String()})
						}
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}
