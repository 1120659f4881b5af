package attest

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	ita1 "github.com/in-toto/attestation/go/v1"
	"github.com/opencontainers/go-digest"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/reprove/reprove/attest/internal/strictjson"
)

// ProvenancePredicateType is SLSA Provenance v1.
const ProvenancePredicateType = "https://slsa.dev/provenance/v1"

// BuildType is the SLSA build type of a reprove rebuild. attest/FORMATS.md
// documents its external and internal parameters.
const BuildType = "https://reprove.dev/buildtypes/rebuild/v1"

// RebuildSchemaVersion is the version of the Rebuild JSON that the builder
// writes and `reprove attest --result` reads.
const RebuildSchemaVersion = 1

// Roles of resolved dependencies, recorded in each descriptor's annotations
// under "role" so a reader can find the source without guessing.
const (
	RoleSource    = "source"
	RoleToolchain = "toolchain"
	RoleBaseImage = "base-image"
	RoleGoModule  = "go-module"
	// RoleDebianPackage is a .deb the build environment was installed
	// from (a locked Debian image), as a .buildinfo's
	// Installed-Build-Depends.
	RoleDebianPackage = "debian-package"
)

// Rebuild is everything attest needs to know about one rebuild. The builder's
// result is mapped into it (attest does not import builder); as JSON it is
// the file `reprove attest rebuild --result` reads, documented in attest/FORMATS.md.
type Rebuild struct {
	SchemaVersion int       `json:"schemaVersion"`
	Recipe        RecipeRef `json:"recipe"`
	// Source is what was built.
	Source Source `json:"source"`
	// Toolchain is the compiler used (for Go, the golang.org/toolchain
	// module with its h1: sum).
	Toolchain *Dependency `json:"toolchain,omitempty"`
	// BaseImage is the container image the build ran in.
	BaseImage *Dependency `json:"baseImage,omitempty"`
	// GoModules are the Go module dependencies with their go.sum hashes.
	GoModules []Dependency `json:"goModules,omitempty"`
	// DebianPackages are the .debs of a locked Debian build environment:
	// name:arch, version, archive path and sha256.
	DebianPackages []Dependency `json:"debianPackages,omitempty"`
	// BuilderID identifies who rebuilt (a URI), for example
	// https://rebuild.example.org/reprove.
	BuilderID      string `json:"builderId"`
	ReproveVersion string `json:"reproveVersion"`
	HostKernel     string `json:"hostKernel,omitempty"`
	// Env is the build environment as set inside the container.
	Env map[string]string `json:"env,omitempty"`
	// Commands are the argv lists run, in order.
	Commands   [][]string `json:"commands"`
	StartedOn  time.Time  `json:"startedOn"`
	FinishedOn time.Time  `json:"finishedOn"`
	ExitCode   int        `json:"exitCode"`
	// Outputs are the files the rebuild produced.
	Outputs []Output `json:"outputs"`
}

// RecipeRef names the recipe that drove a rebuild, as provenance records
// it. attest keeps its own (the same fields as recipes.Ref, so one converts
// to the other) rather than import the recipe format and its YAML decoder:
// the customer's verifier reads provenance, never recipes.
type RecipeRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// URI is where the recipe was read from (its file), when known.
	URI    string        `json:"uri,omitempty"`
	Digest digest.Digest `json:"digest"`
}

// Dependency is one resolved input of a build.
type Dependency struct {
	// Name is what the input is: a module path, an image reference.
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	URI     string `json:"uri,omitempty"`
	// Digest is the sha256 (or stronger) of the bytes (image manifest, zip).
	Digest digest.Digest `json:"digest,omitempty"`
	// GoSum is a Go module's go.sum hash ("h1:...").
	GoSum string `json:"goSum,omitempty"`
}

// DigestSet is the dependency's digests as an in-toto digest set.
func (d Dependency) DigestSet() DigestSet {
	ds := setOf(d.Digest)
	putGoSum(ds, d.GoSum)
	return ds
}

func (d Dependency) validate(what string) error {
	if d.Name == "" {
		return fmt.Errorf("%s has no name", what)
	}
	if d.Digest != "" {
		if err := d.Digest.Validate(); err != nil {
			return fmt.Errorf("%s %s: digest: %w", what, d.Name, err)
		}
	}
	if err := d.DigestSet().Validate(); err != nil {
		return fmt.Errorf("%s %s: %w", what, d.Name, err)
	}
	return nil
}

// Output is one file a rebuild produced.
type Output struct {
	Name   string        `json:"name"`
	Digest digest.Digest `json:"digest"`
}

// Validate checks a rebuild before it is attested. A failed build (non-zero
// exit) is refused: there is nothing to attest.
func (r *Rebuild) Validate() error {
	if r.SchemaVersion != RebuildSchemaVersion {
		return fmt.Errorf("rebuild schemaVersion is %d, want %d", r.SchemaVersion, RebuildSchemaVersion)
	}
	if r.Recipe.Name == "" || r.Recipe.Version == "" {
		return errors.New("rebuild recipe needs a name and a version")
	}
	if err := r.Recipe.Digest.Validate(); err != nil {
		return fmt.Errorf("rebuild recipe digest: %w", err)
	}
	if err := r.Source.Validate(); err != nil {
		return fmt.Errorf("rebuild %w", err)
	}
	if r.Toolchain != nil {
		if err := r.Toolchain.validate("toolchain"); err != nil {
			return err
		}
	}
	if r.BaseImage != nil {
		if err := r.BaseImage.validate("base image"); err != nil {
			return err
		}
		if r.BaseImage.Digest == "" {
			return fmt.Errorf("base image %s has no digest", r.BaseImage.Name)
		}
	}
	for _, m := range r.GoModules {
		if err := m.validate("Go module"); err != nil {
			return err
		}
	}
	for _, p := range r.DebianPackages {
		if err := p.validate("Debian package"); err != nil {
			return err
		}
	}
	if err := (Party{ID: r.BuilderID}).validate("builder"); err != nil {
		return err
	}
	if r.ReproveVersion == "" {
		return errors.New("rebuild has no reprove version")
	}
	if len(r.Commands) == 0 {
		return errors.New("rebuild has no commands")
	}
	for i, c := range r.Commands {
		if len(c) == 0 {
			return fmt.Errorf("rebuild command %d is empty", i)
		}
	}
	if r.StartedOn.IsZero() || r.FinishedOn.IsZero() || r.FinishedOn.Before(r.StartedOn) {
		return errors.New("rebuild start and finish times are missing or out of order")
	}
	if r.ExitCode != 0 {
		return fmt.Errorf("rebuild failed (exit code %d): there is nothing to attest", r.ExitCode)
	}
	if len(r.Outputs) == 0 {
		return errors.New("rebuild has no outputs")
	}
	seen := map[string]bool{}
	for _, o := range r.Outputs {
		if o.Name == "" {
			return errors.New("rebuild output has no name")
		}
		if seen[o.Name] {
			return fmt.Errorf("rebuild output %q is listed twice", o.Name)
		}
		seen[o.Name] = true
		if err := o.Digest.Validate(); err != nil {
			return fmt.Errorf("rebuild output %s: digest: %w", o.Name, err)
		}
		if o.Digest.Algorithm() != digest.SHA256 {
			return fmt.Errorf("rebuild output %s: digest must be sha256, not %s", o.Name, o.Digest.Algorithm())
		}
	}
	return nil
}

// ParseRebuild reads the Rebuild JSON strictly and validates it.
func ParseRebuild(b []byte) (*Rebuild, error) {
	var r Rebuild
	if err := strictjson.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("parse rebuild result: %w", err)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("parse rebuild result: %w", err)
	}
	return &r, nil
}

// externalParameters of the reprove build type: the recipe, by digest.
type externalParameters struct {
	Recipe externalRecipe `json:"recipe"`
}

type externalRecipe struct {
	Name    string    `json:"name"`
	Version string    `json:"version"`
	URI     string    `json:"uri,omitempty"`
	Digest  DigestSet `json:"digest"`
}

// internalParameters of the reprove build type: how the builder ran it.
type internalParameters struct {
	Env        map[string]string `json:"env,omitempty"`
	Commands   [][]string        `json:"commands"`
	ExitCode   int               `json:"exitCode"`
	HostKernel string            `json:"hostKernel,omitempty"`
}

// RebuildStatement builds the SLSA Provenance v1 statement for a rebuild,
// with the in-toto bindings, ready to sign.
func RebuildStatement(r *Rebuild) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("build rebuild statement: %w", err)
	}
	fail := func(err error) ([]byte, error) { return nil, fmt.Errorf("build rebuild statement: %w", err) }

	ext, err := structOf(externalParameters{Recipe: externalRecipe{
		Name: r.Recipe.Name, Version: r.Recipe.Version, URI: r.Recipe.URI, Digest: setOf(r.Recipe.Digest),
	}})
	if err != nil {
		return fail(err)
	}
	internal, err := structOf(internalParameters{Env: r.Env, Commands: r.Commands, ExitCode: r.ExitCode, HostKernel: r.HostKernel})
	if err != nil {
		return fail(err)
	}

	var deps []*ita1.ResourceDescriptor
	srcName := r.Source.URI
	if r.Source.GoModule != "" {
		srcName = r.Source.GoModule
	}
	src, err := descriptor(srcName, r.Source.URI, r.Source.DigestSet(), map[string]any{"role": RoleSource})
	if err != nil {
		return fail(err)
	}
	deps = append(deps, src)
	add := func(d *Dependency, role string) error {
		if d == nil {
			return nil
		}
		name := d.Name
		if d.Version != "" {
			name += "@" + d.Version
		}
		rd, err := descriptor(name, d.URI, d.DigestSet(), map[string]any{"role": role})
		if err != nil {
			return err
		}
		deps = append(deps, rd)
		return nil
	}
	if err := add(r.Toolchain, RoleToolchain); err != nil {
		return fail(err)
	}
	if err := add(r.BaseImage, RoleBaseImage); err != nil {
		return fail(err)
	}
	mods := append([]Dependency(nil), r.GoModules...)
	sort.Slice(mods, func(i, j int) bool { return mods[i].Name+"@"+mods[i].Version < mods[j].Name+"@"+mods[j].Version })
	for i := range mods {
		if err := add(&mods[i], RoleGoModule); err != nil {
			return fail(err)
		}
	}
	for i := range r.DebianPackages {
		if err := add(&r.DebianPackages[i], RoleDebianPackage); err != nil {
			return fail(err)
		}
	}

	builderVersion := map[string]string{"reprove": r.ReproveVersion}
	prov := &slsa.Provenance{
		BuildDefinition: &slsa.BuildDefinition{
			BuildType:            BuildType,
			ExternalParameters:   ext,
			InternalParameters:   internal,
			ResolvedDependencies: deps,
		},
		RunDetails: &slsa.RunDetails{
			Builder: &slsa.Builder{Id: r.BuilderID, Version: builderVersion},
			Metadata: &slsa.BuildMetadata{
				StartedOn:  timestamppb.New(r.StartedOn.UTC()),
				FinishedOn: timestamppb.New(r.FinishedOn.UTC()),
			},
		},
	}
	if err := prov.Validate(); err != nil {
		return fail(err)
	}
	outs := append([]Output(nil), r.Outputs...)
	sort.Slice(outs, func(i, j int) bool { return outs[i].Name < outs[j].Name })
	var subjects []*ita1.ResourceDescriptor
	for _, o := range outs {
		rd, err := descriptor(o.Name, "", setOf(o.Digest), nil)
		if err != nil {
			return fail(err)
		}
		subjects = append(subjects, rd)
	}
	return newStatement(subjects, ProvenancePredicateType, prov)
}

// ProvenanceInfo is what verify reads back from a rebuild statement.
type ProvenanceInfo struct {
	Recipe    RecipeRef
	Source    Source
	BuilderID string
	Outputs   []Subject
	// StartedOn and FinishedOn are when the rebuild ran (zero if the
	// provenance does not say).
	StartedOn, FinishedOn time.Time
}

// parseProvenance decodes a SLSA Provenance v1 predicate strictly with the
// in-toto bindings, requires reprove's build type, and extracts the recipe,
// the one source dependency and the outputs.
func parseProvenance(st *Statement) (*ProvenanceInfo, error) {
	var prov slsa.Provenance
	if err := strictProto(st.Predicate, &prov); err != nil {
		return nil, fmt.Errorf("parse provenance: %w", err)
	}
	if err := prov.Validate(); err != nil {
		return nil, fmt.Errorf("parse provenance: %w", err)
	}
	bd := prov.GetBuildDefinition()
	if bd.GetBuildType() != BuildType {
		return nil, fmt.Errorf("parse provenance: build type is %q, want %q", bd.GetBuildType(), BuildType)
	}
	extJSON, err := protojson.Marshal(bd.GetExternalParameters())
	if err != nil {
		return nil, fmt.Errorf("parse provenance: external parameters: %w", err)
	}
	var ext externalParameters
	if err := strictjson.Unmarshal(extJSON, &ext); err != nil {
		return nil, fmt.Errorf("parse provenance: external parameters: %w", err)
	}
	if err := ext.Recipe.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("parse provenance: recipe digest: %w", err)
	}
	rd, _ := ext.Recipe.Digest.Digest(digest.SHA256)
	info := &ProvenanceInfo{
		Recipe:    RecipeRef{Name: ext.Recipe.Name, Version: ext.Recipe.Version, URI: ext.Recipe.URI, Digest: rd},
		BuilderID: prov.GetRunDetails().GetBuilder().GetId(),
		Outputs:   st.Subject,
	}
	if md := prov.GetRunDetails().GetMetadata(); md != nil {
		if md.GetStartedOn() != nil {
			info.StartedOn = md.GetStartedOn().AsTime()
		}
		if md.GetFinishedOn() != nil {
			info.FinishedOn = md.GetFinishedOn().AsTime()
		}
	}
	if info.Recipe.Name == "" || info.Recipe.Version == "" {
		return nil, errors.New("parse provenance: recipe name or version is missing")
	}
	var sources []*ita1.ResourceDescriptor
	for _, d := range bd.GetResolvedDependencies() {
		if role := d.GetAnnotations().GetFields()["role"]; role.GetStringValue() == RoleSource {
			sources = append(sources, d)
		}
	}
	if len(sources) != 1 {
		return nil, fmt.Errorf("parse provenance: %d resolved dependencies have role %q, want exactly 1", len(sources), RoleSource)
	}
	ds := DigestSet(sources[0].GetDigest())
	if err := ds.Validate(); err != nil {
		return nil, fmt.Errorf("parse provenance: source: %w", err)
	}
	ds, err = ds.Normalized()
	if err != nil {
		return nil, fmt.Errorf("parse provenance: source: %w", err)
	}
	info.Source = sourceFromSet(sources[0].GetUri(), ds)
	if strings.Contains(sources[0].GetName(), "@") && ds[KeyDirHash] != "" {
		info.Source.GoModule = sources[0].GetName()
	}
	return info, nil
}

// ReadProvenance reads a rebuild statement's SLSA provenance strictly and
// returns what reprove uses of it.
func ReadProvenance(st *Statement) (*ProvenanceInfo, error) {
	if st.PredicateType != ProvenancePredicateType {
		return nil, fmt.Errorf("parse provenance: predicate type is %q, want %q", st.PredicateType, ProvenancePredicateType)
	}
	return parseProvenance(st)
}
