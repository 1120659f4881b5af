package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/api"
	"github.com/reprove/reprove/centre/client"
	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/internal/atomicfile"
)

// PublishSchemaVersion is the version of PublishResult's JSON.
const PublishSchemaVersion = 1

// LogBundleSuffix ends the name of a log bundle file that Publish writes;
// reprove verify reads it (by its mediaType) from -a, or from a directory.
const LogBundleSuffix = ".log-bundle.json"

// PublishRequest is one publication to a transparency centre.
type PublishRequest struct {
	// Server is the centre's URL.
	Server string
	// LogKey is the log's note verifier key (or a file holding it); empty
	// trusts the key the centre names, and the result says so.
	LogKey string
	// Files are attestation files, JSON Lines bundles or directories.
	Files []string
	// CompareReports are compare reports (compare --json) to publish after
	// the attestations.
	CompareReports []string
	// BundleDir receives the log bundles (default: beside Files[0]).
	BundleDir string
	// WitnessWait bounds the wait for a bundle that holds what was just
	// published (default 1 min): a centre with witnesses serves a tree
	// only once they cosigned it, which follows the append by about the
	// centre's witness interval.
	WitnessWait time.Duration
}

// DefaultWitnessWait is PublishRequest.WitnessWait's default.
const DefaultWitnessWait = time.Minute

// PublishResult is what Publish did; it is `reprove publish --json`
// (schemas/centre-publish.schema.json).
type PublishResult struct {
	SchemaVersion int    `json:"schemaVersion"`
	Server        string `json:"server"`
	VerifierKey   string `json:"verifierKey"`
	// KeyPinned is true when no log key was given and the one the centre
	// names was trusted (tell the user to pin it).
	KeyPinned      bool            `json:"keyPinned"`
	TreeSize       int64           `json:"treeSize"`
	Checkpoint     string          `json:"checkpoint"`
	Documents      []PublishedDoc  `json:"documents"`
	CompareReports []PublishedDoc  `json:"compareReports"`
	Bundles        []WrittenBundle `json:"bundles"`
}

// PublishedDoc is one document the centre logged.
type PublishedDoc struct {
	Source        string        `json:"source"`
	Index         int64         `json:"index"`
	New           bool          `json:"new"`
	Kind          string        `json:"kind"`
	PayloadDigest digest.Digest `json:"payloadDigest"`
}

// WrittenBundle is one log bundle written.
type WrittenBundle struct {
	Subject  digest.Digest `json:"subject"`
	Name     string        `json:"name,omitempty"`
	Path     string        `json:"path"`
	Entries  int           `json:"entries"`
	TreeSize int64         `json:"treeSize"`
}

// Publish submits attestations to a centre in one submission, then the
// compare reports, checking each reply's inclusion proof against the log's
// signed checkpoint; then for each artifact the attestations are about (the
// shipped files of the summaries; the rebuilds' outputs when there is no
// summary) it fetches, checks and writes the log bundle, which reprove
// verify checks offline.
func Publish(ctx context.Context, req PublishRequest) (*PublishResult, error) {
	if req.Server == "" {
		return nil, fmt.Errorf("publish: no server")
	}
	c, err := client.New(req.Server)
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	docs, err := attest.ReadDocuments(ctx, req.Files)
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("publish: no attestations in %s", strings.Join(req.Files, ", "))
	}
	var envs, leaves [][]byte
	for _, d := range docs {
		if d.Err != nil {
			return nil, fmt.Errorf("%s: %w", d.Source, d.Err)
		}
		leaf, err := client.EnvelopeLeaf(d.Envelope.Raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.Source, err)
		}
		envs, leaves = append(envs, d.Envelope.Raw), append(leaves, leaf)
	}
	if len(envs) > api.MaxEnvelopes {
		return nil, fmt.Errorf("publish: %d attestations, more than one submission holds (%d)", len(envs), api.MaxEnvelopes)
	}
	var reportBodies [][]byte
	for _, p := range req.CompareReports {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("publish: %w", err)
		}
		if _, _, err := item.CheckCompareReport(b); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		reportBodies = append(reportBodies, b)
	}
	rep := &PublishResult{SchemaVersion: PublishSchemaVersion, Server: c.Server(), Documents: []PublishedDoc{}, CompareReports: []PublishedDoc{}, Bundles: []WrittenBundle{}}
	v, err := logVerifier(ctx, c, req.LogKey, rep)
	if err != nil {
		return nil, err
	}

	sub, err := c.Publish(ctx, envs)
	if err != nil {
		return nil, err
	}
	cp, err := client.CheckReply(sub, v, leaves)
	if err != nil {
		return nil, err
	}
	rep.TreeSize, rep.Checkpoint = cp.Size, sub.Checkpoint
	for i, e := range sub.Entries {
		rep.Documents = append(rep.Documents, PublishedDoc{Source: docs[i].Source, Index: e.Index, New: e.New, Kind: e.Kind, PayloadDigest: e.PayloadDigest})
	}
	for i, b := range reportBodies {
		r, err := c.PublishCompareReport(ctx, b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", req.CompareReports[i], err)
		}
		leaf, err := logproof.CompareReportLeaf(digest.FromBytes(b))
		if err != nil {
			return nil, err
		}
		rcp, err := client.CheckReply(r, v, [][]byte{leaf})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", req.CompareReports[i], err)
		}
		e := r.Entries[0]
		rep.CompareReports = append(rep.CompareReports, PublishedDoc{Source: req.CompareReports[i], Index: e.Index, New: e.New, Kind: e.Kind, PayloadDigest: e.PayloadDigest})
		rep.TreeSize, rep.Checkpoint = rcp.Size, r.Checkpoint
	}

	dir := req.BundleDir
	if dir == "" {
		dir = filepath.Dir(req.Files[0])
		if fi, err := os.Stat(req.Files[0]); err == nil && fi.IsDir() {
			dir = req.Files[0]
		}
	}
	wait := req.WitnessWait
	if wait <= 0 {
		wait = DefaultWitnessWait
	}
	deadline := time.Now().Add(wait)
	for _, a := range artifactsOf(docs) {
		bu, bcp, err := fetchCovering(ctx, c, v, a.digest, rep.TreeSize, deadline)
		if err != nil {
			return nil, err
		}
		b, err := bu.Marshal()
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, a.file+LogBundleSuffix)
		if err := atomicfile.Write(path, b, 0o644); err != nil {
			return nil, fmt.Errorf("write log bundle: %w", err)
		}
		rep.Bundles = append(rep.Bundles, WrittenBundle{Subject: a.digest, Name: a.name, Path: path, Entries: len(bu.Entries), TreeSize: bcp.Size})
	}
	return rep, nil
}

// fetchCovering fetches and checks the bundle of d until it is at a tree
// of at least size (what was just published is in it), or deadline.
func fetchCovering(ctx context.Context, c *client.Client, v *logproof.Verifier, d digest.Digest, size int64, deadline time.Time) (*logproof.Bundle, logproof.Checkpoint, error) {
	pause := 50 * time.Millisecond
	for {
		bu, err := c.FetchBundle(ctx, d)
		if err != nil && !errors.Is(err, client.ErrNotLogged) {
			return nil, logproof.Checkpoint{}, err
		}
		var bcp logproof.Checkpoint
		if err == nil {
			if bcp, _, err = client.CheckBundle(bu, v, d); err != nil {
				return nil, bcp, err
			}
			if bcp.Size >= size {
				return bu, bcp, nil
			}
		}
		if time.Now().After(deadline) {
			served := "none yet"
			if bu != nil {
				served = fmt.Sprintf("tree size %d", bcp.Size)
			}
			return nil, bcp, fmt.Errorf("publish: the entries are logged (tree size %d), but the centre serves no bundle of %s holding them yet (%s): its witnesses have not cosigned the tree; publish again later (it is idempotent) to write the bundle", size, d, served)
		}
		select {
		case <-ctx.Done():
			return nil, bcp, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
	}
}

// logVerifier returns the verifier of the log's key: the one given (text
// or a file), else the one the centre names.
func logVerifier(ctx context.Context, c *client.Client, key string, rep *PublishResult) (*logproof.Verifier, error) {
	vkey, err := ReadLogKey(key)
	if err != nil {
		return nil, err
	}
	if vkey == "" {
		info, err := c.Log(ctx)
		if err != nil {
			return nil, err
		}
		vkey, rep.KeyPinned = info.VerifierKey, true
	}
	rep.VerifierKey = vkey
	v, err := logproof.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	return v, nil
}

// ReadLogKey reads a log's verifier key given as the key itself or as a
// file holding it.
func ReadLogKey(key string) (string, error) {
	key = strings.TrimSpace(key)
	if key == "" {
		return "", nil
	}
	if _, err := logproof.NewVerifier(key); err == nil {
		return key, nil
	}
	b, err := os.ReadFile(key)
	if err != nil {
		return "", fmt.Errorf("log key: neither a verifier key nor a readable file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

type artifact struct {
	digest digest.Digest
	name   string
	file   string // the bundle's file name, without the suffix
}

// artifactsOf lists the artifacts to keep bundles for: the subjects of the
// summaries, or of the rebuilds when there is no summary.
func artifactsOf(docs []attest.Document) []artifact {
	bySummary, byRebuild := map[digest.Digest]string{}, map[digest.Digest]string{}
	for _, d := range docs {
		st, err := attest.ParseStatement(d.Envelope.Payload)
		if err != nil {
			continue
		}
		target := byRebuild
		switch st.PredicateType {
		case attest.SummaryPredicateType, attest.VSAPredicateType, attest.ComparisonPredicateType:
			target = bySummary
		case attest.ProvenancePredicateType:
		default:
			continue
		}
		for _, s := range st.Subject {
			if dg, ok := s.Digest.Digest(digest.SHA256); ok {
				if _, seen := target[dg]; !seen || target[dg] == "" {
					target[dg] = s.Name
				}
			}
		}
	}
	chosen := bySummary
	if len(chosen) == 0 {
		chosen = byRebuild
	}
	var out []artifact
	used := map[string]bool{}
	for d, name := range chosen {
		out = append(out, artifact{digest: d, name: name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name+string(out[i].digest) < out[j].name+string(out[j].digest) })
	for i := range out {
		base := strings.Trim(safeName(filepath.Base(out[i].name)), "._")
		file := base
		if file == "" || used[file] {
			file = "sha256-" + out[i].digest.Encoded()[:12]
			if base != "" {
				file = base + "-" + file
			}
		}
		used[file] = true
		out[i].file = file
	}
	return out
}
