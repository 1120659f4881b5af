package cli

import (
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/spf13/cobra"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/keys"
	"github.com/reprove/reprove/internal/ctxio"
	"github.com/reprove/reprove/internal/treehash"
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

With --cosign ENVELOPE, add your signature to an existing review instead (a
second reviewer co-signing the same statement).`,
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
				e, _, err := readAttestation(ctx, cosignPath, attest.ReviewPredicateType)
				if err != nil {
					return err
				}
				s, err := loadSigner(cmd, env, keyPath)
				if err != nil {
					return err
				}
				pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(s.Public)
				if err != nil {
					return err
				}
				v, err := keys.ParseVerifier(pubPEM, keyPath)
				if err != nil {
					return err
				}
				already, err := envelope.SignedBy(ctx, e, []*keys.Verifier{v})
				if err != nil {
					return err
				}
				if len(already) > 0 {
					return fmt.Errorf("co-sign review %s: it already carries a signature by key %s", cosignPath, s.Fingerprint)
				}
				signed, err := envelope.AddSignature(ctx, e, s)
				if err != nil {
					return err
				}
				if err := attest.WriteSigned(ctx, out, signed, s); err != nil {
					return err
				}
				return reportSigned(env, jsonOut, signedDoc{Command: "review", Signer: s.Fingerprint, Signatures: len(e.Signatures) + 1,
					Files: []signedFile{signedAt(out, attest.ReviewPredicateType, e.PayloadDigest())}},
					"wrote %s: review %s co-signed by key %s (%d signatures)\n", out, e.PayloadDigest(), s.Fingerprint, len(e.Signatures)+1)
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
			if treeDir != "" {
				d, err := treehash.Dir(ctx, treeDir)
				if err != nil {
					return err
				}
				src.Tree = d
			}
			if treeDig != "" {
				d, err := digest.Parse(treeDig)
				if err != nil {
					return usageErrorf("--tree: %v", err)
				}
				src.Tree = d
			}
			if archiveFile != "" {
				d, err := env.status.hashFile(ctx, archiveFile)
				if err != nil {
					return err
				}
				src.Archive = d
			}
			if archiveDigest != "" {
				d, err := digest.Parse(archiveDigest)
				if err != nil {
					return usageErrorf("--archive-digest: %v", err)
				}
				src.Archive = d
			}
			p := &attest.ReviewPredicate{
				Reviewer: attest.Party{ID: reviewerID, Name: reviewerName},
				Source:   src,
				Verdict:  v,
				Notes:    notes,
			}
			if len(scope) == 0 {
				p.Scope.All = true
			} else {
				p.Scope.Paths = scope
			}
			if reportFile != "" || reportURI != "" {
				p.Report = &attest.Report{URI: reportURI}
				if reportFile != "" {
					d, err := ctxio.HashFile(ctx, reportFile, nil)
					if err != nil {
						return err
					}
					p.Report.Digest = d
				}
			}
			p.ReviewedAt = env.Now()
			if when != "" {
				t, err := time.Parse(time.RFC3339, when)
				if err != nil {
					return usageErrorf("--time: %v", err)
				}
				p.ReviewedAt = t
			}
			if src.Tree == "" && src.Archive == "" && src.GoSum == "" && (src.GitCommit != "" || src.GitTree != "") {
				// The most common first try: a commit id only.
				return usageErrorf("a git commit or tree id is SHA-1, too weak to pin what was reviewed: name the source by sha256 as well, with --tree-dir DIR (or --tree sha256:…), --archive FILE (or --archive-digest) or --go-module with --go-sum")
			}
			if err := p.Validate(); err != nil {
				return usageErrorf("%v", err)
			}
			st, err := attest.ReviewStatement(p)
			if err != nil {
				return err
			}
			s, err := signTo(cmd, env, keyPath, out, st)
			if err != nil {
				return err
			}
			return reportSigned(env, jsonOut, signedDoc{Command: "review", Signer: s.Fingerprint,
				Files: []signedFile{signedAt(out, attest.ReviewPredicateType, digest.FromBytes(st))}},
				"wrote %s: review of %s, %s, signed by key %s (statement %s)\n", out, src.Name(), v, s.Fingerprint, digest.FromBytes(st))
		},
	}
	f := cmd.Flags()
	f.StringVar(&keyPath, "key", "", "private key to sign with (cosign format)")
	f.StringVarP(&out, "output", "o", "", "write the signed attestation to `FILE` (atomically)")
	f.BoolVar(&force, "force", false, "replace the output file if it exists")
	f.BoolVar(&jsonOut, "json", false, "print what was signed as JSON (schema signed)")
	f.StringVar(&cosignPath, "cosign", "", "add a signature to this existing review `ENVELOPE` instead of making one")
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
