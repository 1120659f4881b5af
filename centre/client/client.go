// Package client talks to a reprove transparency centre: it publishes
// attestations and compare reports, fetches the log bundle of an artifact,
// and reads the log (checkpoints, consistency proofs, tiles) for monitors.
//
// Every reply is checked before it is returned: JSON strictly decoded,
// bundles parsed with attest/logproof, and, given the log's verifier key,
// signatures and proofs verified (CheckReply, CheckBundle), so a caller
// never holds an unverified answer by mistake.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/api"
)

// MaxReply bounds a JSON reply other than a bundle.
const MaxReply = 16 << 20

// Client is a centre's client.
type Client struct {
	base *url.URL
	// HTTP is the HTTP client; its Timeout bounds each request.
	HTTP *http.Client
	// UserAgent is sent with each request.
	UserAgent string
}

// New makes a client for the centre at server (http:// or https://).
func New(server string) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(server, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("centre %q: want an http:// or https:// URL", server)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	// Keep a connection per concurrent caller (the default keeps two), so
	// parallel publishers do not reconnect for every submission.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return &Client{base: u, HTTP: &http.Client{Timeout: 2 * time.Minute, Transport: tr}, UserAgent: "reprove"}, nil
}

// Server is the centre's URL.
func (c *Client) Server() string { return c.base.String() }

// URL is the address of a path on the centre.
func (c *Client) URL(path string) string { return c.base.String() + path }

// do sends a request and returns the body of a 200 reply; any other status
// is an error, an *api.Error when the centre said why.
func (c *Client) do(ctx context.Context, method, path, contentType string, body []byte, max int64) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL(path), rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", c.UserAgent)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, c.URL(path), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read reply: %w", method, c.URL(path), err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s %s: the reply is larger than %d bytes", method, c.URL(path), max)
	}
	if resp.StatusCode != http.StatusOK {
		var e api.Error
		if strings.HasPrefix(resp.Header.Get("Content-Type"), api.MediaJSON) && json.Unmarshal(b, &e) == nil && e.Code != "" {
			return nil, &StatusError{Status: resp.StatusCode, Err: &e}
		}
		return nil, &StatusError{Status: resp.StatusCode, Err: fmt.Errorf("%s %s: %s", method, c.URL(path), resp.Status)}
	}
	return b, nil
}

// StatusError is a reply other than 200. Err is an *api.Error when the
// centre explained itself.
type StatusError struct {
	Status int
	Err    error
}

func (e *StatusError) Error() string { return fmt.Sprintf("centre: %v", e.Err) }
func (e *StatusError) Unwrap() error { return e.Err }

// decode reads a JSON reply strictly.
func decode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode the centre's reply: %w", err)
	}
	if dec.More() {
		return errors.New("decode the centre's reply: data after the JSON")
	}
	return nil
}

// Publish submits envelopes (DSSE JSON, one each) as one submission: the
// centre logs all of them or none. Check the reply with CheckReply.
func (c *Client) Publish(ctx context.Context, envelopes [][]byte) (*api.SubmitReply, error) {
	if len(envelopes) == 0 {
		return nil, errors.New("publish: no envelopes")
	}
	if len(envelopes) > api.MaxEnvelopes {
		return nil, fmt.Errorf("publish: %d envelopes, more than one submission holds (%d)", len(envelopes), api.MaxEnvelopes)
	}
	// JSON Lines: each envelope compacted onto its line.
	var body bytes.Buffer
	for i, e := range envelopes {
		if err := json.Compact(&body, e); err != nil {
			return nil, fmt.Errorf("publish: envelope %d: %w", i+1, err)
		}
		body.WriteByte('\n')
	}
	b, err := c.do(ctx, http.MethodPost, api.PathAttestations, "application/jsonl", body.Bytes(), MaxReply)
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	var rep api.SubmitReply
	if err := decode(b, &rep); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	if len(rep.Entries) != len(envelopes) {
		return nil, fmt.Errorf("publish: the centre answered for %d of %d envelopes", len(rep.Entries), len(envelopes))
	}
	return &rep, nil
}

// PublishCompareReport submits a compare report (compare --json).
func (c *Client) PublishCompareReport(ctx context.Context, report []byte) (*api.SubmitReply, error) {
	b, err := c.do(ctx, http.MethodPost, api.PathCompareReports, api.MediaJSON, report, MaxReply)
	if err != nil {
		return nil, fmt.Errorf("publish compare report: %w", err)
	}
	var rep api.SubmitReply
	if err := decode(b, &rep); err != nil {
		return nil, fmt.Errorf("publish compare report: %w", err)
	}
	if len(rep.Entries) != 1 {
		return nil, fmt.Errorf("publish compare report: the centre answered for %d entries", len(rep.Entries))
	}
	return &rep, nil
}

// ErrNotLogged is FetchBundle's error for an artifact the log holds
// nothing for.
var ErrNotLogged = errors.New("the log holds no attestation for this artifact")

// ErrTooManyEntries is FetchBundle's error for an artifact the log holds
// more entries for than one bundle holds: ask for the keys you trust
// (FetchBundleFor).
var ErrTooManyEntries = errors.New("the log holds more entries for this artifact than one bundle holds")

// FetchBundle fetches the log bundle of artifact d and parses it (form
// only: check it with CheckBundle).
func (c *Client) FetchBundle(ctx context.Context, d digest.Digest) (*logproof.Bundle, error) {
	return c.FetchBundleFor(ctx, d, nil)
}

// FetchBundleFor fetches the log bundle of artifact d holding what the keys
// signers (fingerprints) signed, and what that cites; every key's when
// signers is empty. Check it with CheckBundleFor.
func (c *Client) FetchBundleFor(ctx context.Context, d digest.Digest, signers []digest.Digest) (*logproof.Bundle, error) {
	if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
		return nil, fmt.Errorf("fetch log bundle: %q is not a sha256 digest", d)
	}
	if len(signers) > api.MaxSigners {
		return nil, fmt.Errorf("fetch log bundle: %d keys, more than one lookup takes (%d)", len(signers), api.MaxSigners)
	}
	q := url.Values{}
	for _, k := range signers {
		q.Add(api.QuerySigner, k.String())
	}
	path := api.PathArtifacts + d.String()
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	b, err := c.do(ctx, http.MethodGet, path, "", nil, logproof.MaxBundle)
	var se *StatusError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return nil, fmt.Errorf("fetch log bundle for %s: %w", d, ErrNotLogged)
	}
	var ae *api.Error
	if errors.As(err, &ae) && ae.Code == api.CodeTooManyEntries {
		return nil, fmt.Errorf("fetch log bundle for %s: %w (%v)", d, ErrTooManyEntries, ae)
	}
	if err != nil {
		return nil, fmt.Errorf("fetch log bundle for %s: %w", d, err)
	}
	bu, err := logproof.ParseBundle(b)
	if err != nil {
		return nil, fmt.Errorf("fetch log bundle for %s: %w", d, err)
	}
	return bu, nil
}

// FetchBundleAt fetches the log bundle of artifact d at the tree of size
// size (one the log signed a checkpoint for), as a monitor replaying the
// log to that size asks for it.
func (c *Client) FetchBundleAt(ctx context.Context, d digest.Digest, size int64) (*logproof.Bundle, error) {
	if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
		return nil, fmt.Errorf("fetch log bundle: %q is not a sha256 digest", d)
	}
	b, err := c.do(ctx, http.MethodGet, api.PathArtifacts+d.String()+"?size="+strconv.FormatInt(size, 10), "", nil, logproof.MaxBundle)
	var se *StatusError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return nil, fmt.Errorf("fetch log bundle for %s at tree size %d: %w", d, size, ErrNotLogged)
	}
	if err != nil {
		return nil, fmt.Errorf("fetch log bundle for %s at tree size %d: %w", d, size, err)
	}
	bu, err := logproof.ParseBundle(b)
	if err != nil {
		return nil, fmt.Errorf("fetch log bundle for %s at tree size %d: %w", d, size, err)
	}
	return bu, nil
}

// Keys reads the keys the centre registered (revoked ones too). The list
// is only as trustworthy as the connection; a monitor uses it to ask a
// crowded artifact's lookup key by key, and what it asks is checked
// against the log.
func (c *Client) Keys(ctx context.Context) (*api.KeysReply, error) {
	b, err := c.do(ctx, http.MethodGet, api.PathKeys, "", nil, MaxReply)
	if err != nil {
		return nil, fmt.Errorf("read registered keys: %w", err)
	}
	var r api.KeysReply
	if err := decode(b, &r); err != nil {
		return nil, fmt.Errorf("read registered keys: %w", err)
	}
	return &r, nil
}

// Log reads the log's origin, verifier key and latest checkpoint. The key
// it names is only as trustworthy as the connection: pin it.
func (c *Client) Log(ctx context.Context) (*api.LogInfo, error) {
	b, err := c.do(ctx, http.MethodGet, api.PathLog, "", nil, MaxReply)
	if err != nil {
		return nil, fmt.Errorf("read log info: %w", err)
	}
	var info api.LogInfo
	if err := decode(b, &info); err != nil {
		return nil, fmt.Errorf("read log info: %w", err)
	}
	return &info, nil
}

// Checkpoint reads the latest signed checkpoint (C2SP /checkpoint).
func (c *Client) Checkpoint(ctx context.Context) ([]byte, error) {
	b, err := c.do(ctx, http.MethodGet, api.PathCheckpoint, "", nil, logproof.MaxCheckpoint)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	return b, nil
}

// CheckpointAt reads the checkpoint the log signed at tree size size.
func (c *Client) CheckpointAt(ctx context.Context, size int64) ([]byte, error) {
	b, err := c.do(ctx, http.MethodGet, api.PathCheckpoints+strconv.FormatInt(size, 10), "", nil, MaxReply)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint at %d: %w", size, err)
	}
	var r api.CheckpointReply
	if err := decode(b, &r); err != nil {
		return nil, fmt.Errorf("read checkpoint at %d: %w", size, err)
	}
	return []byte(r.Checkpoint), nil
}

// Consistency fetches the proof that the tree of size to extends the one of
// size from. Check it with logproof.VerifyConsistency.
func (c *Client) Consistency(ctx context.Context, from, to int64) ([]tlog.Hash, error) {
	path := fmt.Sprintf("%s?from=%d&to=%d", api.PathConsistency, from, to)
	b, err := c.do(ctx, http.MethodGet, path, "", nil, MaxReply)
	if err != nil {
		return nil, fmt.Errorf("read consistency proof %d→%d: %w", from, to, err)
	}
	var r api.ConsistencyReply
	if err := decode(b, &r); err != nil {
		return nil, fmt.Errorf("read consistency proof %d→%d: %w", from, to, err)
	}
	if r.From != from || r.To != to {
		return nil, fmt.Errorf("read consistency proof %d→%d: the centre proved %d→%d", from, to, r.From, r.To)
	}
	return logproof.DecodeHashes(r.Proof)
}

// Tile reads a C2SP tile (a hash tile, or an entry bundle for level -1).
func (c *Client) Tile(ctx context.Context, t tlog.Tile) ([]byte, error) {
	b, err := c.do(ctx, http.MethodGet, "/"+api.TilePath(t), "", nil, 1<<24)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", api.TilePath(t), err)
	}
	return b, nil
}

// Entry reads one entry with its inclusion proof.
func (c *Client) Entry(ctx context.Context, index int64) (*api.EntryReply, error) {
	b, err := c.do(ctx, http.MethodGet, api.PathEntries+strconv.FormatInt(index, 10), "", nil, MaxReply)
	if err != nil {
		return nil, fmt.Errorf("read entry %d: %w", index, err)
	}
	var r api.EntryReply
	if err := decode(b, &r); err != nil {
		return nil, fmt.Errorf("read entry %d: %w", index, err)
	}
	return &r, nil
}
