package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/keys"
	"github.com/reprove/reprove/builder"
	"github.com/reprove/reprove/compare"
	"github.com/reprove/reprove/compare/render"
	"github.com/reprove/reprove/internal/ctxio"
	"github.com/reprove/reprove/recipes"
)

// RebuildSchema is the version of `reprove rebuild --json` and result.json.
const RebuildSchema = 1

// RebuildReport is the machine-readable result of `reprove rebuild`.
type RebuildReport struct {
	Schema int               `json:"schema"`
	Recipe builder.RecipeRef `json:"recipe"`
	// Verdict is "reproduced" (every shipped artifact identical, or
	// equivalent under allowed normalizers), "not reproduced", or "rebuilt"
	// (the recipe names no shipped artifact).
	Verdict string         `json:"verdict"`
	Outputs []OutputReport `json:"outputs"`
	// Attestations are the signed files written (with --key).
	Attestations []string `json:"attestations,omitempty"`
	// Dir is the output directory.
	Dir   string          `json:"dir"`
	Build *builder.Result `json:"build"`
}

// OutputReport is one rebuilt output and its comparison.
type OutputReport struct {
	Path    string        `json:"path"`
	Rebuilt digest.Digest `json:"rebuilt"`
	Size    int64         `json:"size"`
	// Shipped is the artifact compared with, if the recipe names one.
	Shipped *ShippedReport `json:"shipped,omitempty"`
	// Verdict and Normalizers are the comparison's.
	Verdict     *compare.Verdict `json:"verdict,omitempty"`
	Normalizers []string         `json:"normalizers,omitempty"`
	// Differences counts what compare found.
	Differences int `json:"differences,omitempty"`
	// Report is the comparison report (JSON; .txt and .html beside it).
	Report string `json:"report,omitempty"`
}

// ShippedReport locates the shipped artifact.
type ShippedReport struct {
	Location string        `json:"location"`
	Member   string        `json:"member,omitempty"`
	Digest   digest.Digest `json:"digest"`
}

func newRebuildCmd(env *Env) *cobra.Command {
	var (
		rf        runtimeFlags
		out       string
		force     bool
		keyPath   string
		builderID string
		reviews   []string
		normalize []string
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
			if _, err := compare.CheckNormalizers(normalize); err != nil {
				return usageErrorf("--normalize: %v", err)
			}
			r, err := recipes.Load(ctx, a[0])
			if err != nil {
				return err
			}
			if _, err := compare.CheckNormalizers(r.Normalizers); err != nil {
				return fmt.Errorf("%s: normalizers: %w", a[0], err)
			}
			if out == "" {
				out = defaultOutDir(r)
			}
			if _, err := os.Lstat(out); err == nil {
				if !force {
					return usageErrorf("%s already exists (use --force to replace it, or -o to choose another directory)", out)
				}
			}
			var signer *keys.Signer
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
			rep, err := rebuild(ctx, env, &rf, r, out, force, rebuildSigning{signer: signer, builderID: builderID, reviews: reviewEnvs}, normalize)
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
				printRebuild(env.Stdout, rep)
			}
			if rep.Verdict == "not reproduced" {
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
	f.StringVar(&builderID, "builder-id", "", "URI naming this rebuilder in attestations (default "+DefaultBuilderID+")")
	f.StringSliceVar(&reviews, "review", nil, "review attestation the verification summaries rest on (repeatable)")
	f.StringSliceVar(&normalize, "normalize", nil, "also allow this normalizer when comparing (repeatable)")
	return cmd
}

type rebuildSigning struct {
	signer    *keys.Signer
	builderID string
	reviews   []*envelope.Envelope
}

// rebuild runs the whole flow into a staging directory and renames it to
// out at the end, so that out appears complete or not at all.
func rebuild(ctx context.Context, env *Env, rf *runtimeFlags, r *recipes.Recipe, out string, force bool, sign rebuildSigning, extraNormalizers []string) (*RebuildReport, error) {
	abs, err := filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, err
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	staging := abs + ".partial-" + hex.EncodeToString(rnd[:])
	if err := os.Mkdir(staging, 0o755); err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(staging)
		}
	}()
	logFile, err := os.Create(filepath.Join(staging, "build.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()

	pr := &progress{w: env.Stderr, quiet: rf.json}
	sess, err := openSession(ctx, env, rf, pr, logFile)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	b := sess.builder
	rd, err := r.Digest()
	if err != nil {
		return nil, err
	}
	rep := &RebuildReport{Schema: RebuildSchema, Recipe: builder.RecipeRef{Name: r.Name, Version: r.Version, Digest: rd, File: r.File()}, Dir: abs}

	// The shipped artifacts first: a wrong pin stops the run before the
	// (long) build.
	shippedDir := filepath.Join(staging, "shipped")
	for _, o := range r.Outputs {
		if o.Shipped == nil {
			continue
		}
		dest := filepath.Join(shippedDir, filepath.FromSlash(o.Path))
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return nil, err
		}
		pr.printf("fetch", "shipped artifact for %s", o.Path)
		if err := b.Fetcher().Shipped(ctx, r, o.Shipped, dest); err != nil {
			return nil, err
		}
	}

	res, err := b.Build(ctx, r, filepath.Join(staging, "outputs"))
	if err != nil {
		logFile.Close()
		return nil, keepLog(sess.cache, r, logFile.Name(), err)
	}
	rep.Build = res
	rb, err := rebuildProvenance(res, sign.builderID)
	if err != nil {
		return nil, err
	}
	if err := writeJSONFile(filepath.Join(staging, "rebuild.json"), rb); err != nil {
		return nil, err
	}

	// Sign the rebuild first: the summaries cite it.
	var rebuildEnv *envelope.Envelope
	attDir := filepath.Join(staging, "attestations")
	if sign.signer != nil {
		st, err := attest.RebuildStatement(rb)
		if err != nil {
			return nil, err
		}
		signed, err := attest.Sign(ctx, st, sign.signer)
		if err != nil {
			return nil, err
		}
		if rebuildEnv, err = envelope.Parse(signed); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(attDir, 0o755); err != nil {
			return nil, err
		}
		p := filepath.Join(attDir, "rebuild.intoto.json")
		if err := attest.WriteAttestation(ctx, p, signed); err != nil {
			return nil, err
		}
		rep.Attestations = append(rep.Attestations, filepath.Join(abs, "attestations", "rebuild.intoto.json"))
	}

	allowed := append(append([]string(nil), r.Normalizers...), extraNormalizers...)
	anyShipped, allGood := false, true
	for _, o := range res.Outputs {
		or := OutputReport{Path: o.Path, Rebuilt: o.Digest, Size: o.Size}
		var ro *recipes.Output
		for i := range r.Outputs {
			if r.Outputs[i].Path == o.Path {
				ro = &r.Outputs[i]
			}
		}
		if ro == nil || ro.Shipped == nil {
			rep.Outputs = append(rep.Outputs, or)
			continue
		}
		anyShipped = true
		loc := ro.Shipped.URL
		if loc == "" {
			loc = ro.Shipped.Path
		}
		or.Shipped = &ShippedReport{Location: loc, Member: ro.Shipped.Member, Digest: ro.Shipped.ArtifactDigest()}
		pr.printf("compare", "%s with the shipped artifact", o.Path)
		cr, err := compare.Files(ctx, filepath.Join(staging, "outputs", filepath.FromSlash(o.Path)), filepath.Join(shippedDir, filepath.FromSlash(o.Path)),
			compare.Options{Normalizers: allowed, TempDir: sess.cache})
		if err != nil {
			return nil, fmt.Errorf("compare %s: %w", o.Path, err)
		}
		// The report names the files where they end up, not the staging
		// directory.
		cr.Rebuilt.Path = filepath.Join(abs, "outputs", filepath.FromSlash(o.Path))
		cr.Shipped.Path = filepath.Join(abs, "shipped", filepath.FromSlash(o.Path))
		v := cr.Verdict
		or.Verdict = &v
		or.Normalizers = cr.Normalizers
		or.Differences = cr.Counts.Differences
		if v == compare.Different {
			allGood = false
		}
		base := filepath.Join(staging, "compare", filepath.FromSlash(o.Path))
		if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
			return nil, err
		}
		if err := writeWith(base+".json", cr.WriteJSON); err != nil {
			return nil, err
		}
		if err := writeWith(base+".txt", func(w io.Writer) error { return render.Text(w, cr) }); err != nil {
			return nil, err
		}
		if err := writeWith(base+".html", func(w io.Writer) error { return render.HTML(w, cr) }); err != nil {
			return nil, err
		}
		or.Report = filepath.Join(abs, "compare", filepath.FromSlash(o.Path)+".json")

		if sign.signer != nil {
			reportDigest, err := ctxio.HashFile(ctx, base+".json", nil)
			if err != nil {
				return nil, err
			}
			stem := strings.ReplaceAll(o.Path, "/", "_")
			comparison, summary, err := attest.SignSummary(ctx, attest.SummaryInput{
				Shipped:          attest.Output{Name: filepath.Base(o.Path), Digest: cr.Shipped.Digest},
				ShippedURI:       ro.Shipped.URL,
				Verdict:          v,
				Normalizers:      cr.Normalizers,
				CompareReport:    reportDigest,
				CompareReportURI: "compare/" + o.Path + ".json",
				Rebuilt:          o.Digest,
				Rebuild:          rebuildEnv,
				RebuildURI:       "rebuild.intoto.json",
				ComparisonURI:    stem + ".comparison.intoto.json",
				Reviews:          sign.reviews,
				Verifier:         attest.Party{ID: rb.BuilderID},
				Time:             env.Now().UTC(),
			}, sign.signer)
			if err != nil {
				return nil, err
			}
			if err := attest.WriteAttestation(ctx, filepath.Join(attDir, stem+".comparison.intoto.json"), comparison); err != nil {
				return nil, err
			}
			rep.Attestations = append(rep.Attestations, filepath.Join(abs, "attestations", stem+".comparison.intoto.json"))
			name := stem + ".summary.intoto.json"
			if err := attest.WriteAttestation(ctx, filepath.Join(attDir, name), summary); err != nil {
				return nil, err
			}
			rep.Attestations = append(rep.Attestations, filepath.Join(abs, "attestations", name))
		}
		rep.Outputs = append(rep.Outputs, or)
	}
	switch {
	case !anyShipped:
		rep.Verdict = "rebuilt"
	case allGood:
		rep.Verdict = "reproduced"
	default:
		rep.Verdict = "not reproduced"
	}
	if err := writeJSONFile(filepath.Join(staging, "result.json"), rep); err != nil {
		return nil, err
	}
	if force {
		if err := os.RemoveAll(abs); err != nil {
			return nil, err
		}
	}
	if err := os.Rename(staging, abs); err != nil {
		return nil, fmt.Errorf("move results into %s: %w", abs, err)
	}
	done = true
	// Paths inside the report now point at the final directory.
	rep.Build.OutputDir = filepath.Join(abs, "outputs")
	return rep, nil
}

// keepLog moves a failed build's log under the cache and names it in the
// error, since the output directory is not created.
func keepLog(cache string, r *recipes.Recipe, log string, err error) error {
	dir := filepath.Join(cache, "logs")
	if os.MkdirAll(dir, 0o755) != nil {
		return err
	}
	dest := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.log", r.Name, r.Version, time.Now().UTC().Format("20060102T150405Z")))
	if os.Rename(log, dest) != nil {
		return err
	}
	return fmt.Errorf("%w (build log: %s)", err, dest)
}

func writeJSONFile(path string, v any) error {
	return writeWith(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}

// writeWith writes a file inside a staging directory. The directory is
// renamed into place only when complete, which is what makes the results
// appear atomically; the files in it need no rename or sync of their own.
func writeWith(path string, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func printRebuild(w io.Writer, rep *RebuildReport) {
	fmt.Fprintf(w, "%s %s: %s\n", rep.Recipe.Name, rep.Recipe.Version, rep.Verdict)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  OUTPUT\tVERDICT\tREBUILT\tSHIPPED")
	for _, o := range rep.Outputs {
		verdict, shipped := "-", "-"
		if o.Verdict != nil {
			verdict = o.Verdict.String()
			if len(o.Normalizers) > 0 {
				verdict += " (" + strings.Join(o.Normalizers, ", ") + ")"
			}
			if *o.Verdict == compare.Different {
				verdict += fmt.Sprintf(" (%d differences)", o.Differences)
			}
			shipped = string(o.Shipped.Digest)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", o.Path, verdict, o.Rebuilt, shipped)
	}
	tw.Flush()
	if b := rep.Build; b != nil {
		fmt.Fprintf(w, "built in %s from %s on image %s (%s)\n", b.Finished.Sub(b.Started).Round(time.Millisecond), describeSource(b), b.Image.Description, b.Image.Digest)
	}
	for _, o := range rep.Outputs {
		if o.Verdict != nil && *o.Verdict == compare.Different {
			fmt.Fprintf(w, "why %s differs: %s\n", o.Path, strings.TrimSuffix(o.Report, ".json")+".txt")
		}
	}
	for _, a := range rep.Attestations {
		fmt.Fprintf(w, "signed %s\n", a)
	}
	fmt.Fprintf(w, "results in %s\n", rep.Dir)
}

func describeSource(b *builder.Result) string {
	s := b.Source
	switch s.Kind {
	case "git":
		return s.URI + "@" + s.Commit
	case "gomod":
		return s.URI + "@" + s.Version
	}
	return s.URI
}
