package pipeline

import (
	"fmt"

	"github.com/opencontainers/go-digest"
	"sort"
	"strings"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/builder"
)

// DefaultBuilderID names the builder of a rebuild that signs nothing and
// gave no --builder-id: such a record identifies no one.
const DefaultBuilderID = "https://reprove.dev/builders/local"

// KeyBuilderID is the builder id of a rebuilder that signs with the key of
// fingerprint fp and gave no --builder-id: the rebuilder is who holds that
// key, so its id is the key's (as reprove key generate prints it), and
// `slsa-verifier verify-vsa --verifier-id` names one rebuilder.
func KeyBuilderID(fp digest.Digest) string {
	return "https://reprove.dev/builders/key/" + fp.String()
}

// Provenance maps the builder's result into attest's rebuild input
// (attest does not import builder).
func Provenance(res *builder.Result, builderID string) (*attest.Rebuild, error) {
	if builderID == "" {
		builderID = DefaultBuilderID
	}
	rb := &attest.Rebuild{
		SchemaVersion:  attest.RebuildSchemaVersion,
		Recipe:         attest.RecipeRef(res.Recipe),
		BuilderID:      builderID,
		ReproveVersion: res.ReproveVersion,
		HostKernel:     res.HostKernel,
		Env:            map[string]string{},
		StartedOn:      res.Started,
		FinishedOn:     res.Finished,
		ExitCode:       res.ExitCode,
	}
	src := res.Source
	switch src.Kind {
	case "git":
		rb.Source = attest.Source{URI: src.URI, GitCommit: src.Commit, Tree: src.Digest}
	case "archive":
		rb.Source = attest.Source{URI: src.URI, Archive: src.Digest}
	case "gomod":
		rb.Source = attest.Source{URI: "https://proxy.golang.org/" + src.URI + "/@v/" + src.Version + ".zip", GoModule: src.URI + "@" + src.Version, GoSum: src.Sum}
	case "dir":
		rb.Source = attest.Source{URI: "file://" + src.URI, Tree: src.Digest}
	case "dsc":
		// A Debian source package is pinned by its .dsc, which pins
		// every file it lists.
		rb.Source = attest.Source{URI: src.URI, Archive: src.Digest}
	default:
		return nil, fmt.Errorf("record provenance: unknown source kind %q", src.Kind)
	}
	if tc := res.Image.Toolchain; tc != nil {
		rb.Toolchain = &attest.Dependency{Name: tc.Module, Version: tc.Version, GoSum: tc.Sum}
	}
	rb.BaseImage = &attest.Dependency{Name: res.Image.Name, Digest: res.Image.Digest}
	// A locked Debian image lists each package it was installed from,
	// as a .buildinfo lists Installed-Build-Depends.
	for _, p := range res.Image.Packages {
		if p.SHA256 == "" {
			continue
		}
		uri := p.URL
		if uri == "" {
			uri = p.Path // an image recorded before packages had URLs
		}
		rb.DebianPackages = append(rb.DebianPackages, attest.Dependency{Name: p.Name + ":" + p.Arch, Version: p.Version, URI: uri, Digest: p.SHA256})
	}
	seen := map[string]bool{}
	for _, m := range res.Dependencies {
		key := m.Path + "@" + m.Version
		if seen[key] {
			continue
		}
		seen[key] = true
		d := attest.Dependency{Name: m.Path, Version: m.Version, GoSum: m.Sum}
		if d.GoSum == "" {
			// Only the go.mod was needed: record its hash.
			d.Version += "/go.mod"
			d.GoSum = m.ModSum
		}
		rb.GoModules = append(rb.GoModules, d)
	}
	sort.Slice(rb.GoModules, func(i, j int) bool {
		if rb.GoModules[i].Name != rb.GoModules[j].Name {
			return rb.GoModules[i].Name < rb.GoModules[j].Name
		}
		return rb.GoModules[i].Version < rb.GoModules[j].Version
	})
	for _, kv := range res.Env {
		k, v, _ := strings.Cut(kv, "=")
		rb.Env[k] = v
	}
	for _, s := range res.Steps {
		rb.Commands = append(rb.Commands, s.Args)
	}
	for _, o := range res.Outputs {
		rb.Outputs = append(rb.Outputs, attest.Output{Name: o.Path, Digest: o.Digest})
	}
	if err := rb.Validate(); err != nil {
		return nil, fmt.Errorf("record provenance: %w", err)
	}
	return rb, nil
}
