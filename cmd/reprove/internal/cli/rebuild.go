package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/signing"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/internal/english"
	"github.com/reprove/reprove/pipeline"
	"github.com/reprove/reprove/recipes"
)

func newRebuildCmd(env *Env) *cobra.Command {
	var (
		rf        runtimeFlags
		out       string
		force     bool
		keyPath   string
		builderID string
		reviews   []string
		normalize []string
		publish   string
		logKey    string
	)
	cmd := &cobra.Command{
		Use:   "rebuild RECIPE",
		Short: "Rebuild a release hermetically, compare it with the shipped artifacts, attest the result",
		Long: `Rebuild the release a recipe describes and check it against what shipped:

  fetch    the source and every dependency, each verified against its pin,
           and the shipped artifacts, verified against their digests
  image    the base image (Debian rootfs + Go toolchain), built locally and cached
  build    the recipe's steps in a containerd container: no network, read-only
           rootfs, fixed environment, non-root user, resource limits
  collect  the declared outputs, hashed on the host
  compare  each output with its shipped artifact: identical, equivalent (under
           the recipe's normalizers or --normalize) or different, explained
  attest   with --key: SLSA provenance for the rebuild and a verification
           summary per shipped artifact, signed (cosign key format)

Everything lands in one directory (-o, default reprove-out/NAME-VERSION), which
appears only when the run is complete:

  outputs/       the rebuilt files        shipped/      the shipped files compared
  compare/       reports (.json .txt .html)   attestations/ signed statements (--key)
  build.log      the build's output      rebuild.json  the rebuild, as reprove attest reads it
  result.json    this run's result (what --json prints)

Exit status: 0 reproduced (or rebuilt, when nothing shipped is named), 3 not
reproduced, 1 error, 2 usage.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx := cmd.Context()
			if _, err := verdict.CheckNormalizers(normalize); err != nil {
				return usageErrorf("--normalize: %v", err)
			}
			r, err := recipes.Load(ctx, a[0])
			if err != nil {
				return err
			}
			if _, err := verdict.CheckNormalizers(r.Normalizers); err != nil {
				return fmt.Errorf("%s: normalizers: %w", a[0], err)
			}
			var signer *signing.Signer
			if keyPath != "" {
				if signer, err = loadSigner(cmd, env, keyPath); err != nil {
					return err
				}
			}
			var reviewEnvs []*envelope.Envelope
			for _, p := range reviews {
				e, _, err := readAttestation(ctx, p, attest.ReviewPredicateType)
				if err != nil {
					return err
				}
				reviewEnvs = append(reviewEnvs, e)
			}
			if len(reviews) > 0 && signer == nil {
				return usageErrorf("--review needs --key: reviews are cited by the signed verification summary")
			}
			var signing *pipeline.Signing
			if signer != nil {
				signing = &pipeline.Signing{Signer: signer, BuilderID: builderID, Reviews: reviewEnvs}
			}
			req := pipeline.RebuildRequest{Recipe: r, OutDir: out, Replace: force, Normalizers: normalize, Signing: signing}
			if publish != "" {
				if signer == nil {
					return usageErrorf("--publish needs --key: a centre logs only signed attestations")
				}
				if _, err := pipeline.ReadLogKey(logKey); err != nil {
					return usageErrorf("--log-key: %v", err)
				}
				req.Publish = &pipeline.PublishTarget{Server: publish, LogKey: logKey}
			} else if logKey != "" {
				return usageErrorf("--log-key needs --publish")
			}
			rep, err := rebuild(ctx, env, &rf, req)
			var pe *pipeline.PublishError
			if errors.As(err, &pe) {
				// The rebuild itself is complete: show it, then fail.
				printRebuild(env.Stdout, stdoutStyle(env), rep)
				return err
			}
			if err != nil {
				return err
			}
			if rf.json {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				printRebuild(env.Stdout, stdoutStyle(env), rep)
			}
			if rep.Verdict == pipeline.NotReproduced {
				return withCode(ExitNotReproduced)
			}
			return nil
		},
	}
	rf.register(cmd)
	f := cmd.Flags()
	f.StringVarP(&out, "output", "o", "", "output `directory` (must not exist; default reprove-out/NAME-VERSION)")
	f.BoolVar(&force, "force", false, "replace the output directory if it exists")
	f.StringVar(&keyPath, "key", "", "sign attestations with this private key (cosign format; password from REPROVE_PASSWORD or COSIGN_PASSWORD)")
	f.StringVar(&builderID, "builder-id", "", "URI naming this rebuilder in attestations (default: one naming the signing key, https://reprove.dev/builders/key/sha256:FINGERPRINT)")
	f.StringSliceVar(&reviews, "review", nil, "review attestation the verification summaries rest on (repeatable)")
	f.StringSliceVar(&normalize, "normalize", nil, "also allow this normalizer when comparing (repeatable)")
	f.StringVar(&publish, "publish", "", "publish the signed attestations and compare reports to the transparency centre at `URL` and keep its log bundles in the results (needs --key)")
	f.StringVar(&logKey, "log-key", "", "with --publish: the log's verifier `KEY` (or a file holding it); without it the key the centre names is trusted, and said so")
	return cmd
}

// rebuild opens a pipeline session for the command's runtime flags and runs
// one rebuild on it, showing progress on stderr.
func rebuild(ctx context.Context, env *Env, rf *runtimeFlags, req pipeline.RebuildRequest) (*pipeline.RebuildResult, error) {
	sess, err := openSession(ctx, env, rf)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	rep, err := sess.Rebuild(ctx, req)
	var ee *pipeline.ExistsError
	if errors.As(err, &ee) {
		return nil, usageErrorf("%s already exists (use --force to replace it, or -o to choose another directory)", ee.Dir)
	}
	return rep, err
}

// printRebuild shows the verdict and a table of outputs; on a terminal the
// digests are short so that the table fits 100 columns (result.json and
// --json hold them in full).
func printRebuild(w io.Writer, st style, rep *pipeline.RebuildResult) {
	word := shown(rep.Verdict.String())
	switch rep.Verdict {
	case pipeline.Reproduced:
		word = st.good(string(word))
	case pipeline.NotReproduced:
		word = st.bad(string(word))
	}
	printf(w, "%s %s: %s\n", rep.Recipe.Name, rep.Recipe.Version, word)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	printLine(tw, "  OUTPUT\tVERDICT\tREBUILT\tSHIPPED")
	for _, o := range rep.Outputs {
		cell, shipped := "-", "-"
		if o.Verdict != nil {
			cell = o.Verdict.String()
			if len(o.Normalizers) > 0 {
				cell += " (" + strings.Join(o.Normalizers, ", ") + ")"
			}
			if *o.Verdict == verdict.Different {
				cell += " (" + english.Count(o.Causes, "cause") + ")"
			}
			shipped = st.digest(o.Shipped.Digest)
		}
		printf(tw, "  %s\t%s\t%s\t%s\n", o.Path, cell, st.digest(o.Rebuilt), shipped)
	}
	tw.Flush()
	if rb := rep.Rebuild; rb != nil {
		img := rep.Build.Image
		if rb.BaseImage != nil {
			img += " (" + st.digest(rb.BaseImage.Digest) + ")"
		}
		printf(w, "built in %s (%s with fetching and the image) from %s on image %s\n",
			rep.Build.StepTime(), rb.FinishedOn.Sub(rb.StartedOn).Round(time.Millisecond), describeSource(rb.Source), img)
	}
	for _, o := range rep.Outputs {
		if o.Shipped != nil && o.Shipped.Fetched != nil && o.Shipped.Fetched.Cached {
			printf(w, "shipped %s: %s\n", o.Path, o.Shipped.Fetched.Describe())
		}
	}
	for _, o := range rep.Outputs {
		if o.Verdict != nil && *o.Verdict == verdict.Different {
			printf(w, "why %s differs (%s, %s in all): %s\n", o.Path, english.Count(o.Causes, "cause"), english.Count(o.Differences, "difference"), strings.TrimSuffix(o.Report, ".json")+".txt")
		}
	}
	for _, a := range rep.Attestations {
		printf(w, "signed %s\n", a)
	}
	for _, a := range rep.Reviews {
		printf(w, "with the review %s\n", a)
	}
	if p := rep.Published; p != nil {
		printf(w, "published %s and %s to %s (tree size %d)\n", english.Count(len(p.Documents), "attestation"), english.Count(len(p.CompareReports), "compare report"), p.Server, p.TreeSize)
		if p.KeyPinned {
			printf(w, "  the log's key was not given (--log-key): trusted the key the centre names, %s\n", p.VerifierKey)
		}
		for _, b := range p.Bundles {
			printf(w, "  log bundle %s: %s for %s\n", b.Path, english.Count(b.Entries, "entry", "entries"), b.Subject)
		}
	}
	printf(w, "results in %s\n", rep.Dir)
}

func describeSource(s attest.Source) string {
	switch {
	case s.GitCommit != "":
		return s.URI + "@" + s.GitCommit
	case s.GoModule != "":
		return s.GoModule
	}
	return s.URI
}
