package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/logproof/logstate"
	"github.com/reprove/reprove/attest/policy"
	"github.com/reprove/reprove/centre/api"
	"github.com/reprove/reprove/centre/client"
	"github.com/reprove/reprove/internal/ctxio"
)

// VerifyRequest is one check of a downloaded file: `reprove verify`.
type VerifyRequest struct {
	// File is the downloaded file.
	File string
	// Attestations are attestation files, bundles or directories of them
	// (attest.WalkDocuments).
	Attestations []string
	// Server, when set, is a transparency centre: the log bundle of the
	// file's digest is fetched from it and read with the attestations, in
	// memory. The centre is trusted for nothing its log's key (the
	// policy's log:) does not sign.
	Server string
	// Policy is the customer's trust policy (policy.Load).
	Policy *policy.Policy
	// ExpectName and ExpectVersion, when set, fail the verification unless
	// the attestations say the file is that program at that version.
	ExpectName, ExpectVersion string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Progress, when set, hears each step (Message) and, when Bytes is nil,
	// a line every 64 MiB hashed.
	Progress func(Event)
	// Bytes, when set, hears how hashing the file goes (byte progress on a
	// terminal).
	Bytes ctxio.Meter
	// StateDir is where the customer's memory of the logs is kept
	// (logstate.DefaultDir); under a policy that names a log, the trees
	// seen are checked against the newest one seen before. Empty
	// remembers nothing (and the result says so in a note).
	StateDir string
}

// ErrNotLogged is Verify's error when the centre holds nothing for the
// file.
var ErrNotLogged = client.ErrNotLogged

// Verify checks a downloaded file against attestations, and those a
// centre's log holds for it, under a trust policy. The file is hashed once;
// a fetched log bundle is read in memory. A file that is not verified is a
// result (Verified false, with reasons), not an error.
func Verify(ctx context.Context, req VerifyRequest) (*attest.Result, error) {
	if req.Policy == nil {
		return nil, errors.New("verify: no policy")
	}
	if len(req.Attestations) == 0 && req.Server == "" {
		return nil, errors.New("verify: no attestations and no centre to fetch them from")
	}
	var c *client.Client
	if req.Server != "" {
		var err error
		if c, err = client.New(req.Server); err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
	}
	say := func(format string, a ...any) {
		if req.Progress != nil {
			req.Progress(Event{Message: fmt.Sprintf(format, a...)})
		}
	}
	say("hashing %s", req.File)
	meter := req.Bytes
	if meter == nil && req.Progress != nil {
		next := int64(ctxio.ProgressEvery)
		meter = func(_ string, done, _ int64) {
			if done >= next {
				next = done + ctxio.ProgressEvery
				say("hashed %d MiB of %s", done>>20, req.File)
			}
		}
	}
	t, err := attest.HashTarget(ctx, req.File, meter)
	if err != nil {
		return nil, err
	}
	docs := attest.Files(ctx, req.Attestations...)
	var state *logstate.State
	if req.Policy.Log != nil {
		state = &logstate.State{Dir: req.StateDir}
	}
	if c != nil && state != nil {
		// The centre's newest checkpoint, read before the bundle: a bundle
		// older than it is stale, and the trees seen are proven to be one
		// log's with the centre's consistency proofs.
		say("reading the checkpoint of %s", c.Server())
		if state.Head, err = c.Checkpoint(ctx); err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		state.HeadSource = c.Server() + api.PathCheckpoint
		state.Consistency = consistencyFrom(c)
	}
	if c != nil {
		d, _ := t.Digests.Digest("sha256")
		say("fetching the log bundle of %s from %s", d, c.Server())
		bu, err := c.FetchBundle(ctx, d)
		if errors.Is(err, client.ErrNotLogged) {
			return nil, fmt.Errorf("verify: %s: %w", c.Server(), err)
		}
		if err != nil {
			return nil, fmt.Errorf("verify: fetch the log bundle of %s from %s: %w", d, c.Server(), err)
		}
		docs = attest.Concat(docs, attest.LogBundle(c.URL(api.PathArtifacts+d.String()), bu))
	}
	opts := attest.VerifyOptions{Now: req.Now, ExpectName: req.ExpectName, ExpectVersion: req.ExpectVersion}
	if state != nil {
		opts.LogState = state
	}
	if req.Progress != nil {
		opts.Progress = func(s string) { say("%s", s) }
	}
	return attest.Verify(ctx, t, docs, req.Policy, opts)
}

// consistencyFrom fetches consistency proofs from the centre for the log
// state; a refusal (4xx: the centre has no such trees) is the centre's
// answer, a reason to refuse, while a fault is an error.
func consistencyFrom(c *client.Client) func(context.Context, int64, int64) ([]tlog.Hash, error) {
	return func(ctx context.Context, from, to int64) ([]tlog.Hash, error) {
		p, err := c.Consistency(ctx, from, to)
		var se *client.StatusError
		if errors.As(err, &se) && se.Status < 500 {
			return nil, fmt.Errorf("%w: %v", logstate.ErrNoProof, err)
		}
		return p, err
	}
}
