package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/keys"
	"github.com/reprove/reprove/builder"
	"github.com/reprove/reprove/builder/fetch"
	"github.com/reprove/reprove/compare"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/internal/atomicfile"
	"github.com/reprove/reprove/internal/ctxio"
	"github.com/reprove/reprove/recipes"
)

// RebuildSchemaVersion is the version of RebuildResult's JSON (result.json,
// `reprove rebuild --json`). Version 2 took lowerCamelCase keys and
// replaced the builder's own record of the build with the provenance
// record (rebuild.json) and a few facts provenance does not hold.
const RebuildSchemaVersion = 2

// RebuildRequest is one rebuild to run.
type RebuildRequest struct {
	Recipe *recipes.Recipe
	// OutDir receives the results; it must not exist unless Replace.
	OutDir  string
	Replace bool
	// Normalizers are allowed beside the recipe's own.
	Normalizers []string
	// Signing, when set, signs the provenance and a verification summary
	// for each shipped artifact.
	Signing *Signing
	// Publish, when set (it needs Signing), publishes the signed
	// attestations and the compare reports to a transparency centre once
	// the results are in place, and keeps the log bundles beside them.
	Publish *PublishTarget
}

// PublishTarget names a transparency centre and its log's key.
type PublishTarget struct {
	Server string
	// LogKey is the log's verifier key or a file holding it; empty trusts
	// the key the centre names (the result says so).
	LogKey string
}

// PublishError is a rebuild whose results are complete and in place but
// whose publication failed; Rebuild returns it with the result.
type PublishError struct {
	Server string
	Err    error
}

func (e *PublishError) Error() string {
	return fmt.Sprintf("the results are in place, but publishing them to %s failed: %v", e.Server, e.Err)
}

func (e *PublishError) Unwrap() error { return e.Err }

// Signing is who signs a rebuild's attestations and what they rest on.
type Signing struct {
	Signer attest.Signer
	// BuilderID is the URI naming this rebuilder (KeyBuilderID of the
	// signer's key when empty).
	BuilderID string
	// Reviews are the review attestations the summaries cite.
	Reviews []*envelope.Envelope
}

// RebuildResult is a finished rebuild: the verdict, each output and its
// comparison, the attestations written, and the record of the build.
type RebuildResult struct {
	SchemaVersion int            `json:"schemaVersion"`
	Recipe        recipes.Ref    `json:"recipe"`
	Verdict       Verdict        `json:"verdict"`
	Outputs       []OutputResult `json:"outputs"`
	// Attestations are the signed files written (absolute paths): bare
	// DSSE envelopes.
	Attestations []string `json:"attestations,omitempty"`
	// Bundles are the same envelopes as Sigstore bundles, each beside its
	// envelope (X.sigstore.json beside X.intoto.json): cosign v3 and
	// sigstore-go read bundles, slsa-verifier and cosign's --signature
	// bare envelopes.
	Bundles []string `json:"bundles,omitempty"`
	// Reviews are copies of the review attestations the summaries cite,
	// kept beside them so that attestations/ holds the whole chain.
	Reviews []string `json:"reviews,omitempty"`
	// Dir is the output directory (absolute).
	Dir string `json:"dir"`
	// Rebuild is the record of the build: what was built from what, how
	// and by whom. It is rebuild.json, which `reprove attest rebuild`
	// signs, and the provenance statement's content.
	Rebuild *attest.Rebuild `json:"rebuild"`
	// Build holds what the provenance does not: how the build ran here.
	Build BuildFacts `json:"build"`
	// Published is what the transparency centre logged (with Publish).
	Published *PublishResult `json:"published,omitempty"`
}

// BuildFacts are facts of this run that provenance does not record.
type BuildFacts struct {
	// Image describes the base image (its digest is in the provenance).
	Image string `json:"image"`
	// Source says whether this run read the source from its location or
	// from reprove's cache (and then from where and when it was fetched).
	Source *fetch.Fetched `json:"source,omitempty"`
	Limits LimitFacts     `json:"limits"`
	Steps  []StepFacts    `json:"steps"`
}

// How a rebuild's compare reports name the two files: by role and output
// path ("rebuilt/gofmt", "shipped/gofmt").
const (
	ReportRebuilt = "rebuilt/"
	ReportShipped = "shipped/"
)

// StepCPU is the CPU time the build steps used, together (0 when the host
// does not account it).
func (f BuildFacts) StepCPU() time.Duration {
	var d time.Duration
	for _, s := range f.Steps {
		if sd, err := time.ParseDuration(s.CPU); err == nil {
			d += sd
		}
	}
	return d
}

// StepTime is how long the build steps ran, together: the build itself,
// without fetching, the image or collecting the outputs.
func (f BuildFacts) StepTime() time.Duration {
	var d time.Duration
	for _, s := range f.Steps {
		// Duration is written by time.Duration.String, which ParseDuration
		// reads back exactly.
		if sd, err := time.ParseDuration(s.Duration); err == nil {
			d += sd
		}
	}
	return d
}

// LimitFacts are the limits the build ran under.
type LimitFacts struct {
	MemoryBytes int64 `json:"memoryBytes"`
	// DiskBytes bounds what the build wrote to /src, /out and
	// /home/build; OutputBytes its declared outputs together.
	DiskBytes   int64   `json:"diskBytes,omitempty"`
	OutputBytes int64   `json:"outputBytes,omitempty"`
	Pids        int64   `json:"pids"`
	CPUs        float64 `json:"cpus,omitempty"`
	Timeout     string  `json:"timeout"`
}

// StepFacts is one build step as it ran.
type StepFacts struct {
	Args     []string `json:"args"`
	Dir      string   `json:"dir"`
	ExitCode int      `json:"exitCode"`
	Duration string   `json:"duration"`
	// CPU is the CPU time the step's processes used (its cgroup's
	// accounting), when the host keeps it.
	CPU string `json:"cpu,omitempty"`
}

// OutputResult is one rebuilt output and, if the recipe names what shipped,
// its comparison.
type OutputResult struct {
	Path    string        `json:"path"`
	Rebuilt digest.Digest `json:"rebuilt"`
	Size    int64         `json:"size"`
	Shipped *ShippedRef   `json:"shipped,omitempty"`
	// Verdict and Normalizers are the comparison's.
	Verdict     *verdict.Verdict `json:"verdict,omitempty"`
	Normalizers []string         `json:"normalizers,omitempty"`
	// Differences counts what compare found; Causes how many of them are
	// not effects of others (the ones to read first).
	Differences int `json:"differences,omitempty"`
	Causes      int `json:"causes,omitempty"`
	// Report is the comparison report (JSON; .txt and .html beside it).
	Report string `json:"report,omitempty"`
}

// ShippedRef locates the shipped artifact compared with.
type ShippedRef struct {
	// Location is the recipe's URL or path of the shipped file.
	Location string `json:"location"`
	// Member is the archive member compared, when the recipe names one.
	Member string        `json:"member,omitempty"`
	Digest digest.Digest `json:"digest"`
	// Fetched says whether this run read Location or took the bytes from
	// reprove's cache, and then from where and when they were fetched.
	Fetched *fetch.Fetched `json:"fetched,omitempty"`
}

// Rebuild runs the whole flow: the shipped artifacts first (a wrong pin
// stops the run before the long build), the build, the provenance, each
// output's comparison (reports as JSON, text and HTML), the signatures,
// result.json; then the output directory appears at once, and with Publish
// its attestations go to a transparency centre. On error nothing is left in
// OutDir's place; a failed build's log is kept under the cache and named in
// the error. A failed publication leaves the results in place and returns
// them with a *PublishError.
func (s *Session) Rebuild(ctx context.Context, req RebuildRequest) (res *RebuildResult, err error) {
	r := req.Recipe
	if r == nil {
		return nil, fmt.Errorf("rebuild: no recipe")
	}
	allowed := append(append([]string(nil), r.Normalizers...), req.Normalizers...)
	if _, err := verdict.CheckNormalizers(allowed); err != nil {
		return nil, fmt.Errorf("rebuild %s: normalizers: %w", r.Name, err)
	}
	if req.Signing != nil && req.Signing.Signer == nil {
		return nil, fmt.Errorf("rebuild %s: signing asked for without a key", r.Name)
	}
	if req.Publish != nil && req.Signing == nil {
		return nil, fmt.Errorf("rebuild %s: publishing needs signed attestations (a signing key)", r.Name)
	}
	out := req.OutDir
	if out == "" {
		out = DefaultOutDir(r.Name, r.Version)
	}
	st, err := newStage(out, req.Replace)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			st.abort()
		}
	}()
	ref, err := r.Ref()
	if err != nil {
		return nil, err
	}
	run := &rebuildRun{s: s, req: req, r: r, st: st, allowed: allowed,
		res: &RebuildResult{SchemaVersion: RebuildSchemaVersion, Recipe: ref, Dir: st.final}}

	// The runner caps what it writes here (runner.DefaultLogLimit) and
	// says so at the cut.
	log, err := os.Create(st.path("build.log"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	b, err := s.Builder(log)
	if err != nil {
		return nil, err
	}
	fetched, err := run.fetchShipped(ctx, b)
	if err != nil {
		return nil, err
	}
	built, err := b.Build(ctx, r, st.path("outputs"))
	if err != nil {
		log.Close()
		return nil, keepLog(s.rt.CacheDir, r.Name, r.Version, st.path("build.log"), s.rt.Now(), err)
	}
	if err := run.record(ctx, built); err != nil {
		return nil, err
	}
	anyShipped, allGood := false, true
	for _, o := range built.Outputs {
		or, err := run.compareOutput(ctx, o, fetched[o.Path])
		if err != nil {
			return nil, err
		}
		if or.Verdict != nil {
			anyShipped = true
			allGood = allGood && *or.Verdict != verdict.Different
		}
		run.res.Outputs = append(run.res.Outputs, or)
	}
	res = run.res
	switch {
	case !anyShipped:
		res.Verdict = Rebuilt
	case allGood:
		res.Verdict = Reproduced
	default:
		res.Verdict = NotReproduced
	}
	if err := st.writeFile("result.json", writeJSON(res)); err != nil {
		return nil, err
	}
	if err := log.Close(); err != nil {
		return nil, fmt.Errorf("write build log: %w", err)
	}
	if err := st.commit(req.Replace); err != nil {
		return nil, err
	}
	if req.Publish != nil {
		if err := s.publish(ctx, res, req.Publish); err != nil {
			return res, &PublishError{Server: req.Publish.Server, Err: err}
		}
	}
	return res, nil
}

// rebuildRun is one Rebuild in progress: its phases share the stage, the
// result being filled in and the signed rebuild the summaries cite.
type rebuildRun struct {
	s          *Session
	req        RebuildRequest
	r          *recipes.Recipe
	st         *stage
	allowed    []string
	res        *RebuildResult
	rebuildEnv *envelope.Envelope
}

// fetchShipped fetches and checks every shipped artifact into shipped/,
// and returns where each one's bytes came from.
func (run *rebuildRun) fetchShipped(ctx context.Context, b *builder.Builder) (map[string]*fetch.Fetched, error) {
	fetched := map[string]*fetch.Fetched{}
	for _, o := range run.r.Outputs {
		if o.Shipped == nil {
			continue
		}
		run.s.sayf(PhaseFetch, "shipped artifact for %s", o.Path)
		dest := run.st.path(path.Join("shipped", o.Path))
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return nil, err
		}
		rec, err := b.Fetcher().Shipped(ctx, run.r, o.Shipped, dest)
		if err != nil {
			return nil, err
		}
		// Where the bytes came from is part of the result (result.json, and
		// the summary the CLI prints), so it is not said here a second time.
		fetched[o.Path] = rec
	}
	return fetched, nil
}

// record writes the record of the build (rebuild.json) and, when signing,
// keeps the reviews and signs the provenance, which the summaries cite.
func (run *rebuildRun) record(ctx context.Context, built *builder.Result) error {
	builderID := ""
	if sg := run.req.Signing; sg != nil {
		builderID = sg.BuilderID
		if builderID == "" && sg.Signer != nil {
			fp, err := keys.Fingerprint(sg.Signer.Public())
			if err != nil {
				return err
			}
			builderID = KeyBuilderID(fp)
		}
	}
	rb, err := Provenance(built, builderID)
	if err != nil {
		return err
	}
	run.res.Rebuild = rb
	run.res.Build = buildFacts(built)
	if err := run.st.writeFile("rebuild.json", writeJSON(rb)); err != nil {
		return err
	}
	if run.req.Signing == nil {
		return nil
	}
	for _, rv := range run.req.Signing.Reviews {
		name := "attestations/review-" + rv.PayloadDigest().Encoded()[:12] + ".intoto.json"
		if err := run.st.writeFile(name, func(w io.Writer) error { _, err := w.Write(rv.Raw); return err }); err != nil {
			return err
		}
		run.res.Reviews = append(run.res.Reviews, run.st.finalPath(name))
	}
	run.s.sayf(PhaseAttest, "rebuild provenance")
	stmt, err := attest.RebuildStatement(rb)
	if err != nil {
		return err
	}
	run.rebuildEnv, err = run.sign(ctx, "attestations/rebuild.intoto.json", stmt)
	return err
}

// compareOutput compares one rebuilt output with its shipped artifact (if
// the recipe names one), writes the reports and, when signing, the
// comparison and the verification summary.
func (run *rebuildRun) compareOutput(ctx context.Context, o builder.Output, fetched *fetch.Fetched) (OutputResult, error) {
	or := OutputResult{Path: o.Path, Rebuilt: o.Digest, Size: o.Size}
	ro := recipeOutput(run.r, o.Path)
	if ro == nil || ro.Shipped == nil {
		return or, nil
	}
	loc := ro.Shipped.URL
	if loc == "" {
		loc = ro.Shipped.Path
	}
	or.Shipped = &ShippedRef{Location: loc, Member: ro.Shipped.Member, Digest: ro.Shipped.ArtifactDigest(), Fetched: fetched}
	run.s.sayf(PhaseCompare, "%s with the shipped artifact", o.Path)
	st := run.st
	cr, err := compare.Files(ctx, st.path(path.Join("outputs", o.Path)), st.path(path.Join("shipped", o.Path)),
		compare.Options{Normalizers: run.allowed, TempDir: run.s.rt.CacheDir})
	if err != nil {
		return or, fmt.Errorf("compare %s: %w", o.Path, err)
	}
	// The report names the files by their role, never by a path on this
	// machine: it is published (to a centre, with the release), and its
	// digest is what the comparison attestation records.
	cr.Rebuilt.Path = ReportRebuilt + o.Path
	cr.Shipped.Path = ReportShipped + o.Path
	v := cr.Verdict
	or.Verdict = &v
	or.Normalizers = cr.Normalizers
	or.Differences, or.Causes = cr.Counts.Differences, cr.Counts.Causes
	report := path.Join("compare", o.Path)
	if err := writeReports(st, report, cr); err != nil {
		return or, err
	}
	or.Report = st.finalPath(report + ".json")
	if run.req.Signing == nil {
		return or, nil
	}
	run.s.sayf(PhaseAttest, "verification summary for %s", o.Path)
	reportDigest, err := ctxio.HashFile(ctx, st.path(report+".json"), nil)
	if err != nil {
		return or, err
	}
	stem := "attestations/" + strings.ReplaceAll(o.Path, "/", "_")
	sum, err := attest.Summarize(attest.SummaryInput{
		Shipped:          attest.Output{Name: path.Base(o.Path), Digest: cr.Shipped.Digest},
		ShippedURI:       ro.Shipped.URL,
		Verdict:          v,
		Normalizers:      cr.Normalizers,
		CompareReport:    reportDigest,
		CompareReportURI: report + ".json",
		Rebuilt:          o.Digest,
		Rebuild:          run.rebuildEnv,
		RebuildURI:       "rebuild.intoto.json",
		ComparisonURI:    path.Base(stem) + ".comparison.intoto.json",
		Reviews:          run.req.Signing.Reviews,
		Verifier:         attest.Party{ID: run.res.Rebuild.BuilderID},
		Time:             run.s.rt.Now().UTC(),
	})
	if err != nil {
		return or, err
	}
	// The VSA cites the comparison: both are published.
	if _, err := run.sign(ctx, stem+".comparison.intoto.json", sum.Comparison); err != nil {
		return or, err
	}
	if _, err := run.sign(ctx, stem+".summary.intoto.json", sum.VSA); err != nil {
		return or, err
	}
	return or, nil
}

// sign signs a statement, writes the envelope into the stage, and the
// Sigstore bundle of it beside, and records both in the result.
func (run *rebuildRun) sign(ctx context.Context, name string, stmt []byte) (*envelope.Envelope, error) {
	signed, err := attest.Sign(ctx, stmt, run.req.Signing.Signer)
	if err != nil {
		return nil, err
	}
	e, err := envelope.Parse(signed)
	if err != nil {
		return nil, err
	}
	p := run.st.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	if err := attest.WriteAttestation(ctx, p, signed); err != nil {
		return nil, err
	}
	run.res.Attestations = append(run.res.Attestations, run.st.finalPath(name))
	bundle := strings.TrimSuffix(name, ".intoto.json") + attest.BundleExt
	if err := attest.WriteSigned(ctx, run.st.path(bundle), signed, run.req.Signing.Signer); err != nil {
		return nil, err
	}
	run.res.Bundles = append(run.res.Bundles, run.st.finalPath(bundle))
	return e, nil
}

// publish sends a committed rebuild's attestations and compare reports to
// a centre, writes the log bundles into the results and records what was
// logged in result.json.
func (s *Session) publish(ctx context.Context, res *RebuildResult, to *PublishTarget) error {
	s.sayf(PhasePublish, "to %s", to.Server)
	var reports []string
	for _, o := range res.Outputs {
		if o.Report != "" {
			reports = append(reports, o.Report)
		}
	}
	pub, err := Publish(ctx, PublishRequest{
		Server: to.Server, LogKey: to.LogKey,
		Files:          []string{filepath.Join(res.Dir, "attestations")},
		CompareReports: reports,
		BundleDir:      res.Dir,
	})
	if err != nil {
		return err
	}
	res.Published = pub
	return atomicfile.WriteFunc(filepath.Join(res.Dir, "result.json"), 0o644, writeJSON(res))
}

func recipeOutput(r *recipes.Recipe, p string) *recipes.Output {
	for i := range r.Outputs {
		if r.Outputs[i].Path == p {
			return &r.Outputs[i]
		}
	}
	return nil
}

func buildFacts(b *builder.Result) BuildFacts {
	f := BuildFacts{
		Image:  b.Image.Description,
		Source: b.Source.Fetched,
		Limits: LimitFacts{
			MemoryBytes: b.Limits.MemoryBytes,
			DiskBytes:   b.Limits.DiskBytes,
			OutputBytes: b.Limits.OutputBytes,
			Pids:        b.Limits.Pids,
			CPUs:        b.Limits.CPUs,
			Timeout:     b.Limits.Timeout,
		},
		Steps: []StepFacts{},
	}
	for _, s := range b.Steps {
		sf := StepFacts{Args: s.Args, Dir: s.Dir, ExitCode: int(s.ExitCode), Duration: s.Finished.Sub(s.Started).Round(time.Millisecond).String()}
		if s.CPU > 0 {
			sf.CPU = s.CPU.Round(time.Millisecond).String()
		}
		f.Steps = append(f.Steps, sf)
	}
	return f
}
