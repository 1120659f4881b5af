package logstate

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprove/reprove/attest/logproof"
)

// tree is a log kept in memory, which can prove consistency as a centre
// does.
type tree struct {
	hashes []tlog.Hash
	n      int64
}

func (t *tree) ReadHashes(ids []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ids))
	for i, id := range ids {
		out[i] = t.hashes[id]
	}
	return out, nil
}

func (t *tree) add(leaf string) {
	hs, err := tlog.StoredHashes(t.n, []byte(leaf), t)
	if err != nil {
		panic(err)
	}
	t.hashes = append(t.hashes, hs...)
	t.n++
}

func grow(t *tree, prefix string, n int) {
	for i := range n {
		t.add(fmt.Sprintf("%s %d", prefix, i))
	}
}

// at signs the tree's checkpoint at its current size.
func (tr *tree) at(t *testing.T, skey string) *logproof.Checked {
	t.Helper()
	h, err := tlog.TreeHash(tr.n, tr)
	if err != nil {
		t.Fatal(err)
	}
	c := logproof.Checkpoint{Origin: "log.example", Size: tr.n, Hash: h}
	signed, err := logproof.Sign(c, skey)
	if err != nil {
		t.Fatal(err)
	}
	return &logproof.Checked{Checkpoint: c, Note: signed}
}

func (tr *tree) prover() func(context.Context, int64, int64) ([]tlog.Hash, error) {
	return func(_ context.Context, from, to int64) ([]tlog.Hash, error) {
		if to > tr.n {
			return nil, fmt.Errorf("%w: the tree has %d entries", ErrNoProof, tr.n)
		}
		return tlog.ProveTree(to, from, tr)
	}
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	skey, vkey, err := note.GenerateKey(rand.Reader, "log.example")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := logproof.NewVerifier(vkey)
	pol := &logproof.Policy{Log: v, Key: vkey}

	var real tree
	grow(&real, "real", 5)
	at5 := real.at(t, skey)
	grow(&real, "real more", 4)
	at9 := real.at(t, skey)
	var fork tree
	grow(&fork, "real", 3)
	grow(&fork, "forked", 6)
	fork9 := fork.at(t, skey)
	grow(&fork, "forked more", 3)
	fork12 := fork.at(t, skey)

	type step struct {
		name    string
		online  *tree             // Consistency from this tree, when set
		head    *logproof.Checked // the centre's checkpoint
		bundles []*logproof.Checked
		reason  string // "" none
		note    string // "" none
		saved   int64  // the remembered size after the step
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"first use remembers, a newer tree proven online moves on", []step{
			{name: "first", bundles: []*logproof.Checked{at5}, saved: 5},
			{name: "same", bundles: []*logproof.Checked{at5}, saved: 5},
			{name: "newer offline", bundles: []*logproof.Checked{at9}, note: "not checked offline that the tree seen before (size 5", saved: 5},
			{name: "newer online", online: &real, bundles: []*logproof.Checked{at9}, saved: 9},
		}},
		{"a stale bundle", []step{
			{name: "seen", online: &real, head: at9, bundles: []*logproof.Checked{at9}, saved: 9},
			{name: "old bundle offline", bundles: []*logproof.Checked{at5},
				reason: "the log bundle is at tree size 5, but the tree seen before (size 9", note: "not checked offline", saved: 9},
			{name: "old bundle, newer head", online: &real, head: at9, bundles: []*logproof.Checked{at5},
				reason: "the log bundle is at tree size 5, but the centre's newest tree (size 9) is newer", saved: 9},
			{name: "an old bundle beside a fresh one", bundles: []*logproof.Checked{at5, at9}, note: "not checked offline that the log bundle's tree (size 5)", saved: 9},
		}},
		{"a fork of the same size", []step{
			{name: "seen", bundles: []*logproof.Checked{at9}, saved: 9},
			{name: "fork", bundles: []*logproof.Checked{fork9}, reason: "have different roots: the log shows two histories", saved: 9},
			{name: "both at once, remembering nothing new", bundles: []*logproof.Checked{at9, fork9}, reason: "have different roots", saved: 9},
		}},
		{"a larger fork, online", []step{
			{name: "seen", bundles: []*logproof.Checked{at9}, saved: 9},
			{name: "fork", online: &fork, head: fork12, bundles: []*logproof.Checked{fork12},
				reason: "tree (size 12) does not extend the tree seen before (size 9", saved: 9},
		}},
		{"a rolled-back centre cannot prove", []step{
			{name: "seen", bundles: []*logproof.Checked{at9}, saved: 9},
			{name: "fork at 5", online: func() *tree { var r tree; grow(&r, "real", 5); return &r }(), head: at5, bundles: []*logproof.Checked{at5},
				reason: "the centre cannot prove it", saved: 9},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, st := range tc.steps {
				s := &State{Dir: dir}
				if st.online != nil {
					s.Consistency = st.online.prover()
				}
				if st.head != nil {
					s.Head, s.HeadSource = st.head.Note, "test"
				}
				reasons, notes, err := s.Check(ctx, pol, st.bundles, now)
				if err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				got := strings.Join(reasons, "\n")
				if st.reason == "" && got != "" || st.reason != "" && !strings.Contains(got, st.reason) {
					t.Errorf("%s: reasons %q, want %q", st.name, got, st.reason)
				}
				if gn := strings.Join(notes, "\n"); st.note == "" && gn != "" || st.note != "" && !strings.Contains(gn, st.note) {
					t.Errorf("%s: notes %q, want %q", st.name, gn, st.note)
				}
				b, err := os.ReadFile(filepath.Join(LogDir(dir, v), CheckpointFile))
				if err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				c, err := v.Open(b)
				if err != nil || c.Size != st.saved {
					t.Errorf("%s: remembered %d (%v), want %d", st.name, c.Size, err, st.saved)
				}
			}
		})
	}

	// A fork leaves both checkpoints as evidence.
	dir := t.TempDir()
	(&State{Dir: dir}).Check(ctx, pol, []*logproof.Checked{at9}, now)
	(&State{Dir: dir}).Check(ctx, pol, []*logproof.Checked{fork9}, now)
	ev, _ := filepath.Glob(filepath.Join(LogDir(dir, v), "evidence-*.txt"))
	if len(ev) != 1 {
		t.Fatalf("evidence files: %v", ev)
	}
	if b, _ := os.ReadFile(ev[0]); !strings.Contains(string(b), string(at9.Note)) || !strings.Contains(string(b), string(fork9.Note)) {
		t.Errorf("evidence:\n%s", b)
	}

	// A centre that cannot be reached is an error, not a verdict.
	s := &State{Dir: dir, Consistency: func(context.Context, int64, int64) ([]tlog.Hash, error) {
		return nil, errors.New("connection refused")
	}}
	if _, _, err := s.Check(ctx, pol, []*logproof.Checked{at5}, now); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("unreachable centre: %v", err)
	}
	// A corrupt state is an error naming the file.
	os.WriteFile(filepath.Join(LogDir(dir, v), CheckpointFile), []byte("garbage\n"), 0o644)
	if _, _, err := (&State{Dir: dir}).Check(ctx, pol, []*logproof.Checked{at5}, now); err == nil || !strings.Contains(err.Error(), CheckpointFile) {
		t.Errorf("corrupt state: %v", err)
	}
	// A head that fails the policy is a reason.
	w := &logproof.Policy{Log: v, Key: vkey, Threshold: 1}
	pw, _ := logproof.NewWitness("w", vkey)
	w.Witnesses = []*logproof.Witness{pw}
	if reasons, _, err := (&State{Dir: t.TempDir(), Head: at9.Note, HeadSource: "centre"}).Check(ctx, w, nil, now); err != nil || len(reasons) != 1 ||
		!strings.Contains(reasons[0], "the centre's newest checkpoint (centre): the log's checkpoint at tree size 9 is cosigned by 0") {
		t.Errorf("unwitnessed head: %v %q", err, reasons)
	}
}

func TestDefaultDir(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"REPROVE_STATE": "/s", "XDG_STATE_HOME": "/x", "HOME": "/h"}, "/s"},
		{map[string]string{"XDG_STATE_HOME": "/x", "HOME": "/h"}, "/x/reprove"},
		{map[string]string{"HOME": "/h"}, "/h/.local/state/reprove"},
	} {
		got, err := DefaultDir(func(k string) string { return tc.env[k] })
		if err != nil || got != tc.want {
			t.Errorf("%v: %q %v, want %q", tc.env, got, err, tc.want)
		}
	}
	if _, err := DefaultDir(func(string) string { return "" }); err == nil {
		t.Error("no HOME and no REPROVE_STATE: no error")
	}
}

// Without a state directory nothing is remembered, but the trees of one
// verification are still checked against each other and the centre's head.
func TestCheckWithoutState(t *testing.T) {
	skey, vkey, _ := note.GenerateKey(rand.Reader, "log.example")
	v, _ := logproof.NewVerifier(vkey)
	pol := &logproof.Policy{Log: v, Key: vkey}
	var real tree
	grow(&real, "real", 5)
	at5 := real.at(t, skey)
	grow(&real, "real", 2)
	at7 := real.at(t, skey)
	s := &State{Head: at7.Note, HeadSource: "centre", Consistency: real.prover()}
	reasons, notes, err := s.Check(context.Background(), pol, []*logproof.Checked{at5}, time.Now())
	if err != nil || len(reasons) != 1 || !strings.Contains(reasons[0], "the log bundle is at tree size 5, but the centre's newest tree (size 7) is newer") {
		t.Errorf("%v %q", err, reasons)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "no state directory") {
		t.Errorf("notes %q", notes)
	}
}
