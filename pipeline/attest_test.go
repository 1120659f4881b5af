package pipeline_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/signing"
	"github.com/reprove/reprove/compare"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/pipeline"
)

var signTime = time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)

func newSigner(t *testing.T) *signing.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := signing.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func write(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The co-signing rule lives in the library: a key that signed the review
// already is refused, whoever calls.
func TestReviewAndCoSign(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	alice, bob := newSigner(t), newSigner(t)
	archive := write(t, dir, "src.tar", []byte("the reviewed source"))
	res, err := pipeline.Review(ctx, pipeline.ReviewRequest{
		Review: attest.ReviewPredicate{Reviewer: attest.Party{ID: "mailto:alice@audits.example"}, Verdict: attest.Approved,
			Scope: attest.Scope{All: true}, Source: attest.Source{URI: "https://example.com/src.tar"}},
		Archive: archive, Signer: alice, Output: filepath.Join(dir, "review.sigstore.json"), Now: func() time.Time { return signTime },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Source.Archive != digest.FromString("the reviewed source") || res.Key != alice.Fingerprint {
		t.Errorf("review of %s by %s", res.Source.Name(), res.Key)
	}
	co, err := pipeline.CoSign(ctx, pipeline.CoSignRequest{Review: res.Output, Signer: bob, Output: filepath.Join(dir, "bob.sigstore.json")})
	if err != nil {
		t.Fatal(err)
	}
	if co.Statement != res.Statement || co.Key != bob.Fingerprint {
		t.Errorf("co-signature of %s by %s, want %s by %s", co.Statement, co.Key, res.Statement, bob.Fingerprint)
	}
	for _, c := range []struct{ review, out string }{{res.Output, "again.json"}, {co.Output, "again2.json"}} {
		signer := alice
		if c.review == co.Output {
			signer = bob
		}
		_, err := pipeline.CoSign(ctx, pipeline.CoSignRequest{Review: c.review, Signer: signer, Output: filepath.Join(dir, c.out)})
		var already *attest.AlreadySignedError
		if !errors.As(err, &already) || already.Key != signer.Fingerprint {
			t.Errorf("a signer co-signed its own review %s: %v", c.review, err)
		}
		if _, err := os.Stat(filepath.Join(dir, c.out)); err == nil {
			t.Errorf("%s written though refused", c.out)
		}
	}
}

// The compare report rule lives in the library: a report about another
// shipped file is refused, and nothing is written.
func TestSummarizeReportMustBeAboutTheShippedFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	builder := newSigner(t)
	shipped := write(t, dir, "hello", []byte("#!/bin/sh\necho hello\n"))
	rebuilt := write(t, dir, "hello-rebuilt", []byte("#!/bin/sh\necho hello, world\n"))
	other := write(t, dir, "other", []byte("something else\n"))
	rb := &attest.Rebuild{
		SchemaVersion: attest.RebuildSchemaVersion,
		Recipe:        attest.RecipeRef{Name: "hello", Version: "1.0", Digest: digest.FromString("recipe")},
		Source:        attest.Source{URI: "https://example.com/src.tar", Archive: digest.FromString("src")},
		BuilderID:     "https://rebuilder.example/reprove", ReproveVersion: "test",
		Commands:  [][]string{{"true"}},
		StartedOn: signTime, FinishedOn: signTime.Add(time.Minute),
		Outputs: []attest.Output{{Name: "hello", Digest: digest.FromBytes(mustRead(t, rebuilt))}},
	}
	st, err := attest.RebuildStatement(rb)
	if err != nil {
		t.Fatal(err)
	}
	env, err := attest.Sign(ctx, st, builder)
	if err != nil {
		t.Fatal(err)
	}
	rebuild := write(t, dir, "rebuild.json", env)
	report := func(name, a, b string) string {
		rep, err := compare.Files(ctx, a, b, compare.Options{})
		if err != nil {
			t.Fatal(err)
		}
		j, _ := json.Marshal(rep)
		return write(t, dir, name, j)
	}
	good, wrong := report("good.json", rebuilt, shipped), report("wrong.json", rebuilt, other)
	req := pipeline.SummaryRequest{Shipped: shipped, Rebuild: rebuild, Signer: builder, Now: func() time.Time { return signTime.Add(time.Hour) }}

	req.CompareReport, req.Output = wrong, filepath.Join(dir, "wrong.summary.json")
	_, err = pipeline.Summarize(ctx, req)
	var mismatch *pipeline.ReportMismatchError
	if !errors.As(err, &mismatch) || mismatch.Got != digest.FromBytes(mustRead(t, shipped)) {
		t.Fatalf("a report about another file: %v", err)
	}
	if _, err := os.Stat(pipeline.ComparisonPath(req.Output)); err == nil {
		t.Error("a comparison was written for a refused summary")
	}

	req.CompareReport, req.Output = good, filepath.Join(dir, "summary.sigstore.json")
	res, err := pipeline.Summarize(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != verdict.Different || res.ComparisonOutput != filepath.Join(dir, "summary.comparison.sigstore.json") {
		t.Errorf("summary %+v", res)
	}
	// Neither a report nor a rebuilt file, and the shipped file is no
	// output of the rebuild: refused.
	req.CompareReport, req.Output = "", filepath.Join(dir, "none.json")
	var notOutput *pipeline.NotAnOutputError
	if _, err := pipeline.Summarize(ctx, req); !errors.As(err, &notOutput) {
		t.Errorf("no verdict source: %v", err)
	}
	// The same two-part ending, so that *.intoto.json gathers both.
	if !strings.HasSuffix(pipeline.ComparisonPath("x.intoto.json"), "x.comparison.intoto.json") {
		t.Error(pipeline.ComparisonPath("x.intoto.json"))
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
