package centre

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/api"
	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/centre/merklelog"
	"github.com/reprove/reprove/centre/store"
)

func (c *Centre) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+api.PathAttestations, c.postAttestations)
	mux.HandleFunc("POST "+api.PathCompareReports, c.postCompareReport)
	mux.HandleFunc("GET "+api.PathCompareReports+"/{digest}", c.getCompareReport)
	mux.HandleFunc("GET "+api.PathArtifacts+"{digest}", c.getArtifact)
	mux.HandleFunc("GET "+api.PathEntries+"{index}", c.getEntry)
	mux.HandleFunc("GET "+api.PathCheckpoints+"{size}", c.getCheckpointAt)
	mux.HandleFunc("GET "+api.PathConsistency, c.getConsistency)
	mux.HandleFunc("GET "+api.PathLog, c.getLog)
	mux.HandleFunc("GET "+api.PathKeys, c.getKeys)
	mux.HandleFunc("GET "+api.PathCheckpoint, c.getCheckpoint)
	mux.HandleFunc("GET "+api.PathTiles+"{path...}", c.getTile)
	mux.HandleFunc("GET /healthz", c.getHealth)
}

// writeJSON writes v with status, compact (replies are for programs; the
// indentation cost a fifth of writing a submission's reply).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode reply", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", api.MediaJSON)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// fail answers with the JSON error; server-side failures (5xx) are logged
// and their details kept from the client.
func (c *Centre) fail(w http.ResponseWriter, status int, code, doc string, err error) {
	msg := err.Error()
	if status >= 500 {
		c.logf("centre: %d %s: %v", status, code, err)
		if status == http.StatusInternalServerError {
			msg = "internal error; the operator's log has the details"
		}
	}
	writeJSON(w, status, &api.Error{SchemaVersion: api.SchemaVersion, Code: code, Message: msg, Document: doc})
}

// statusOf maps an item refusal to its HTTP status.
func statusOf(code item.Code) int {
	switch code {
	case item.CodeUnknownKey, item.CodeWrongRole, item.CodeRevokedKey, item.CodeQuota:
		return http.StatusForbidden
	case item.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case item.CodeUnrelated:
		return http.StatusUnprocessableEntity
	}
	return http.StatusBadRequest
}

// failItem answers for an error from item, the log or the store.
func (c *Centre) failItem(w http.ResponseWriter, doc string, err error) {
	var ie *item.Error
	var tm *store.TooManyError
	switch {
	case errors.As(err, &ie):
		c.fail(w, statusOf(ie.Code), string(ie.Code), doc, err)
	case errors.As(err, &tm):
		c.fail(w, http.StatusUnprocessableEntity, api.CodeTooManyEntries, doc, fmt.Errorf("%w; ask for the entries of the keys you trust (?%s=sha256:…, repeated)", err, api.QuerySigner))
	case errors.Is(err, merklelog.ErrBusy):
		c.busy(w, err)
	case errors.Is(err, merklelog.ErrClosed), errors.Is(err, context.Canceled):
		retryAfter(w, time.Second)
		c.fail(w, http.StatusServiceUnavailable, api.CodeUnavailable, doc, err)
	case store.Unavailable(err), errors.Is(err, merklelog.ErrRolledBack):
		// The storage is failing (a full disk, a database outage, a
		// replaced file): retry later; the details are the operator's.
		c.logf("centre: storage unavailable: %v", err)
		retryAfter(w, 5*time.Second)
		writeJSON(w, http.StatusServiceUnavailable, &api.Error{SchemaVersion: api.SchemaVersion, Code: api.CodeUnavailable, Document: doc,
			Message: "the centre's storage is unavailable; nothing was logged; retry later (the operator's log has the details)"})
	default:
		c.fail(w, http.StatusInternalServerError, api.CodeInternal, doc, err)
	}
}

// readBody reads a request body up to api.MaxSubmission.
func (c *Centre) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := readAll(http.MaxBytesReader(w, r.Body, api.MaxSubmission), r.ContentLength)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		c.fail(w, http.StatusRequestEntityTooLarge, string(item.CodeTooLarge), "", fmt.Errorf("the submission is larger than %d bytes", api.MaxSubmission))
		return nil, false
	}
	if err != nil {
		c.fail(w, http.StatusBadRequest, api.CodeBadRequest, "", fmt.Errorf("read submission: %w", err))
		return nil, false
	}
	return b, true
}

// readAll is io.ReadAll into one buffer of the declared length (and a byte
// more, to see the end without growing it), rather than ReadAll's buffer
// that starts at 512 bytes and is copied as it grows.
func readAll(r io.Reader, declared int64) ([]byte, error) {
	if declared <= 0 || declared > api.MaxSubmission {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, declared+1)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			// Longer than declared (net/http refuses that itself): go on as
			// ReadAll does.
			rest, err := io.ReadAll(r)
			return append(b, rest...), err
		}
	}
}

// DecodeSubmission splits a POST /v1/attestations body (one DSSE
// envelope, pretty-printed or not, or JSON Lines of them; cosign's
// attest-blob bundles too) into parsed envelopes. A document that does not
// parse is an *item.Error naming it.
func DecodeSubmission(body []byte) ([]attest.Document, error) {
	docs := attest.SplitDocuments("submission", body)
	if len(docs) > api.MaxEnvelopes {
		return nil, &item.Error{Code: item.CodeTooLarge, Err: fmt.Errorf("%d envelopes in one submission, more than %d", len(docs), api.MaxEnvelopes)}
	}
	for _, d := range docs {
		if d.Err != nil {
			return nil, &docError{doc: d.Source, err: &item.Error{Code: item.CodeMalformed, Err: d.Err}}
		}
	}
	return docs, nil
}

// docError ties an error to the submitted document it is about.
type docError struct {
	doc string
	err error
}

func (e *docError) Error() string { return e.doc + ": " + e.err.Error() }
func (e *docError) Unwrap() error { return e.err }

// docOf splits an error into the document it is about and the error
// itself, so a reply names the document once.
func docOf(err error) (string, error) {
	var de *docError
	if errors.As(err, &de) {
		return de.doc, de.err
	}
	return "", err
}

func (c *Centre) checkDocs(ctx context.Context, docs []attest.Document) ([]*item.Item, error) {
	known, err := c.keys.get(ctx, false)
	if err != nil {
		return nil, err
	}
	items := make([]*item.Item, len(docs))
	for i, d := range docs {
		it, err := item.Check(ctx, d.Envelope, known)
		var ie *item.Error
		if errors.As(err, &ie) && ie.Code == item.CodeUnknownKey {
			// A key registered a moment ago: reload, and try once more if
			// the keys changed.
			reloaded, changed, lerr := c.keys.load(ctx, true)
			if lerr != nil {
				return nil, lerr
			}
			if changed {
				known = reloaded
				it, err = item.Check(ctx, d.Envelope, known)
			}
		}
		if err != nil {
			return nil, &docError{doc: d.Source, err: err}
		}
		if len(it.Leaf) > merklelog.MaxEntrySize {
			return nil, &docError{doc: d.Source, err: &item.Error{Code: item.CodeTooLarge,
				Err: fmt.Errorf("the envelope's canonical form is %d bytes; a log entry holds at most %d (C2SP entry bundles)", len(it.Leaf), merklelog.MaxEntrySize)}}
		}
		c.keys.signed(it)
		items[i] = it
	}
	return items, nil
}

func (c *Centre) postAttestations(w http.ResponseWriter, r *http.Request) {
	release, ok := c.enter(w, r)
	if !ok {
		return
	}
	defer release()
	body, ok := c.readBody(w, r)
	if !ok {
		return
	}
	docs, err := DecodeSubmission(body)
	if err != nil {
		doc, err := docOf(err)
		c.failItem(w, doc, err)
		return
	}
	items, err := c.checkDocs(r.Context(), docs)
	if err != nil {
		doc, err := docOf(err)
		c.failItem(w, doc, err)
		return
	}
	if k, wait := c.quota.take(items, c.clock()); k != "" {
		retryAfter(w, wait)
		c.fail(w, http.StatusTooManyRequests, api.CodeRateLimited, "", fmt.Errorf("the key %s has used its share of submissions (%v envelopes a second, %d at once); retry later", k, c.quota.limit, c.quota.burst))
		return
	}
	names := make([]string, len(docs))
	for i, d := range docs {
		names[i] = d.Source
	}
	c.appendAndReply(w, r, items, nil, names)
}

// appendAndReply logs items; names are the submitted documents' names, by
// which a refusal inside the log's transaction says which one it was.
func (c *Centre) appendAndReply(w http.ResponseWriter, r *http.Request, items []*item.Item, reports [][]byte, names []string) {
	ctx := r.Context()
	added, cp, err := c.log.Append(ctx, items, reports)
	if err != nil {
		doc := ""
		var re *merklelog.RefusedError
		if errors.As(err, &re) && re.Item < len(names) {
			doc = names[re.Item]
		}
		c.failItem(w, doc, err)
		return
	}
	rep := api.SubmitReply{SchemaVersion: api.SchemaVersion, Checkpoint: string(cp.Note), TreeSize: cp.Size}
	for i, a := range added {
		p, err := c.log.ProveInclusion(ctx, cp.Size, a.Index)
		if err != nil {
			c.fail(w, http.StatusInternalServerError, api.CodeInternal, "", err)
			return
		}
		kind, _ := items[i].Kind.MarshalText()
		e := api.SubmittedEntry{
			Index: a.Index, New: a.New, Kind: string(kind), PayloadDigest: items[i].PayloadDigest,
			LeafHash: base64.StdEncoding.EncodeToString(items[i].LeafHash[:]), InclusionProof: logproof.EncodeHashes(p),
			Subjects: []digest.Digest{},
		}
		for _, s := range items[i].Subjects {
			e.Subjects = append(e.Subjects, s.Digest)
		}
		rep.Entries = append(rep.Entries, e)
	}
	writeJSON(w, http.StatusOK, rep)
}

func (c *Centre) postCompareReport(w http.ResponseWriter, r *http.Request) {
	release, ok := c.enter(w, r)
	if !ok {
		return
	}
	defer release()
	body, ok := c.readBody(w, r)
	if !ok {
		return
	}
	it, _, err := item.CheckCompareReport(body)
	if err != nil {
		c.failItem(w, "", err)
		return
	}
	// Nothing unsigned enters the log: a report is logged only when a
	// comparison in the log, signed by a registered rebuilder, cites its
	// digest (the report's bytes are what that signature covers).
	cited, err := c.st.ReportCited(r.Context(), it.PayloadDigest)
	if err != nil {
		c.failItem(w, "", err)
		return
	}
	if !cited {
		c.failItem(w, "", &item.Error{Code: item.CodeUnrelated,
			Err: fmt.Errorf("no comparison in the log cites the compare report %s: publish the rebuilder's signed comparison that cites it first", it.PayloadDigest)})
		return
	}
	c.appendAndReply(w, r, []*item.Item{it}, [][]byte{body}, nil)
}

func parseDigest(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err != nil || d.Algorithm() != digest.SHA256 {
		return "", fmt.Errorf("%q is not a sha256 digest (sha256:<64 hex digits>)", s)
	}
	return d, nil
}

func (c *Centre) getCompareReport(w http.ResponseWriter, r *http.Request) {
	d, err := parseDigest(r.PathValue("digest"))
	if err != nil {
		c.fail(w, http.StatusBadRequest, api.CodeBadRequest, "", err)
		return
	}
	b, err := c.st.CompareReport(r.Context(), d)
	if errors.Is(err, store.ErrNotFound) {
		c.fail(w, http.StatusNotFound, api.CodeNotFound, "", fmt.Errorf("no compare report %s", d))
		return
	}
	if err != nil {
		c.failItem(w, "", err)
		return
	}
	w.Header().Set("Content-Type", api.MediaJSON)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(b)
}

func (c *Centre) getArtifact(w http.ResponseWriter, r *http.Request) {
	d, err := parseDigest(r.PathValue("digest"))
	if err != nil {
		c.fail(w, http.StatusBadRequest, api.CodeBadRequest, "", err)
		return
	}
	var signers []digest.Digest
	for _, v := range r.URL.Query()[api.QuerySigner] {
		k, err := parseDigest(v)
		if err != nil {
			c.fail(w, http.StatusBadRequest, api.CodeBadRequest, "", fmt.Errorf("?%s=: %w", api.QuerySigner, err))
			return
		}
		signers = append(signers, k)
	}
	if len(signers) > api.MaxSigners {
		c.fail(w, http.StatusBadRequest, api.CodeBadRequest, "", fmt.Errorf("%d signers, more than one lookup takes (%d)", len(signers), api.MaxSigners))
		return
	}
	var bu *logproof.Bundle
	if q := r.URL.Query().Get("size"); q != "" {
		// The lookup at a tree the log signed (a monitor's replayed size).
		n, perr := parseIndex(q)
		if perr != nil {
			c.fail(w, http.StatusBadRequest, api.CodeBadRequest, "", fmt.Errorf("size: %w", perr))
			return
		}
		bu, _, err = c.log.BundleAtFor(r.Context(), d, n, signers)
		if errors.Is(err, store.ErrNotFound) {
			c.fail(w, http.StatusNotFound, api.CodeNotFound, "", fmt.Errorf("the log signed no checkpoint at tree size %d", n))
			return
		}
	} else {
		bu, _, err = c.log.BundleFor(r.Context(), d, signers)
	}
	if errors.Is(err, merklelog.ErrNoEntries) {
		msg := fmt.Errorf("the log holds no attestation for %s", d)
		if len(signers) > 0 {
			msg = fmt.Errorf("the log holds no attestation for %s signed by the %d keys asked for", d, len(signers))
		}
		c.fail(w, http.StatusNotFound, api.CodeNotFound, "", msg)
		return
	}
	if err != nil {
		c.failItem(w, "", err)
		return
	}
	b, err := bu.Marshal()
	if err != nil {
		c.failItem(w, "", err)
		return
	}
	w.Header().Set("Content-Type", api.MediaBundle)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

func parseIndex(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, fmt.Errorf("%q is not a non-negative decimal integer", s)
	}
	return n, nil
}

func (c *Centre) getEntry(w http.ResponseWriter, r *http.Request) {
	n, err := parseIndex(r.PathValue("index"))
	if err != nil {
		c.fail(w, http.StatusBadRequest, api.CodeBadRequest, "", err)
		return
	}
	ctx := r.Context()
	cp, _, err := c.log.Latest(ctx)
	if err != nil {
		c.failItem(w, "", err)
		return
	}
	if n >= cp.Size {
		c.fail(w, http.StatusNotFound, api.CodeNotFound, "", fmt.Errorf("the log has %d entries; there is no entry %d", cp.Size, n))
		return
	}
	e, err := c.st.Entry(ctx, n)
	if err != nil {
		c.failItem(w, "", err)
		return
	}
	p, err := c.log.ProveInclusion(ctx, cp.Size, n)
	if err != nil {
		c.failItem(w, "", err)
		return
	}
	kind, _ := e.Kind.MarshalText()
	signers := e.Signers
	if signers == nil {
		signers = []string{}
	}
	writeJSON(w, http.StatusOK, api.EntryReply{
		SchemaVersion: api.SchemaVersion, Index: n, Kind: string(kind), PayloadDigest: e.PayloadDigest,
		Signers: signers, LoggedAt: e.LoggedAt.Format(time.RFC3339), Leaf: e.Leaf,
		InclusionProof: logproof.EncodeHashes(p), Checkpoint: string(cp.Note),
	})
}

func (c *Centre) getCheckpointAt(w http.ResponseWriter, r *http.Request) {
	n, err := parseIndex(r.PathValue("size"))
	if err != nil {
		c.fail(w, http.StatusBadRequest, api.CodeBadRequest, "", err)
		return
	}
	cp, _, err := c.log.CosignedAt(r.Context(), n)
	if errors.Is(err, store.ErrNotFound) {
		c.fail(w, http.StatusNotFound, api.CodeNotFound, "", fmt.Errorf("the log signed no checkpoint at size %d", n))
		return
	}
	if err != nil {
		c.failItem(w, "", err)
		return
	}
	writeJSON(w, http.StatusOK, api.CheckpointReply{SchemaVersion: api.SchemaVersion, TreeSize: cp.Size,
		Checkpoint: string(cp.Note), SignedAt: cp.At.Format(time.RFC3339)})
}

func (c *Centre) getConsistency(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, err1 := parseIndex(q.Get("from"))
	to, err2 := parseIndex(q.Get("to"))
	if err := errors.Join(err1, err2); err != nil {
		c.fail(w, http.StatusBadRequest, api.CodeBadRequest, "", fmt.Errorf("want ?from=SIZE&to=SIZE: %w", err))
		return
	}
	cp, _, err := c.log.Latest(r.Context())
	if err != nil {
		c.failItem(w, "", err)
		return
	}
	if from > to || to > cp.Size {
		c.fail(w, http.StatusBadRequest, api.CodeBadRequest, "", fmt.Errorf("sizes from=%d to=%d: want from ≤ to ≤ %d (the tree's size)", from, to, cp.Size))
		return
	}
	p, err := c.log.ProveConsistency(r.Context(), from, to)
	if err != nil {
		c.failItem(w, "", err)
		return
	}
	writeJSON(w, http.StatusOK, api.ConsistencyReply{SchemaVersion: api.SchemaVersion, From: from, To: to, Proof: logproof.EncodeHashes(p)})
}

func (c *Centre) getLog(w http.ResponseWriter, r *http.Request) {
	cp, _, err := c.log.Served(r.Context())
	if err != nil {
		c.failItem(w, "", err)
		return
	}
	writeJSON(w, http.StatusOK, api.LogInfo{SchemaVersion: api.SchemaVersion, Origin: c.log.Origin(),
		VerifierKey: c.log.VerifierKey(), TreeSize: cp.Size, Checkpoint: string(cp.Note)})
}

func (c *Centre) getCheckpoint(w http.ResponseWriter, r *http.Request) {
	cp, _, err := c.log.Served(r.Context())
	if err != nil {
		c.failItem(w, "", err)
		return
	}
	w.Header().Set("Content-Type", api.MediaCheckpoint)
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(cp.Note)
}

func (c *Centre) getTile(w http.ResponseWriter, r *http.Request) {
	t, err := api.ParseTilePath("tile/" + r.PathValue("path"))
	if err != nil {
		c.fail(w, http.StatusNotFound, api.CodeNotFound, "", err)
		return
	}
	cp, _, err := c.log.Latest(r.Context())
	if err != nil {
		c.failItem(w, "", err)
		return
	}
	b, err := c.log.Tile(r.Context(), t, cp.Size)
	if errors.Is(err, merklelog.ErrNoTile) {
		c.fail(w, http.StatusNotFound, api.CodeNotFound, "", fmt.Errorf("the tree of size %d has no tile %s", cp.Size, api.TilePath(t)))
		return
	}
	if err != nil {
		c.failItem(w, "", err)
		return
	}
	w.Header().Set("Content-Type", api.MediaTile)
	// A tile never changes: a partial one is a prefix of the full one.
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(b)
}
