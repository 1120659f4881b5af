// Package monitor watches a transparency centre's log the way the go
// command watches the checksum database: it remembers the last checkpoint
// it verified, and checks that each new one extends it (a consistency proof
// from the centre), so a log that was forked, rewritten or shrunk (one view
// for some customers, another for the rest) is caught. It then reads the
// new entries from the log's C2SP tiles, checking every tile against the
// new checkpoint's root hash, and lists them. Last it replays the new
// entries against the centre's lookups: for each artifact they name, the
// signed artifact index the centre hands customers must list every one of
// them, so a centre that shows an artifact's customers less than its log
// holds (a dissenting rebuilder's summary left out, say) is caught with
// its own signature as evidence.
//
// The state is a directory: the log's verifier key (pinned at the first
// run, unless given) and the last verified checkpoint. It advances only
// after a check passed, so an inconsistency is reported again on every run
// until someone looks.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/client"
	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/centre/merklelog"
	"github.com/reprove/reprove/internal/atomicfile"
)

// State file names.
const (
	KeyFile        = "log.pub"
	CheckpointFile = "checkpoint"
	// ReplayedFile holds the tree size up to which every entry's artifacts
	// have had their lookups checked: a run that stops at MaxIndexChecks
	// leaves the rest to the next, which starts there.
	ReplayedFile = "replayed"
)

// MaxEntries bounds the new entries one run reads and lists, and the
// entries one run replays against the lookups.
const MaxEntries = 1 << 20

// MaxIndexChecks bounds the artifacts whose index one run checks (one
// lookup each). Entries past the bound are replayed by the next run, so a
// first run over a large log checks every artifact over successive runs.
const MaxIndexChecks = 10_000

// Options configure a run.
type Options struct {
	// Key, when set, is the log's verifier key. It must match the state's.
	Key string
	// Progress, when set, is told what is being checked.
	Progress func(string)
	// Now stamps evidence files; nil means time.Now.
	Now func() time.Time
	// MaxIndexChecks, when positive, replaces the package's bound.
	MaxIndexChecks int
}

// Result is what one run found.
type Result struct {
	// KeyPinned is set when this run pinned the key the centre named.
	KeyPinned   bool
	VerifierKey string
	// Old is the checkpoint of the previous run (Size 0 at the first).
	Old, New logproof.Checkpoint
	Entries  []Entry
	// IndexesChecked counts the artifacts whose signed index was checked
	// against the entries replayed; IndexesSkipped those past
	// MaxIndexChecks, which the next run checks.
	IndexesChecked, IndexesSkipped int
	// ReplayedTo is the tree size up to which every entry's artifacts have
	// been checked; EntriesPending the entries after it, left to the next
	// run.
	ReplayedTo, EntriesPending int64
}

// Entry is one new entry of the log.
type Entry struct {
	Index    int64    `json:"index"`
	Kind     string   `json:"kind"`
	What     string   `json:"what"`
	Subjects []string `json:"subjects"`
}

// InconsistentError reports a log that does not extend what the monitor
// saw before: the evidence is both signed checkpoints.
type InconsistentError struct {
	Old, New []byte
	Err      error
	// Evidence is the file the two checkpoints were saved to.
	Evidence string
}

func (e *InconsistentError) Error() string {
	s := "the log is inconsistent with the checkpoint seen before: " + e.Err.Error()
	if e.Evidence != "" {
		s += " (both checkpoints are in " + e.Evidence + ")"
	}
	return s
}

func (e *InconsistentError) Unwrap() error { return e.Err }

// IndexError reports a signed artifact index that leaves out entries the
// log holds for that artifact: the centre's lookup hides them from the
// artifact's customers. The evidence is the signed index (and the
// checkpoint the entries were read under).
type IndexError struct {
	Subject digest.Digest
	// Missing are the log entries whose subject is Subject that the index
	// does not list, though its tree size covers them.
	Missing []int64
	// Index is the signed index; Err says what is wrong when it is not a
	// valid index for Subject at all.
	Index []byte
	Err   error
	// Evidence is the file the index and checkpoint were saved to.
	Evidence string
}

func (e *IndexError) Error() string {
	var s string
	if e.Err != nil {
		s = fmt.Sprintf("the centre's lookup of %s: %v", e.Subject, e.Err)
	} else {
		ns := make([]string, len(e.Missing))
		for i, n := range e.Missing {
			ns[i] = strconv.FormatInt(n, 10)
		}
		s = fmt.Sprintf("the centre's signed index of %s leaves out log %s %s: its customers are not shown them",
			e.Subject, map[bool]string{true: "entry", false: "entries"}[len(ns) == 1], strings.Join(ns, ", "))
	}
	if e.Evidence != "" {
		s += " (the evidence is in " + e.Evidence + ")"
	}
	return s
}

func (e *IndexError) Unwrap() error { return e.Err }

// Run checks the centre's newest checkpoint against the state in dir and,
// when it is consistent, records it there.
func Run(ctx context.Context, c *client.Client, dir string, opts Options) (*Result, error) {
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	res := &Result{}
	vkey, pinned, err := loadKey(ctx, c, dir, opts.Key)
	if err != nil {
		return nil, err
	}
	res.VerifierKey, res.KeyPinned = vkey, pinned
	v, err := logproof.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	var oldNote []byte
	if b, err := os.ReadFile(filepath.Join(dir, CheckpointFile)); err == nil {
		oldNote = b
		if res.Old, err = v.Open(b); err != nil {
			return nil, fmt.Errorf("monitor: the saved checkpoint %s: %w", filepath.Join(dir, CheckpointFile), err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	progress("reading the checkpoint of " + c.Server())
	newNote, err := c.Checkpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	res.New, err = v.Open(newNote)
	if err != nil {
		return nil, fmt.Errorf("monitor: the centre's checkpoint: %w", err)
	}
	inconsistent := func(err error) (*Result, error) {
		ie := &InconsistentError{Old: oldNote, New: newNote, Err: err}
		path := filepath.Join(dir, "evidence-"+now().UTC().Format("20060102T150405Z")+".txt")
		text := "The log's checkpoint seen before:\n\n" + string(oldNote) + "\nThe checkpoint the centre serves now:\n\n" + string(newNote) +
			"\nThey are inconsistent: " + err.Error() + "\n"
		if atomicfile.Write(path, []byte(text), 0o644) == nil {
			ie.Evidence = path
		}
		return res, ie
	}
	if res.New.Size < res.Old.Size {
		return inconsistent(fmt.Errorf("the log shrank from %d to %d entries", res.Old.Size, res.New.Size))
	}
	if res.Old.Size > 0 {
		progress(fmt.Sprintf("checking that the tree of size %d extends the one of size %d", res.New.Size, res.Old.Size))
		var proof []tlog.Hash
		if res.New.Size > res.Old.Size {
			proof, err = c.Consistency(ctx, res.Old.Size, res.New.Size)
			if err != nil {
				var se *client.StatusError
				if errors.As(err, &se) && se.Status < 500 {
					return inconsistent(err)
				}
				return nil, fmt.Errorf("monitor: %w", err)
			}
		}
		if err := logproof.VerifyConsistency(res.Old, res.New, proof); err != nil {
			return inconsistent(err)
		}
	}
	listFrom := max(res.Old.Size, res.New.Size-MaxEntries)
	res.Entries, err = readEntries(ctx, c, listFrom, res.New.Size, res.New, progress)
	if err == nil {
		err = replay(ctx, c, v, dir, res, listFrom, opts, progress)
	}
	if err != nil {
		var te *tileError
		if errors.As(err, &te) {
			return inconsistent(err)
		}
	}
	if err != nil {
		var xe *IndexError
		if errors.As(err, &xe) {
			path := filepath.Join(dir, "evidence-index-"+now().UTC().Format("20060102T150405Z")+".txt")
			text := "The artifact index the centre signed for " + xe.Subject.String() + ":\n\n" + string(xe.Index) +
				"\nThe checkpoint the log's entries were read under:\n\n" + string(newNote) + "\nWhat is wrong: " + xe.Error() + "\n"
			if atomicfile.Write(path, []byte(text), 0o644) == nil {
				xe.Evidence = path
			}
			return res, xe
		}
		return nil, fmt.Errorf("monitor: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, CheckpointFile), newNote, 0o644); err != nil {
		return nil, fmt.Errorf("monitor: save checkpoint: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, ReplayedFile), []byte(strconv.FormatInt(res.ReplayedTo, 10)+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("monitor: save checkpoint: %w", err)
	}
	return res, nil
}

// replay checks the centre's lookups against the log's entries from where
// the last run stopped (ReplayedFile; at the first run, the log's start)
// up to the new tree, as far as one run's bound on lookups goes; listed are
// the entries the run read from listFrom on, reused when the ranges agree.
func replay(ctx context.Context, c *client.Client, v *logproof.Verifier, dir string, res *Result, listFrom int64, opts Options, progress func(string)) error {
	from := int64(0)
	if b, err := os.ReadFile(filepath.Join(dir, ReplayedFile)); err == nil {
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("monitor: %s: not a tree size", filepath.Join(dir, ReplayedFile))
		}
		from = n
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	} else if res.Old.Size > 0 {
		// A state from before ReplayedFile: its runs replayed up to the
		// checkpoint they saved.
		from = res.Old.Size
	}
	from = min(from, res.New.Size)
	entries, to := res.Entries, res.New.Size
	if from != listFrom {
		to = min(res.New.Size, from+MaxEntries)
		var err error
		if entries, err = readEntries(ctx, c, from, to, res.New, progress); err != nil {
			return err
		}
	}
	budget := opts.MaxIndexChecks
	if budget <= 0 {
		budget = MaxIndexChecks
	}
	return checkIndexes(ctx, c, v, res, entries, to, budget, progress)
}

// checkIndexes replays entries (those from tree size from on) against the
// centre's lookups: for each artifact they name, in order of first mention,
// the signed artifact index in the bundle the centre hands the artifact's
// customers must be at a tree no older than the one replayed and list every
// entry naming the artifact. An index the log's key did not sign, for
// another artifact or older than the entries is an IndexError too; a
// centre that cannot be reached is a plain error. It checks at most budget
// artifacts: the entries from the first that names one more are left to
// the next run (res.ReplayedTo, res.EntriesPending).
func checkIndexes(ctx context.Context, c *client.Client, v *logproof.Verifier, res *Result, entries []Entry, to int64, budget int, progress func(string)) error {
	bySubject := map[digest.Digest][]int64{}
	var order []digest.Digest
	res.ReplayedTo = to
	cut := false
	skipped := map[digest.Digest]bool{}
	for _, e := range entries {
		var fresh []digest.Digest
		for _, s := range e.Subjects {
			d := digest.Digest(s)
			if d.Validate() != nil || d.Algorithm() != digest.SHA256 {
				continue
			}
			if _, ok := bySubject[d]; !ok && !slices.Contains(fresh, d) {
				fresh = append(fresh, d)
			}
		}
		if !cut && len(order)+len(fresh) > budget {
			// This entry and those after it wait for the next run.
			res.ReplayedTo, cut = e.Index, true
		}
		if cut {
			for _, d := range fresh {
				skipped[d] = true
			}
			continue
		}
		for _, d := range fresh {
			order = append(order, d)
			bySubject[d] = nil
		}
		for _, s := range e.Subjects {
			d := digest.Digest(s)
			if l, ok := bySubject[d]; ok && (len(l) == 0 || l[len(l)-1] != e.Index) {
				bySubject[d] = append(l, e.Index)
			}
		}
	}
	res.EntriesPending = res.New.Size - res.ReplayedTo
	res.IndexesSkipped = len(skipped)
	if len(order) > 0 {
		progress(fmt.Sprintf("checking the centre's signed index of each of %d artifacts", len(order)))
	}
	for _, d := range order {
		bu, err := c.FetchBundle(ctx, d)
		if errors.Is(err, client.ErrNotLogged) {
			return &IndexError{Subject: d, Missing: bySubject[d], Err: errors.New("the centre says it holds nothing for it, but the log does")}
		}
		if err != nil {
			return err
		}
		if bu.ArtifactIndex == "" {
			return &IndexError{Subject: d, Err: errors.New("the bundle carries no signed artifact index")}
		}
		x, err := v.OpenIndex([]byte(bu.ArtifactIndex))
		if err != nil {
			return &IndexError{Subject: d, Index: []byte(bu.ArtifactIndex), Err: err}
		}
		if x.Subject != d {
			return &IndexError{Subject: d, Index: []byte(bu.ArtifactIndex), Err: fmt.Errorf("the index is for %s", x.Subject)}
		}
		if x.Size < res.New.Size {
			// A lookup answered at an older tree than the log's (a stale
			// cache or front) says nothing of the entries logged since:
			// the artifact's customers are not shown them.
			var later []int64
			for _, n := range bySubject[d] {
				if n >= x.Size {
					later = append(later, n)
				}
			}
			return &IndexError{Subject: d, Missing: later, Index: []byte(bu.ArtifactIndex),
				Err: fmt.Errorf("the centre's lookup answers at tree size %d, older than the log's %d: a stale lookup, which hides from the artifact's customers what was logged since%s", x.Size, res.New.Size, laterText(later))}
		}
		listed := map[int64]bool{}
		for _, n := range x.Entries {
			listed[n] = true
		}
		var missing []int64
		for _, n := range bySubject[d] {
			if !listed[n] {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			return &IndexError{Subject: d, Missing: missing, Index: []byte(bu.ArtifactIndex)}
		}
		res.IndexesChecked++
	}
	return nil
}

func laterText(later []int64) string {
	if len(later) == 0 {
		return ""
	}
	ns := make([]string, len(later))
	for i, n := range later {
		ns[i] = strconv.FormatInt(n, 10)
	}
	return " (here " + map[bool]string{true: "entry ", false: "entries "}[len(ns) == 1] + strings.Join(ns, ", ") + ")"
}

// loadKey returns the pinned key, pinning key (or the one the centre
// names) at the first run.
func loadKey(ctx context.Context, c *client.Client, dir, key string) (string, bool, error) {
	path := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		saved := strings.TrimSpace(string(b))
		if key != "" && key != saved {
			return "", false, fmt.Errorf("monitor: the state in %s watches the log %q, not %q", dir, saved, key)
		}
		return saved, false, nil
	case !errors.Is(err, os.ErrNotExist):
		return "", false, fmt.Errorf("monitor: %w", err)
	}
	pinned := false
	if key == "" {
		info, err := c.Log(ctx)
		if err != nil {
			return "", false, fmt.Errorf("monitor: %w", err)
		}
		key, pinned = info.VerifierKey, true
	}
	if _, err := logproof.NewVerifier(key); err != nil {
		return "", false, fmt.Errorf("monitor: %w", err)
	}
	if err := atomicfile.Write(path, []byte(key+"\n"), 0o644); err != nil {
		return "", false, fmt.Errorf("monitor: %w", err)
	}
	return key, pinned, nil
}

// tileError is a tile that does not hash to the checkpoint: the centre
// serves one tree's head and another's tiles.
type tileError struct{ err error }

func (e *tileError) Error() string { return e.err.Error() }
func (e *tileError) Unwrap() error { return e.err }

// tiles reads C2SP tiles through the client for tlog.TileHashReader,
// which checks each against the tree's root hash.
type tiles struct {
	ctx context.Context
	c   *client.Client
}

func (t tiles) Height() int { return merklelog.TileHeight }

func (t tiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, tile := range ts {
		b, err := t.c.Tile(t.ctx, tile)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func (tiles) SaveTiles([]tlog.Tile, [][]byte) {}

// readEntries reads the entries [from, to) from the entry bundles of the
// tree and checks each leaf's hash against the level-0 tiles, which
// TileHashReader proves part of the tree.
func readEntries(ctx context.Context, c *client.Client, from, to int64, tree logproof.Checkpoint, progress func(string)) ([]Entry, error) {
	to = min(to, tree.Size)
	if from >= to {
		return nil, nil
	}
	if from == to-1 {
		progress(fmt.Sprintf("reading entry %d", from))
	} else {
		progress(fmt.Sprintf("reading entries %d to %d", from, to-1))
	}
	hr := tlog.TileHashReader(tlog.Tree{N: tree.Size, Hash: tree.Hash}, tiles{ctx: ctx, c: c})
	var out []Entry
	for start := from &^ 255; start < to; start += 256 {
		w := min(256, tree.Size-start)
		tile := tlog.Tile{H: merklelog.TileHeight, L: -1, N: start >> 8, W: int(w)}
		b, err := c.Tile(ctx, tile)
		if err != nil {
			return nil, err
		}
		leaves, err := merklelog.SplitEntryBundle(b, int(w))
		if err != nil {
			return nil, &tileError{err}
		}
		var ids []int64
		for i := range leaves {
			ids = append(ids, tlog.StoredHashIndex(0, start+int64(i)))
		}
		hs, err := hr.ReadHashes(ids)
		if err != nil {
			return nil, &tileError{fmt.Errorf("the log's tiles do not match its checkpoint: %w", err)}
		}
		for i, leaf := range leaves {
			n := start + int64(i)
			if logproof.LeafHash(leaf) != hs[i] {
				return nil, &tileError{fmt.Errorf("entry %d: the entry bundle's leaf is not the one in the tree", n)}
			}
			if n < from || n >= to {
				continue
			}
			e := Entry{Index: n, Subjects: []string{}}
			if d, err := item.Describe(leaf); err != nil {
				e.Kind, e.What = "unknown", err.Error()
			} else {
				e.Kind, e.What = d.Kind.String(), d.Line()
				for _, s := range d.Subjects {
					e.Subjects = append(e.Subjects, s.Digest.String())
				}
			}
			out = append(out, e)
		}
	}
	return out, nil
}
