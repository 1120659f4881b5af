package attest

import (
	"fmt"
	"sort"
	"time"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	ita1 "github.com/in-toto/attestation/go/v1"
	"github.com/opencontainers/go-digest"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// BuilderResult is a trusted builder's provenance of the file: what the
// build that made the shipped file says of itself (SLSA Provenance v1,
// such as the provenance npm publishes from GitHub Actions), shown beside
// the rebuilders' verdicts. It is the builder's claim, not a check: the
// rebuilders are what verify the file.
type BuilderResult struct {
	Name string `json:"name"`
	// Key and Identity name the builder as RebuilderResult's do.
	Key      digest.Digest `json:"key"`
	Identity *IdentityRef  `json:"identity,omitempty"`
	// BuilderID is the provenance's runDetails.builder.id, BuildType its
	// buildDefinition.buildType.
	BuilderID string `json:"builderId"`
	BuildType string `json:"buildType"`
	// Source is what the build says it built from: its first resolved
	// dependency (for GitHub's build type, the repository at a commit).
	Source *BuildSource `json:"source,omitempty"`
	// Invocation is runDetails.metadata.invocationId (for GitHub, the
	// workflow run's URL).
	Invocation string `json:"invocation,omitempty"`
	// Attestation is where the provenance was read.
	Attestation string `json:"attestation"`
}

// BuildSource is a resolved dependency of a builder's provenance.
type BuildSource struct {
	URI    string            `json:"uri,omitempty"`
	Digest map[string]string `json:"digest,omitempty"`
}

// builderClaims is the builders' phase: each SLSA Provenance v1 about the
// file signed by a trusted builder becomes a BuilderResult. A provenance
// of a trusted builder that does not parse fails the verification, and so
// does the lack of one when the policy says builders: {required: true}.
//
// A builder's provenance need not be in the policy's log: it adds a
// requirement and never makes a file verified by itself (its own
// transparency is the Sigstore log its bundle was checked against), so
// provenances held outside the log count here too.
func (e *evaluator) builderClaims() {
	if e.pol.Builders.Len() == 0 {
		return
	}
	for _, g := range []*evaluator{e, e.held} {
		if g == nil {
			continue
		}
		for _, gn := range g.g.Nodes() {
			n := g.nodes[gn.Digest]
			if gn.Statement.PredicateType != ProvenancePredicateType || len(n.builders) == 0 {
				continue
			}
			if !subjectsMatchFile(gn.Statement.Subject, e.fileDigests) {
				e.note("attestation %s is a build provenance of another file (%s); not counted", gn.Source, subjectNames(gn.Statement.Subject))
				continue
			}
			br, err := readBuildProvenance(gn.Statement, e.now)
			if err != nil {
				e.reason("attestation %s: the build provenance of a trusted builder: %v", gn.Source, err)
				continue
			}
			br.Attestation = gn.Source
			for _, id := range sortedKeys(n.builders) {
				p, _ := e.pol.Builders.Party(id)
				r := *br
				r.Name, r.Key, r.Identity = p.Name, id, identityRef(p)
				e.res.Builders = append(e.res.Builders, r)
				if c := r.Source; c != nil && e.res.Source != nil && c.Digest["gitCommit"] != "" && e.res.Source.GitCommit != "" && c.Digest["gitCommit"] != e.res.Source.GitCommit {
					e.note("builder %s built from commit %s; the trusted rebuilders rebuilt commit %s", r.Name, c.Digest["gitCommit"], e.res.Source.GitCommit)
				}
			}
		}
	}
	sort.SliceStable(e.res.Builders, func(i, j int) bool {
		a, b := e.res.Builders[i], e.res.Builders[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Attestation < b.Attestation
	})
	if e.pol.BuildersRequired && len(e.res.Builders) == 0 {
		e.reason("no build provenance of %s signed by a trusted builder; the policy requires one", e.fileSHA)
	}
}

// readBuildProvenance reads a builder's SLSA Provenance v1 strictly (the
// in-toto bindings, exact field names), whatever its build type, and
// refuses dates in the future or before Earliest.
func readBuildProvenance(st *Statement, now time.Time) (*BuilderResult, error) {
	var prov slsa.Provenance
	if err := strictProto(st.Predicate, &prov); err != nil {
		return nil, fmt.Errorf("parse provenance: %w", err)
	}
	if err := prov.Validate(); err != nil {
		return nil, fmt.Errorf("parse provenance: %w", err)
	}
	r := &BuilderResult{
		BuilderID:  prov.GetRunDetails().GetBuilder().GetId(),
		BuildType:  prov.GetBuildDefinition().GetBuildType(),
		Invocation: prov.GetRunDetails().GetMetadata().GetInvocationId(),
	}
	if md := prov.GetRunDetails().GetMetadata(); md != nil {
		for _, t := range []*timestamppb.Timestamp{md.GetStartedOn(), md.GetFinishedOn()} {
			if t == nil {
				continue
			}
			if d := checkTime("its run", t.AsTime(), now); d != "" {
				return nil, fmt.Errorf("%s", d)
			}
		}
	}
	if deps := prov.GetBuildDefinition().GetResolvedDependencies(); len(deps) > 0 {
		r.Source = buildSource(deps[0])
	}
	return r, nil
}

func buildSource(d *ita1.ResourceDescriptor) *BuildSource {
	return &BuildSource{URI: d.GetUri(), Digest: d.GetDigest()}
}
