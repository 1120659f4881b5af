package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/keys"
	"github.com/reprove/reprove/compare"
	"github.com/reprove/reprove/compare/report"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/internal/ctxio"
	"github.com/reprove/reprove/internal/treehash"
)

// The signing commands as calls: `reprove review` (Review, CoSign) and
// `reprove attest summary` (Summarize). Each reads its inputs, keeps the
// rules that make the attestation worth signing, signs, and writes its
// outputs atomically; the CLI only parses flags and renders the result.

// ReviewRequest is one code review to sign.
type ReviewRequest struct {
	// Review is the predicate; its Source names the source by digests,
	// which TreeDir and Archive (when set) add to, and its ReviewedAt is
	// Now's when zero.
	Review attest.ReviewPredicate
	// TreeDir is a checkout whose reprove tree digest names the source.
	TreeDir string
	// Archive is a source archive whose sha256 names the source.
	Archive string
	// ReportFile is the review report, whose sha256 the review records.
	ReportFile string
	Signer     attest.Signer
	// Output is where the signed review goes: a Sigstore bundle when it
	// ends in attest.BundleExt, else a DSSE envelope.
	Output string
	// Now is the clock (time.Now when nil); Bytes hears how hashing goes.
	Now   func() time.Time
	Bytes ctxio.Meter
}

// SignedResult is what a signing call wrote.
type SignedResult struct {
	// Output is the file written; Statement the digest of the signed
	// statement, by which other attestations cite it.
	Output    string        `json:"output"`
	Statement digest.Digest `json:"statement"`
	// Key is the signer's key fingerprint.
	Key digest.Digest `json:"key"`
}

// ReviewResult is a signed review.
type ReviewResult struct {
	SignedResult
	Source  attest.Source        `json:"source"`
	Verdict attest.ReviewVerdict `json:"verdict"`
}

// Review signs a code review of source identified by digest.
func Review(ctx context.Context, req ReviewRequest) (*ReviewResult, error) {
	p := req.Review
	if req.TreeDir != "" {
		d, err := treehash.Dir(ctx, req.TreeDir)
		if err != nil {
			return nil, fmt.Errorf("review: %w", err)
		}
		p.Source.Tree = d
	}
	if req.Archive != "" {
		d, err := hashFile(ctx, req.Archive, req.Bytes)
		if err != nil {
			return nil, fmt.Errorf("review: %w", err)
		}
		p.Source.Archive = d
	}
	if req.ReportFile != "" {
		if p.Report == nil {
			p.Report = &attest.Report{}
		}
		d, err := ctxio.HashFile(ctx, req.ReportFile, nil)
		if err != nil {
			return nil, fmt.Errorf("review: %w", err)
		}
		p.Report.Digest = d
	}
	if p.ReviewedAt.IsZero() {
		p.ReviewedAt = now(req.Now)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("review: %w", err)
	}
	st, err := attest.ReviewStatement(&p)
	if err != nil {
		return nil, err
	}
	res, err := signTo(ctx, req.Signer, st, req.Output)
	if err != nil {
		return nil, err
	}
	return &ReviewResult{SignedResult: *res, Source: p.Source, Verdict: p.Verdict}, nil
}

// CoSignRequest is a second signature on an existing review.
type CoSignRequest struct {
	// Review is the review attestation to co-sign (an envelope or a
	// bundle).
	Review string
	Signer attest.Signer
	// Output gets the co-signer's own attestation of the same statement.
	Output string
}

// CoSign signs an existing review's statement into an attestation of the
// co-signer's own (see attest.CoSign); a key that signed the review
// already is refused (*attest.AlreadySignedError).
func CoSign(ctx context.Context, req CoSignRequest) (*SignedResult, error) {
	e, _, err := attest.ReadAttestation(ctx, req.Review, attest.ReviewPredicateType)
	if err != nil {
		return nil, err
	}
	signed, err := attest.CoSign(ctx, e, req.Signer)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.Review, err)
	}
	if err := attest.WriteSigned(ctx, req.Output, signed, req.Signer); err != nil {
		return nil, err
	}
	fp, err := keys.Fingerprint(req.Signer.Public())
	if err != nil {
		return nil, err
	}
	return &SignedResult{Output: req.Output, Statement: e.PayloadDigest(), Key: fp}, nil
}

// SummaryRequest is a verification summary to sign: `reprove attest
// summary`. The verdict comes from CompareReport when set, else from
// comparing Rebuilt with Shipped now, else the shipped file must be one of
// the rebuild's outputs (identical).
type SummaryRequest struct {
	// Shipped is the shipped file the summary is about; ShippedURI where
	// it is published (its name when empty).
	Shipped, ShippedURI string
	// Rebuild is the signed rebuild attestation; Reviews the signed
	// review attestations it rests on (optional).
	Rebuild string
	Reviews []string
	// CompareReport is a report of `reprove compare --json` about the
	// shipped file.
	CompareReport string
	// Rebuilt is a rebuilt output to compare with Shipped now, allowing
	// Normalizers.
	Rebuilt     string
	Normalizers []string
	// Verifier is who compared (the rebuild's builder when empty).
	Verifier attest.Party
	Signer   attest.Signer
	// Output gets the VSA; ComparisonOutput its comparison (default:
	// ComparisonPath(Output)).
	Output, ComparisonOutput string
	Now                      func() time.Time
	Bytes                    ctxio.Meter
}

// SummaryResult is a signed summary.
type SummaryResult struct {
	Output           string `json:"output"`
	ComparisonOutput string `json:"comparisonOutput"`
	// BareOutput is the VSA as a bare envelope beside a bundle at Output
	// (for slsa-verifier), "" when Output is an envelope.
	BareOutput string `json:"bareOutput,omitempty"`
	// Statement and ComparisonStatement are the digests of the signed
	// statements.
	Statement           digest.Digest   `json:"statement"`
	ComparisonStatement digest.Digest   `json:"comparisonStatement"`
	Shipped             digest.Digest   `json:"shipped"`
	Verdict             verdict.Verdict `json:"verdict"`
	Normalizers         []string        `json:"normalizers,omitempty"`
	Rebuilt             digest.Digest   `json:"rebuilt"`
	Reviews             int             `json:"reviews"`
	Key                 digest.Digest   `json:"key"`
}

// ReportMismatchError is Summarize's error for a compare report about
// another shipped file: its verdict says nothing of this one.
type ReportMismatchError struct {
	Report             string
	ReportShipped, Got digest.Digest
	Shipped            string
}

func (e *ReportMismatchError) Error() string {
	return fmt.Sprintf("compare report %s is about shipped %s, not %s (%s)", e.Report, e.ReportShipped, e.Shipped, e.Got)
}

// NotAnOutputError is Summarize's error when neither a report nor a
// rebuilt file is given and the shipped file is none of the rebuild's
// outputs: there is no verdict to sign.
type NotAnOutputError struct {
	Shipped string
	Digest  digest.Digest
}

func (e *NotAnOutputError) Error() string {
	return fmt.Sprintf("the shipped file %s (%s) is none of the rebuild's outputs", e.Shipped, e.Digest)
}

// Summarize signs the verification summary (a SLSA VSA and its
// comparison) linking the shipped file, the comparison's verdict, the
// rebuild and the reviews, and writes both, or neither.
func Summarize(ctx context.Context, req SummaryRequest) (*SummaryResult, error) {
	compOut := req.ComparisonOutput
	if compOut == "" {
		compOut = ComparisonPath(req.Output)
	}
	if compOut == req.Output {
		return nil, errors.New("attest summary: the comparison and the summary need two files")
	}
	rbEnv, rbStmt, err := attest.ReadAttestation(ctx, req.Rebuild, attest.ProvenancePredicateType)
	if err != nil {
		return nil, err
	}
	in := attest.SummaryInput{
		Rebuild:       rbEnv,
		RebuildURI:    filepath.Base(req.Rebuild),
		ComparisonURI: filepath.Base(compOut),
		ShippedURI:    req.ShippedURI,
		Verifier:      req.Verifier,
		Time:          now(req.Now),
	}
	for _, r := range req.Reviews {
		e, _, err := attest.ReadAttestation(ctx, r, attest.ReviewPredicateType)
		if err != nil {
			return nil, err
		}
		in.Reviews = append(in.Reviews, e)
	}
	shipped, err := hashFile(ctx, req.Shipped, req.Bytes)
	if err != nil {
		return nil, err
	}
	in.Shipped = attest.Output{Name: filepath.Base(req.Shipped), Digest: shipped}
	switch {
	case req.CompareReport != "":
		b, err := os.ReadFile(req.CompareReport)
		if err != nil {
			return nil, fmt.Errorf("read compare report: %w", err)
		}
		rep, err := report.Read(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", req.CompareReport, err)
		}
		if rep.Shipped.Digest != shipped {
			return nil, &ReportMismatchError{Report: req.CompareReport, ReportShipped: rep.Shipped.Digest, Shipped: req.Shipped, Got: shipped}
		}
		in.Verdict, in.Normalizers, in.Rebuilt = rep.Verdict, rep.Normalizers, rep.Rebuilt.Digest
		in.CompareReport, in.CompareReportURI = digest.FromBytes(b), filepath.Base(req.CompareReport)
	case req.Rebuilt != "":
		rep, err := compare.Files(ctx, req.Rebuilt, req.Shipped, compare.Options{Normalizers: req.Normalizers})
		if err != nil {
			return nil, err
		}
		in.Verdict, in.Normalizers, in.Rebuilt = rep.Verdict, rep.Normalizers, rep.Rebuilt.Digest
	default:
		isOutput := false
		for _, s := range rbStmt.Subject {
			if d, ok := s.Digest.Digest(digest.SHA256); ok && d == shipped {
				isOutput = true
			}
		}
		if !isOutput {
			return nil, &NotAnOutputError{Shipped: req.Shipped, Digest: shipped}
		}
		in.Verdict, in.Rebuilt = verdict.Identical, shipped
	}
	comparison, summary, err := attest.SignSummary(ctx, in, req.Signer)
	if err != nil {
		return nil, err
	}
	if err := attest.WriteSigned(ctx, compOut, comparison, req.Signer); err != nil {
		return nil, err
	}
	if err := attest.WriteSigned(ctx, req.Output, summary, req.Signer); err != nil {
		os.Remove(compOut)
		return nil, err
	}
	// slsa-verifier reads bare envelopes only: beside a VSA bundle goes
	// the same VSA as a bare envelope.
	bare := BareBeside(req.Output)
	if bare != "" {
		if err := attest.WriteAttestation(ctx, bare, summary); err != nil {
			os.Remove(compOut)
			os.Remove(req.Output)
			return nil, err
		}
	}
	fp, err := keys.Fingerprint(req.Signer.Public())
	if err != nil {
		return nil, err
	}
	res := &SummaryResult{
		Output: req.Output, ComparisonOutput: compOut, BareOutput: bare, Shipped: shipped, Verdict: in.Verdict, Normalizers: in.Normalizers,
		Rebuilt: in.Rebuilt, Reviews: len(in.Reviews), Key: fp,
	}
	for _, x := range []struct {
		env []byte
		d   *digest.Digest
	}{{summary, &res.Statement}, {comparison, &res.ComparisonStatement}} {
		e, err := envelope.Parse(x.env)
		if err != nil {
			return nil, err
		}
		*x.d = e.PayloadDigest()
	}
	return res, nil
}

// BareBeside is where the bare envelope of a VSA written as a Sigstore
// bundle goes (X.sigstore.json → X.intoto.json), "" when out is no bundle.
func BareBeside(out string) string {
	if stem, ok := strings.CutSuffix(out, attest.BundleExt); ok {
		return stem + ".intoto.json"
	}
	return ""
}

// ComparisonPath is where a summary's comparison goes beside the VSA at
// out, with the same two-part ending, so that a glob that picks up the VSA
// picks up its comparison too: summary.json → summary.comparison.json,
// x.intoto.json → x.comparison.intoto.json, x.sigstore.json →
// x.comparison.sigstore.json (a bundle stays a bundle).
func ComparisonPath(out string) string {
	for _, ext := range []string{attest.BundleExt, ".intoto.json"} {
		if stem, ok := strings.CutSuffix(out, ext); ok {
			return stem + ".comparison" + ext
		}
	}
	return strings.TrimSuffix(out, ".json") + ".comparison.json"
}

// signTo signs statement with s and writes it to out.
func signTo(ctx context.Context, s attest.Signer, statement []byte, out string) (*SignedResult, error) {
	signed, err := attest.Sign(ctx, statement, s)
	if err != nil {
		return nil, err
	}
	if err := attest.WriteSigned(ctx, out, signed, s); err != nil {
		return nil, err
	}
	fp, err := keys.Fingerprint(s.Public())
	if err != nil {
		return nil, err
	}
	return &SignedResult{Output: out, Statement: digest.FromBytes(statement), Key: fp}, nil
}

// hashFile is the sha256 of the file at path, telling m (when set) how it
// goes.
func hashFile(ctx context.Context, path string, m ctxio.Meter) (digest.Digest, error) {
	var size int64
	if fi, err := os.Stat(path); err == nil {
		size = fi.Size()
	}
	return ctxio.HashFile(ctx, path, m.Func("hashing "+path, size))
}

func now(clock func() time.Time) time.Time {
	if clock == nil {
		return time.Now()
	}
	return clock()
}
