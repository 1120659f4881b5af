// Package witness has the centre ask independent witnesses to cosign its
// log's checkpoints: a client of C2SP tlog-witness (add-checkpoint) and the
// cosigner, which keeps every configured witness up to date with the log's
// newest checkpoint in the background, so that appends never wait for a
// witness, and stores each cosignature (C2SP tlog-cosignature) for the
// centre to serve with the checkpoint.
//
// A witness keeps the newest checkpoint it cosigned for the log and cosigns
// a new one only with a consistency proof from that one: a fork of the log
// (another tree under the same key) never gets a cosignature from a witness
// that saw the log, which is what lets a customer's policy refuse a view no
// witness has seen.
package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Witness is one witness the centre asks: where it answers and the key its
// cosignatures verify under.
type Witness struct {
	// Key is its note verifier key (cosignature/v1, as litewitness prints
	// it); it names the witness.
	Key string
	// URL is the witness's prefix: requests go to URL + "/add-checkpoint".
	URL string
	v   note.Verifier
}

// Parse reads a witness as the centre's --witness flag gives it: its
// verifier key and its URL, separated by a space.
func Parse(spec string) (*Witness, error) {
	f := strings.Fields(spec)
	if len(f) != 2 {
		return nil, fmt.Errorf("witness %q: want its verifier key and its URL, separated by a space", spec)
	}
	return New(f[0], f[1])
}

// New makes a witness from its verifier key and URL.
func New(vkey, rawURL string) (*Witness, error) {
	v, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		return nil, fmt.Errorf("witness key %q: %w", vkey, err)
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("witness %s: URL %q: want http:// or https://", v.Name(), rawURL)
	}
	return &Witness{Key: vkey, URL: strings.TrimSuffix(rawURL, "/"), v: v}, nil
}

// Name is the witness's name (the name in its key and cosignature lines).
func (w *Witness) Name() string { return w.v.Name() }

// ConflictError is the witness's answer that it holds a checkpoint of
// another size than the old size the request named (409): ask again with a
// proof from Known.
type ConflictError struct {
	Known int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("the witness holds the log at tree size %d", e.Known)
}

// RefusedError is any other refusal, with the status and the witness's
// words: 403 (it does not know the log or its key), 422 (the consistency
// proof does not prove the new tree extends the one it holds: a fork or a
// rollback), 400.
type RefusedError struct {
	Status  int
	Message string
}

func (e *RefusedError) Error() string {
	what := map[int]string{
		http.StatusForbidden:           "it does not know this log or its key",
		http.StatusUnprocessableEntity: "the log's tree does not extend the one it cosigned before",
		http.StatusBadRequest:          "it could not read the request",
	}[e.Status]
	if what == "" {
		what = "it failed"
	}
	return fmt.Sprintf("the witness refused (%d: %s): %s", e.Status, what, e.Message)
}

// maxReply bounds a witness's answer: a few signature lines.
const maxReply = 16 << 10

// AddCheckpoint asks the witness to cosign checkpoint (the log's signed
// note), with proof the consistency proof from the tree of size old, which
// the witness is believed to hold, to the checkpoint's. It returns the
// witness's cosignature lines, checked: at least one is its cosignature of
// the checkpoint.
//
// The request is C2SP tlog-witness's add-checkpoint: "old N", the proof's
// hashes one a line, a blank line, the signed note. It is written here, a
// few lines over net/http, since no library the centre uses has a client
// for it (tessera's is internal).
func (w *Witness) AddCheckpoint(ctx context.Context, hc *http.Client, old int64, proof []tlog.Hash, checkpoint []byte) ([]byte, error) {
	var body bytes.Buffer
	fmt.Fprintf(&body, "old %d\n", old)
	for _, h := range proof {
		fmt.Fprintf(&body, "%s\n", h)
	}
	body.WriteByte('\n')
	body.Write(checkpoint)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL+"/add-checkpoint", &body)
	if err != nil {
		return nil, fmt.Errorf("witness %s: %w", w.Name(), err)
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("witness %s: %w", w.Name(), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReply+1))
	if err != nil {
		return nil, fmt.Errorf("witness %s: read reply: %w", w.Name(), err)
	}
	if len(b) > maxReply {
		return nil, fmt.Errorf("witness %s: reply larger than %d bytes", w.Name(), maxReply)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusConflict:
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("witness %s: 409 without a tree size (%q)", w.Name(), b)
		}
		return nil, &ConflictError{Known: n}
	default:
		msg := strings.TrimSpace(string(b))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		return nil, fmt.Errorf("witness %s: %w", w.Name(), &RefusedError{Status: resp.StatusCode, Message: msg})
	}
	line, err := w.cosignature(checkpoint, b)
	if err != nil {
		return nil, fmt.Errorf("witness %s: %w", w.Name(), err)
	}
	return line, nil
}

// cosignature picks out of the witness's reply its valid cosignature line of
// checkpoint.
func (w *Witness) cosignature(checkpoint, reply []byte) ([]byte, error) {
	if len(reply) == 0 || reply[len(reply)-1] != '\n' {
		return nil, errors.New("the reply is not signature lines")
	}
	text, _, ok := bytes.Cut(checkpoint, []byte("\n\n"))
	if !ok {
		return nil, errors.New("the checkpoint is not a signed note")
	}
	for _, line := range bytes.SplitAfter(reply, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		n, err := note.Open(append(append(append([]byte{}, text...), '\n', '\n'), line...), note.VerifierList(w.v))
		if err == nil && len(n.Sigs) == 1 {
			return line, nil
		}
	}
	return nil, errors.New("the reply holds no valid cosignature of the checkpoint by this witness")
}

// At is when a cosignature line says the witness made it.
func At(line []byte) (time.Time, error) {
	s := strings.TrimSuffix(string(line), "\n")
	s, ok := strings.CutPrefix(s, "— ")
	name, b64, ok2 := strings.Cut(s, " ")
	if !ok || !ok2 {
		return time.Time{}, errors.New("not a signature line")
	}
	return fnote.CoSigV1Timestamp(note.Signature{Name: name, Base64: b64})
}
