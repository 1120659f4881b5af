// Package logstate is the customer's memory of the transparency logs its
// policies name: for each log key, the newest checkpoint `reprove verify`
// has seen, kept in the user's state directory, as the go command keeps
// the checksum database's latest tree. Each verification checks the trees
// of the bundles it reads (and, online, the centre's own newest checkpoint)
// against that one:
//
//   - two trees of one size with different roots, or a consistency proof
//     that fails, is a fork (or a rewritten log): refused;
//   - a newest bundle older than a tree seen before is stale: it may leave
//     out entries logged since (a rebuilder's later "different"), refused;
//   - online (verify --server), the proof that the smaller tree is part of
//     the larger is fetched from the centre and checked; offline it cannot
//     be, which is said in a note, and the memory does not move forward on
//     an unproven tree.
//
// The state directory is $REPROVE_STATE, else $XDG_STATE_HOME/reprove,
// else ~/.local/state/reprove; each log has a directory logs/ORIGIN+HASH
// (the origin with unsafe bytes as "_", and the key's hash) holding the
// checkpoint (signed note, cosignatures included) and a lock.
package logstate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/internal/atomicfile"
)

// CheckpointFile is the remembered checkpoint's name in a log's directory.
const CheckpointFile = "checkpoint"

// ErrNoProof marks an error of State.Consistency that is the centre's
// answer (it cannot or will not prove consistency: a 4xx), not a fault of
// the connection: a reason to refuse, not an error.
var ErrNoProof = errors.New("the centre gives no such consistency proof")

// State checks trees against the newest one seen before.
type State struct {
	// Dir is the state directory (see DefaultDir).
	Dir string
	// Head, when set, is the centre's newest checkpoint (GET /checkpoint),
	// read before the bundles; HeadSource says where it came from.
	Head       []byte
	HeadSource string
	// Consistency, when set, fetches the proof that the tree of size to
	// extends the one of size from (verify --server). Wrap ErrNoProof in
	// what the centre refuses.
	Consistency func(ctx context.Context, from, to int64) ([]tlog.Hash, error)
}

// DefaultDir is the state directory: $REPROVE_STATE, else
// $XDG_STATE_HOME/reprove, else $HOME/.local/state/reprove.
func DefaultDir(getenv func(string) string) (string, error) {
	if d := getenv("REPROVE_STATE"); d != "" {
		return d, nil
	}
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "reprove"), nil
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "state", "reprove"), nil
	}
	return "", errors.New("no state directory for the logs' checkpoints: set REPROVE_STATE (or HOME)")
}

// LogDir is the directory of one log's state under dir.
func LogDir(dir string, v *logproof.Verifier) string {
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			return r
		}
		return '_'
	}, v.Name())
	return filepath.Join(dir, "logs", fmt.Sprintf("%s+%08x", safe, v.KeyHash()))
}

// view is one tree this verification saw, and where.
type view struct {
	what string
	cp   *logproof.Checked
}

// Check checks the trees of bundles (each already checked against pol by
// the verifier) and the centre's head, when set, against the checkpoint
// remembered for pol's log, and remembers the newest when it is proven to
// extend it. Reasons fail the verification; notes are told; an error means
// the check could not run (an unreadable state, a centre unreachable).
//
// A State without Dir remembers nothing: it checks the trees of this
// verification against each other (and the centre's head) only, and says
// so in a note.
func (s *State) Check(ctx context.Context, pol *logproof.Policy, bundles []*logproof.Checked, now time.Time) (reasons, notes []string, err error) {
	var dir, path string
	if s.Dir == "" {
		notes = append(notes, "no state directory (set REPROVE_STATE or HOME): the log's trees are not checked against those seen before")
	} else {
		dir = LogDir(s.Dir, pol.Log)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, nil, fmt.Errorf("log state: %w", err)
		}
		unlock, err := lock(filepath.Join(dir, "lock"))
		if err != nil {
			return nil, nil, err
		}
		defer unlock()
		path = filepath.Join(dir, CheckpointFile)
	}

	var views []view
	for _, b := range bundles {
		views = append(views, view{fmt.Sprintf("the log bundle's tree (size %d)", b.Size), b})
	}
	sort.Slice(views, func(i, j int) bool {
		a, b := views[i].cp, views[j].cp
		if a.Size != b.Size {
			return a.Size > b.Size
		}
		return bytes.Compare(a.Hash[:], b.Hash[:]) < 0
	})
	if s.Head != nil {
		h, err := pol.CheckCheckpoint(s.Head, now)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("the centre's newest checkpoint (%s): %v", s.HeadSource, err))
		} else {
			views = append(views, view{fmt.Sprintf("the centre's newest tree (size %d)", h.Size), h})
		}
	}
	var seen *logproof.Checked
	var seenWhat string
	if path == "" {
		// Nothing remembered.
	} else if b, err := os.ReadFile(path); err == nil {
		c, err := pol.Log.Open(b)
		if err != nil {
			return nil, nil, fmt.Errorf("log state %s: %w", path, err)
		}
		seen = &logproof.Checked{Checkpoint: c, Note: b}
		when := ""
		if fi, err := os.Stat(path); err == nil {
			when = ", seen " + fi.ModTime().UTC().Format(time.RFC3339)
		}
		seenWhat = fmt.Sprintf("the tree seen before (size %d%s)", c.Size, when)
		views = append(views, view{seenWhat, seen})
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("log state: %w", err)
	}
	if len(views) == 0 {
		return reasons, notes, nil
	}
	top := views[0]
	for _, v := range views[1:] {
		if v.cp.Size > top.cp.Size {
			top = v
		}
	}

	// Every tree must be part of the largest.
	proved := map[*logproof.Checked]bool{}
	checked := map[int64]error{} // by the smaller size
	var unchecked []string
	forked := false
	for _, v := range views {
		switch {
		case v.cp == top.cp:
			continue
		case v.cp.Size == top.cp.Size:
			if v.cp.Hash != top.cp.Hash {
				reasons = append(reasons, fmt.Sprintf("%s and %s have different roots: the log shows two histories (a fork, one view for you, another for others)", top.what, v.what))
				forked = true
				continue
			}
			proved[v.cp] = true
			continue
		case v.cp.Size == 0:
			proved[v.cp] = true
			continue
		case s.Consistency == nil:
			unchecked = append(unchecked, v.what)
			continue
		}
		err, done := checked[v.cp.Size]
		if !done {
			var proof []tlog.Hash
			proof, err = s.Consistency(ctx, v.cp.Size, top.cp.Size)
			switch {
			case errors.Is(err, ErrNoProof):
				err = fmt.Errorf("the centre cannot prove it: %w", err)
			case err != nil:
				return nil, nil, fmt.Errorf("log state: check that the log only grew: %w", err)
			default:
				err = logproof.VerifyConsistency(v.cp.Checkpoint, top.cp.Checkpoint, proof)
			}
			checked[v.cp.Size] = err
		}
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("%s does not extend %s: the log forked or was rewritten: %v", top.what, v.what, err))
			forked = true
			continue
		}
		proved[v.cp] = true
	}
	if forked && seen != nil {
		evidence(dir, seen, top, now)
	}
	if len(unchecked) > 0 {
		notes = append(notes, fmt.Sprintf("not checked offline that %s is part of %s (verify --server checks that the log only grew)", strings.Join(unchecked, " and "), top.what))
	}

	// The newest bundle must not be older than a tree seen: entries logged
	// since may be missing from it.
	if len(bundles) > 0 {
		newest := bundles[0]
		for _, b := range bundles[1:] {
			if b.Size > newest.Size {
				newest = b
			}
		}
		if newest.Size < top.cp.Size {
			reasons = append(reasons, fmt.Sprintf("the log bundle is at tree size %d, but %s is newer: entries logged since, a rebuilder's \"different\" say, may be missing from the bundle; fetch a fresh one (verify --server)", newest.Size, top.what))
		}
	}

	if len(reasons) > 0 || path == "" || top.cp == seen || (seen != nil && top.cp.Size == seen.Size) {
		return reasons, notes, nil
	}
	if seen != nil && !proved[seen] {
		notes = append(notes, fmt.Sprintf("kept %s as the newest tree of the log %s: %s is not proven to extend it offline", seenWhat, pol.Name(), top.what))
		return reasons, notes, nil
	}
	if err := atomicfile.Write(path, top.cp.Note, 0o644); err != nil {
		return nil, nil, fmt.Errorf("log state: %w", err)
	}
	return reasons, notes, nil
}

// evidence keeps the two checkpoints of a fork beside the state, as the
// monitor does.
func evidence(dir string, seen *logproof.Checked, top view, now time.Time) {
	text := "The log's checkpoint seen before:\n\n" + string(seen.Note) + "\nThe checkpoint seen now (" + top.what + "):\n\n" + string(top.cp.Note)
	atomicfile.Write(filepath.Join(dir, "evidence-"+now.UTC().Format("20060102T150405Z")+".txt"), []byte(text), 0o644)
}

// lock takes an exclusive lock on path (created if need be), so that two
// verifications at once do not both move the memory.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log state: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("log state: lock %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
