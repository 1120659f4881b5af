package cli

import (
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/pipeline"
)

func newReviewCmd(env *Env) *cobra.Command {
	var (
		keyPath, out, cosignPath                     string
		src                                          attest.Source
		treeDir, archiveFile, archiveDigest, treeDig string
		reviewerID, reviewerName, verdict, notes     string
		scope                                        []string
		reportFile, reportURI, when                  string
		force, jsonOut                               bool
	)
	cmd := &cobra.Command{
		Use:   "review",
		Short: "Sign a code review attestation for source identified by digest",
		Long: `Sign a review attestation: an in-toto v1 statement (predicate
` + attest.ReviewPredicateType + `, see attest/REVIEW.md)
whose subject is the reviewed source, in a DSSE envelope signed with --key.

Name the source by digests that a rebuild records too: --tree-dir computes
reprove's sha256 tree digest of a checkout (what rebuilds of git sources
record), --archive the sha256 of a source archive. A git commit id alone is
SHA-1 and is not enough.

With --cosign REVIEW, sign an existing review's statement instead (a second
reviewer co-signing it): -o gets your signature alone, over the same
statement, as a bundle or an envelope of its own (a Sigstore bundle holds
one signature). Publish it beside the first; reprove verify counts the
signers of one statement over all the files that carry it. A key that
signed the review already is refused.`,
		Example: `  reprove review --key audits.key --source-uri git+https://example.com/hello.git \
    --commit 0123… --tree-dir ./hello --reviewer mailto:alice@audits.example \
    --reviewer-name "Alice (Example Audits)" --verdict approved --report report.pdf \
    -o hello.review.intoto.json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if out == "" {
				return usageErrorf("-o/--output is required")
			}
			if err := refuseExisting(out, force); err != nil {
				return err
			}
			if cosignPath != "" {
				s, err := loadSigner(cmd, env, keyPath)
				if err != nil {
					return err
				}
				res, err := pipeline.CoSign(ctx, pipeline.CoSignRequest{Review: cosignPath, Signer: s, Output: out})
				if err != nil {
					return err
				}
				return reportSigned(env, jsonOut, signedDoc{Command: "review", Signer: res.Key,
					Files: []signedFile{signedAt(res.Output, attest.ReviewPredicateType, res.Statement)}},
					"wrote %s: review %s co-signed by key %s (the other signatures stay in %s)\n", res.Output, res.Statement, res.Key, cosignPath)
			}

			v, err := attest.ParseReviewVerdict(verdict)
			if err != nil {
				return usageErrorf("--verdict: %v", err)
			}
			if treeDir != "" && treeDig != "" {
				return usageErrorf("give --tree-dir or --tree, not both")
			}
			if archiveFile != "" && archiveDigest != "" {
				return usageErrorf("give --archive or --archive-digest, not both")
			}
			if treeDig != "" {
				d, err := digest.Parse(treeDig)
				if err != nil {
					return usageErrorf("--tree: %v", err)
				}
				src.Tree = d
			}
			if archiveDigest != "" {
				d, err := digest.Parse(archiveDigest)
				if err != nil {
					return usageErrorf("--archive-digest: %v", err)
				}
				src.Archive = d
			}
			req := pipeline.ReviewRequest{
				Review: attest.ReviewPredicate{
					Reviewer: attest.Party{ID: reviewerID, Name: reviewerName},
					Source:   src,
					Verdict:  v,
					Notes:    notes,
					Scope:    attest.Scope{All: len(scope) == 0, Paths: scope},
				},
				TreeDir: treeDir, Archive: archiveFile, ReportFile: reportFile,
				Output: out, Now: env.Now, Bytes: env.status.meter(),
			}
			if reportFile != "" || reportURI != "" {
				req.Review.Report = &attest.Report{URI: reportURI}
			}
			if when != "" {
				t, err := time.Parse(time.RFC3339, when)
				if err != nil {
					return usageErrorf("--time: %v", err)
				}
				req.Review.ReviewedAt = t
			}
			if treeDir == "" && src.Tree == "" && archiveFile == "" && src.Archive == "" && src.GoSum == "" && (src.GitCommit != "" || src.GitTree != "") {
				// The most common first try: a commit id only.
				return usageErrorf("a git commit or tree id is SHA-1, too weak to pin what was reviewed: name the source by sha256 as well, with --tree-dir DIR (or --tree sha256:…), --archive FILE (or --archive-digest) or --go-module with --go-sum")
			}
			// Bad usage is said before a password is asked for: check the
			// review as it will be, with the digests to come stood in for.
			check := req.Review
			if treeDir != "" {
				check.Source.Tree = digest.FromString("the tree of " + treeDir)
			}
			if archiveFile != "" {
				check.Source.Archive = digest.FromString("the archive " + archiveFile)
			}
			if check.Report != nil && reportFile != "" {
				r := *check.Report
				r.Digest = digest.FromString("the report " + reportFile)
				check.Report = &r
			}
			if check.ReviewedAt.IsZero() {
				check.ReviewedAt = env.Now()
			}
			if err := check.Validate(); err != nil {
				return usageErrorf("%v", err)
			}
			s, err := loadSigner(cmd, env, keyPath)
			if err != nil {
				return err
			}
			req.Signer = s
			res, err := pipeline.Review(ctx, req)
			if err != nil {
				return err
			}
			return reportSigned(env, jsonOut, signedDoc{Command: "review", Signer: res.Key,
				Files: []signedFile{signedAt(res.Output, attest.ReviewPredicateType, res.Statement)}},
				"wrote %s: review of %s, %s, signed by key %s (statement %s)\n", res.Output, res.Source.Name(), res.Verdict, res.Key, res.Statement)
		},
	}
	f := cmd.Flags()
	f.StringVar(&keyPath, "key", "", "private key to sign with (cosign format)")
	f.StringVarP(&out, "output", "o", "", "write the signed attestation to `FILE` (atomically)")
	f.BoolVar(&force, "force", false, "replace the output file if it exists")
	f.BoolVar(&jsonOut, "json", false, "print what was signed as JSON (schema signed)")
	f.StringVar(&cosignPath, "cosign", "", "co-sign the statement of this existing `REVIEW` (bundle or envelope) instead of making one")
	f.StringVar(&src.URI, "source-uri", "", "where the source lives (git+https://… or an archive URL)")
	f.StringVar(&src.GitCommit, "commit", "", "git commit id of the reviewed source")
	f.StringVar(&src.GitTree, "git-tree", "", "git tree id of the reviewed source")
	f.StringVar(&treeDir, "tree-dir", "", "compute reprove's tree digest of this checkout `DIR`")
	f.StringVar(&treeDig, "tree", "", "reprove's tree digest of the source (sha256:…)")
	f.StringVar(&archiveFile, "archive", "", "source archive `FILE` reviewed (its sha256 is recorded)")
	f.StringVar(&archiveDigest, "archive-digest", "", "digest of the source archive (sha256:…)")
	f.StringVar(&src.GoModule, "go-module", "", "Go module reviewed, as path@version")
	f.StringVar(&src.GoSum, "go-sum", "", "its go.sum hash (h1:…)")
	f.StringVar(&reviewerID, "reviewer", "", "reviewer identity as a URI (mailto:… or https://…)")
	f.StringVar(&reviewerName, "reviewer-name", "", "reviewer's display name")
	f.StringVar(&verdict, "verdict", "", "approved or findings")
	f.StringArrayVar(&scope, "scope", nil, "paths reviewed, relative to the source root (repeatable; default: all)")
	f.StringVar(&reportFile, "report", "", "the review report `FILE` (its sha256 is recorded)")
	f.StringVar(&reportURI, "report-uri", "", "where the report is published")
	f.StringVar(&notes, "notes", "", "a short free-text note")
	f.StringVar(&when, "time", "", "review time (RFC 3339; default now)")
	return cmd
}
