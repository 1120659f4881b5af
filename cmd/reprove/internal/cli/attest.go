package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/pipeline"
)

func newAttestCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "attest",
		Short: "Sign rebuild and verification-summary attestations",
		Long: `Sign the attestations a rebuilder publishes next to a release:

  reprove attest rebuild   SLSA Provenance v1 for one rebuild (from the rebuild
                           result JSON the builder writes)
  reprove attest summary   the verification summary linking the shipped file,
                           the compare verdict, the rebuild and the reviews

Each is an in-toto v1 statement in a DSSE envelope signed with a cosign-format
key; ` + "`cosign verify-blob-attestation`" + ` verifies them too.`,
		Args: groupArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newAttestRebuildCmd(env), newAttestSummaryCmd(env))
	return cmd
}

func newAttestRebuildCmd(env *Env) *cobra.Command {
	var keyPath, resultPath, out string
	var force, jsonOut bool
	cmd := &cobra.Command{
		Use:   "rebuild --result REBUILD.json --key KEY -o OUT",
		Short: "Sign SLSA provenance for a rebuild",
		Long: `Sign SLSA Provenance v1 (build type ` + attest.BuildType + `)
for the rebuild described by --result: the record of the build that reprove
rebuild writes as rebuild.json (schemaVersion 1, documented in
attest/FORMATS.md: the recipe, resolved inputs, builder, commands, times and
outputs), or the result.json beside it, which holds the same record. A failed
rebuild is refused.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if resultPath == "" || out == "" {
				return usageErrorf("--result and -o/--output are required")
			}
			if err := refuseExisting(out, force); err != nil {
				return err
			}
			b, err := os.ReadFile(resultPath)
			if err != nil {
				return fmt.Errorf("read rebuild result: %w", err)
			}
			r, err := pipeline.ParseRebuildRecord(b)
			if err != nil {
				return fmt.Errorf("%s: %w", resultPath, err)
			}
			st, err := attest.RebuildStatement(r)
			if err != nil {
				return err
			}
			s, err := signTo(cmd, env, keyPath, out, st)
			if err != nil {
				return err
			}
			return reportSigned(env, jsonOut, signedDoc{Command: "attest rebuild", Signer: s.Fingerprint,
				Files: []signedFile{signedAt(out, attest.ProvenancePredicateType, digest.FromBytes(st))}},
				"wrote %s: rebuild of %s %s (%s), signed by key %s (statement %s)\n",
				out, r.Recipe.Name, r.Recipe.Version, count(len(r.Outputs), "output"), s.Fingerprint, digest.FromBytes(st))
		},
	}
	f := cmd.Flags()
	f.StringVar(&keyPath, "key", "", "private key to sign with (cosign format)")
	f.StringVar(&resultPath, "result", "", "the record of the build: rebuild.json or result.json from reprove rebuild (`JSON`)")
	f.StringVarP(&out, "output", "o", "", "write the signed attestation to `FILE` (atomically)")
	f.BoolVar(&force, "force", false, "replace the output file if it exists")
	f.BoolVar(&jsonOut, "json", false, "print what was signed as JSON (schema signed)")
	return cmd
}

func newAttestSummaryCmd(env *Env) *cobra.Command {
	var (
		keyPath, shipped, shippedURI, rebuildPath, comparePath, rebuilt, out, compOut string
		verifierID                                                                    string
		reviews, normalize                                                            []string
		force, jsonOut                                                                bool
	)
	cmd := &cobra.Command{
		Use:   "summary --shipped FILE --rebuild REBUILD.intoto.json [--review REVIEW.intoto.json]... --key KEY -o OUT",
		Short: "Sign the verification summary linking review, rebuild and shipped file",
		Long: `Sign a verification summary about the shipped file: a SLSA Verification
Summary Attestation (predicate ` + attest.VSAPredicateType + `, written to -o)
and its companion comparison (predicate ` + attest.ComparisonPredicateType + `,
written to --comparison-output, by default OUT with .json replaced by
.comparison.json). With -o X.sigstore.json both are Sigstore bundles (v0.3),
and the VSA is also written as a bare envelope to X.intoto.json, the form
slsa-verifier verify-vsa reads. The VSA cites, by payload digest, the rebuild attestation
(--rebuild), the comparison and the review attestations (--review,
repeatable): the link review → rebuild → shipped file that reprove verify
follows. The comparison records the verdict, its normalizers and the compare
report's digest.

--review may be left out: a rebuilder can publish before any review (a
policy with reviewers: {required: false} accepts that), and sign a new
summary citing the reviews when they come.

The verdict comes from, in order:
  --compare REPORT.json  a report from reprove compare --json
  --rebuilt FILE         compare FILE (a rebuilt output) with the shipped file
                         now, allowing the --normalize normalizers
  neither                the shipped file must be byte-identical to one of the
                         rebuild's outputs
The rebuilt artifact must be one of the rebuild attestation's outputs.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if shipped == "" || rebuildPath == "" || out == "" {
				return usageErrorf("--shipped, --rebuild and -o/--output are required")
			}
			if comparePath != "" && rebuilt != "" {
				return usageErrorf("give --compare or --rebuilt, not both")
			}
			if len(normalize) > 0 && rebuilt == "" {
				return usageErrorf("--normalize applies to --rebuilt")
			}
			if compOut == "" {
				compOut = pipeline.ComparisonPath(out)
			}
			if compOut == out {
				return usageErrorf("--comparison-output must differ from -o")
			}
			for _, o := range []string{out, compOut, pipeline.BareBeside(out)} {
				if o == "" {
					continue
				}
				if err := refuseExisting(o, force); err != nil {
					return err
				}
			}
			if rebuilt != "" {
				if _, err := verdict.CheckNormalizers(normalize); err != nil {
					return usageErrorf("--normalize: %v", err)
				}
			}
			s, err := loadSigner(cmd, env, keyPath)
			if err != nil {
				return err
			}
			res, err := pipeline.Summarize(ctx, pipeline.SummaryRequest{
				Shipped: shipped, ShippedURI: shippedURI, Rebuild: rebuildPath, Reviews: reviews,
				CompareReport: comparePath, Rebuilt: rebuilt, Normalizers: normalize,
				Verifier: attest.Party{ID: verifierID}, Signer: s,
				Output: out, ComparisonOutput: compOut, Now: env.Now, Bytes: env.status.meter(),
			})
			var notOutput *pipeline.NotAnOutputError
			if errors.As(err, &notOutput) {
				return fmt.Errorf("%w; give --compare or --rebuilt to record how they differ", err)
			}
			if err != nil {
				return err
			}
			prep := "to"
			if res.Verdict == verdict.Different {
				prep = "from"
			}
			reviewed := "citing " + count(res.Reviews, "review")
			if res.Reviews == 0 {
				reviewed = "citing no review"
			}
			written := res.Output + " and " + res.ComparisonOutput
			if res.BareOutput != "" {
				written = res.Output + ", " + res.BareOutput + " (for slsa-verifier) and " + res.ComparisonOutput
			}
			doc := signedDoc{Command: "attest summary", Signer: res.Key, Shipped: res.Shipped, Verdict: res.Verdict.String(), Rebuilt: res.Rebuilt, Reviews: new(int)}
			*doc.Reviews = res.Reviews
			for _, f := range []struct {
				path, predicateType string
				statement           digest.Digest
			}{{res.Output, attest.VSAPredicateType, res.Statement}, {res.BareOutput, attest.VSAPredicateType, res.Statement}, {res.ComparisonOutput, attest.ComparisonPredicateType, res.ComparisonStatement}} {
				if f.path != "" {
					doc.Files = append(doc.Files, signedAt(f.path, f.predicateType, f.statement))
				}
			}
			return reportSigned(env, jsonOut, doc, "wrote %s: %s is %s %s rebuilt output %s, %s, signed by key %s\n",
				written, res.Shipped, res.Verdict, prep, res.Rebuilt, reviewed, res.Key)
		},
	}
	f := cmd.Flags()
	f.StringVar(&keyPath, "key", "", "private key to sign with (cosign format)")
	f.StringVar(&shipped, "shipped", "", "the shipped `FILE` the summary is about")
	f.StringVar(&shippedURI, "resource-uri", "", "where the shipped file is published (the VSA's resourceUri; default its name)")
	f.StringVar(&rebuildPath, "rebuild", "", "the signed rebuild attestation")
	f.StringArrayVar(&reviews, "review", nil, "a signed review attestation of the rebuilt source (repeatable; optional)")
	f.StringVar(&comparePath, "compare", "", "a compare report (reprove compare --json) for the shipped file")
	f.StringVar(&rebuilt, "rebuilt", "", "a rebuilt output `FILE` to compare with the shipped file now")
	f.StringSliceVar(&normalize, "normalize", nil, "allow this normalizer when comparing --rebuilt (repeatable)")
	f.StringVar(&verifierID, "verifier", "", "who compared, as a URI (default: the rebuild's builder id)")
	f.StringVarP(&out, "output", "o", "", "write the signed VSA to `FILE` (atomically)")
	f.StringVar(&compOut, "comparison-output", "", "write the signed comparison to `FILE` (default: OUT with .json replaced by .comparison.json)")
	f.BoolVar(&force, "force", false, "replace the output files if they exist")
	f.BoolVar(&jsonOut, "json", false, "print what was signed as JSON (schema signed)")
	return cmd
}

// readAttestation reads one signed attestation of the wanted predicate type
// (see attest.ReadAttestation).
func readAttestation(ctx context.Context, path, predicateType string) (*envelope.Envelope, *attest.Statement, error) {
	return attest.ReadAttestation(ctx, path, predicateType)
}

// count is n and the noun, in the plural unless n is 1 ("1 output", "2
// outputs").
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func refuseExisting(out string, force bool) error {
	if force {
		return nil
	}
	if _, err := os.Lstat(out); err == nil {
		return usageErrorf("%s already exists (use --force to replace it)", out)
	}
	return nil
}
