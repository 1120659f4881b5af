package monitor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/client"
	"github.com/reprove/reprove/internal/atomicfile"
)

// FailedFile holds the artifacts whose lookup failed (the centre answered
// 5xx, or not at all): the next run checks them again, first, so a bad
// lookup never stops the monitor, nor is it skipped for good.
const FailedFile = "lookups-failed"

// LookupFailure is an artifact whose lookup could not be checked this run.
type LookupFailure struct {
	Subject digest.Digest `json:"subject"`
	// Entries are the log entries naming it that its index must list.
	Entries []int64 `json:"entries"`
	Err     string  `json:"error"`
}

// LookupError is a run that checked everything it could, but not the
// lookups of Failures: the monitor advanced, and checks those again next.
type LookupError struct {
	Failures []LookupFailure
}

func (e *LookupError) Error() string {
	var ds []string
	for _, f := range e.Failures {
		ds = append(ds, f.Subject.String())
	}
	return fmt.Sprintf("the centre's lookup of %d %s failed (%s): checked again by the next run",
		len(ds), map[bool]string{true: "artifact", false: "artifacts"}[len(ds) == 1], strings.Join(ds, ", "))
}

// loadFailed reads the lookups the last run could not check.
func loadFailed(dir string) ([]LookupFailure, error) {
	f, err := os.Open(filepath.Join(dir, FailedFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []LookupFailure
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var lf LookupFailure
		if err := json.Unmarshal(sc.Bytes(), &lf); err != nil || lf.Subject.Validate() != nil {
			return nil, fmt.Errorf("monitor: %s: a line that is not a failed lookup", filepath.Join(dir, FailedFile))
		}
		out = append(out, lf)
	}
	return out, sc.Err()
}

// saveFailed records the lookups to check again (none: the file goes).
func saveFailed(dir string, fs []LookupFailure) error {
	path := filepath.Join(dir, FailedFile)
	if len(fs) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	var b strings.Builder
	for _, f := range fs {
		line, err := json.Marshal(f)
		if err != nil {
			return err
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return atomicfile.Write(path, []byte(b.String()), 0o644)
}

// artifactIndex is what the centre signed about the entries it hands an
// artifact's customers: its bundle's index, or, for an artifact the log
// holds more for than one bundle holds, the union of the indexes of each
// registered key's bundle (every logged envelope is signed by registered
// keys only, so an entry no key's index lists is hidden from everyone).
type artifactIndex struct {
	logproof.Index
	// Signed are the signed indexes, as evidence.
	Signed [][]byte
}

// lookupIndex fetches and opens the index of d. An index that is not the
// log's, or is for something else than asked, is an *IndexError; a lookup
// that fails is a plain error.
func lookupIndex(ctx context.Context, c *client.Client, v *logproof.Verifier, d digest.Digest, keys *registered) (*artifactIndex, error) {
	bu, err := c.FetchBundle(ctx, d)
	if errors.Is(err, client.ErrTooManyEntries) {
		return lookupByKey(ctx, c, v, d, keys)
	}
	if errors.Is(err, client.ErrNotLogged) {
		return nil, &IndexError{Subject: d, Err: errors.New("the centre says it holds nothing for it, but the log does")}
	}
	if err != nil {
		return nil, err
	}
	x, err := openIndex(v, d, bu, nil)
	if err != nil {
		return nil, err
	}
	return &artifactIndex{Index: x, Signed: [][]byte{[]byte(bu.ArtifactIndex)}}, nil
}

// openIndex opens a bundle's index and checks it is d's, for the keys asked
// (every key when signers is empty).
func openIndex(v *logproof.Verifier, d digest.Digest, bu *logproof.Bundle, signers []digest.Digest) (logproof.Index, error) {
	if bu.ArtifactIndex == "" {
		return logproof.Index{}, &IndexError{Subject: d, Err: errors.New("the bundle carries no signed artifact index")}
	}
	x, err := v.OpenIndex([]byte(bu.ArtifactIndex))
	if err != nil {
		return x, &IndexError{Subject: d, Index: []byte(bu.ArtifactIndex), Err: err}
	}
	if x.Subject != d {
		return x, &IndexError{Subject: d, Index: []byte(bu.ArtifactIndex), Err: fmt.Errorf("the index is for %s", x.Subject)}
	}
	if !slices.Equal(x.Signers, signers) {
		return x, &IndexError{Subject: d, Index: []byte(bu.ArtifactIndex), Err: fmt.Errorf("the index covers the keys %v, not the %v asked for", x.Signers, signers)}
	}
	return x, nil
}

// lookupByKey is lookupIndex for a crowded artifact: the index of each
// registered key's bundle, their entries united, at the smallest tree.
func lookupByKey(ctx context.Context, c *client.Client, v *logproof.Verifier, d digest.Digest, keys *registered) (*artifactIndex, error) {
	fps, err := keys.get(ctx, c)
	if err != nil {
		return nil, err
	}
	ai := &artifactIndex{Index: logproof.Index{Subject: d, Size: -1}}
	for _, fp := range fps {
		bu, err := c.FetchBundleFor(ctx, d, []digest.Digest{fp})
		if errors.Is(err, client.ErrNotLogged) {
			continue // nothing of this key's
		}
		if err != nil {
			return nil, fmt.Errorf("the lookup of %s for the key %s: %w", d, fp, err)
		}
		x, err := openIndex(v, d, bu, []digest.Digest{fp})
		if err != nil {
			return nil, err
		}
		if ai.Size < 0 || x.Size < ai.Size {
			ai.Size = x.Size
		}
		ai.Entries = append(ai.Entries, x.Entries...)
		ai.Signed = append(ai.Signed, []byte(bu.ArtifactIndex))
	}
	if ai.Size < 0 {
		return nil, &IndexError{Subject: d, Err: errors.New("the centre says no registered key signed anything for it, but the log holds entries naming it")}
	}
	slices.Sort(ai.Entries)
	ai.Entries = slices.Compact(ai.Entries)
	return ai, nil
}

// registered is the fingerprints of the centre's registered keys, read
// once a run, when a crowded artifact first needs them. The list is the
// centre's word; a key it leaves out leaves that key's entries out of every
// index, which the check then catches.
type registered struct {
	fps []digest.Digest
	err error
	got bool
}

func (r *registered) get(ctx context.Context, c *client.Client) ([]digest.Digest, error) {
	if !r.got {
		r.got = true
		ks, err := c.Keys(ctx)
		if err != nil {
			r.err = err
		} else {
			for _, k := range ks.Keys {
				r.fps = append(r.fps, k.Fingerprint)
			}
		}
	}
	return r.fps, r.err
}
