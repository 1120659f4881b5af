package merklelog

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/centretest/fixture"
	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/centre/store"
	"github.com/reprove/reprove/centre/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// backends opens a fresh store of each kind.
var backends = map[string]func(t *testing.T) store.Store{
	"sqlite": func(t *testing.T) store.Store {
		s, err := store.OpenSQLite(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	},
	"postgres": func(t *testing.T) store.Store {
		s, err := store.OpenPostgres(context.Background(), pgtest.Database(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	},
}

var (
	reviewer  = fixture.MustParty("alice")
	rebuilder = fixture.MustParty("rebuilder-a")
	dissenter = fixture.MustParty("rebuilder-b")
	known     = []item.Key{
		{Name: "alice", Role: item.Reviewer, Verifier: reviewer.Verifier},
		{Name: "rebuilder-a", Role: item.Rebuilder, Verifier: rebuilder.Verifier},
		{Name: "rebuilder-b", Role: item.Rebuilder, Verifier: dissenter.Verifier},
	}
)

func newKey(t testing.TB) string {
	skey, _, err := note.GenerateKey(rand.Reader, "centre.test/log")
	if err != nil {
		t.Fatal(err)
	}
	return skey
}

func check(t testing.TB, envs ...[]byte) []*item.Item {
	t.Helper()
	var out []*item.Item
	for _, e := range envs {
		it, err := item.CheckEnvelope(context.Background(), e, known)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, it)
	}
	return out
}

func reviews(t testing.TB, n int, tag string) []*item.Item {
	t.Helper()
	var envs [][]byte
	for i := range n {
		e, err := fixture.Review(context.Background(), reviewer, "tool", "1.0", fmt.Sprintf("%s %d", tag, i))
		if err != nil {
			t.Fatal(err)
		}
		envs = append(envs, e)
	}
	return check(t, envs...)
}

func openLog(t *testing.T, st store.Store, skey string) *Log {
	t.Helper()
	l, err := Open(context.Background(), st, skey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

func TestLog(t *testing.T) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			l := openLog(t, open(t), newKey(t))
			v := l.Verifier()

			// Empty: a signed checkpoint of size 0.
			cp, oc, err := l.Latest(ctx)
			if err != nil || oc.Size != 0 {
				t.Fatalf("empty log: %v %+v", err, oc)
			}
			if _, err := v.Open(cp.Note); err != nil {
				t.Fatal(err)
			}

			var checkpoints []logproof.Checkpoint
			var all []*item.Item
			for round := range 5 {
				items := reviews(t, 1+round*7, fmt.Sprint("round", round))
				added, cp, err := l.Append(ctx, items, nil)
				if err != nil {
					t.Fatal(err)
				}
				c, err := v.Open(cp.Note)
				if err != nil {
					t.Fatal(err)
				}
				for i, a := range added {
					if !a.New || a.Index != int64(len(all)+i) {
						t.Fatalf("round %d item %d: %+v", round, i, a)
					}
					p, err := l.ProveInclusion(ctx, c.Size, a.Index)
					if err != nil {
						t.Fatal(err)
					}
					if err := logproof.VerifyInclusion(items[i].Leaf, a.Index, p, c); err != nil {
						t.Fatal(err)
					}
				}
				all = append(all, items...)
				checkpoints = append(checkpoints, c)
			}
			// Resubmission is idempotent: the same indexes, nothing new.
			added, cp2, err := l.Append(ctx, all[3:6], nil)
			if err != nil {
				t.Fatal(err)
			}
			want := []Added{{Index: 3}, {Index: 4}, {Index: 5}}
			if diff := cmp.Diff(want, added); diff != "" {
				t.Errorf("resubmission (-want +got):\n%s", diff)
			}
			latest := checkpoints[len(checkpoints)-1]
			if c, _ := v.Open(cp2.Note); c.Size != latest.Size {
				t.Errorf("a resubmission grew the log to %d", c.Size)
			}
			// Duplicates within one submission are one leaf.
			dup := reviews(t, 1, "dup")
			added, _, err = l.Append(ctx, []*item.Item{dup[0], dup[0]}, nil)
			if err != nil || added[0].Index != added[1].Index || !added[0].New || added[1].New {
				t.Errorf("a duplicate within one batch: %+v %v", added, err)
			}
			all = append(all, dup[0])
			_, latest, _ = l.Latest(ctx)
			// Every older checkpoint is consistent with the latest.
			for _, c := range checkpoints {
				p, err := l.ProveConsistency(ctx, c.Size, latest.Size)
				if err != nil {
					t.Fatal(err)
				}
				if err := logproof.VerifyConsistency(c, latest, p); err != nil {
					t.Errorf("size %d: %v", c.Size, err)
				}
			}
			// Tiles: a client reading only tiles recomputes the same tree.
			tr := tileReader{ctx: ctx, l: l, size: latest.Size}
			tree := tlog.Tree{N: latest.Size, Hash: latest.Hash}
			hr := tlog.TileHashReader(tree, tr)
			for i, it := range all {
				h, err := hr.ReadHashes([]int64{tlog.StoredHashIndex(0, int64(i))})
				if err != nil {
					t.Fatal(err)
				}
				if h[0] != it.LeafHash {
					t.Fatalf("leaf %d: tile hash differs", i)
				}
			}
			eb, err := l.Tile(ctx, tlog.Tile{H: TileHeight, L: -1, N: 0, W: int(latest.Size)}, latest.Size)
			if err != nil {
				t.Fatal(err)
			}
			leaves, err := SplitEntryBundle(eb, int(latest.Size))
			if err != nil {
				t.Fatal(err)
			}
			for i, leaf := range leaves {
				if !bytes.Equal(leaf, all[i].Leaf) {
					t.Fatalf("entry bundle: leaf %d differs", i)
				}
			}
			if _, err := l.Tile(ctx, tlog.Tile{H: TileHeight, L: -1, N: 0, W: int(latest.Size) + 1}, latest.Size); err != ErrNoTile {
				t.Errorf("a tile past the tree: %v", err)
			}
		})
	}
}

type tileReader struct {
	ctx  context.Context
	l    *Log
	size int64
}

func (r tileReader) Height() int { return TileHeight }
func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	var out [][]byte
	for _, t := range tiles {
		b, err := r.l.Tile(r.ctx, t, r.size)
		if err != nil {
			return nil, fmt.Errorf("tile %s: %w", t.Path(), err)
		}
		out = append(out, b)
	}
	return out, nil
}
func (r tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

func TestBundle(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, backends["sqlite"](t), newKey(t))
	says := []fixture.Say{{Rebuilder: rebuilder}, {Rebuilder: dissenter, Different: true}}
	rel, err := fixture.MakeRelease(ctx, "tool", "1.0", []*fixture.Party{reviewer}, says)
	if err != nil {
		t.Fatal(err)
	}
	// Noise: another release, unrelated reviews.
	other, err := fixture.MakeRelease(ctx, "other", "2.0", []*fixture.Party{reviewer}, says[:1])
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Append(ctx, check(t, other.All(says[:1])...), nil); err != nil {
		t.Fatal(err)
	}
	items := check(t, rel.All(says)...)
	if _, _, err := l.Append(ctx, items, nil); err != nil {
		t.Fatal(err)
	}
	bu, _, err := l.Bundle(ctx, rel.Digest)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bu.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := logproof.ParseBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	c, err := got.OpenCheckpoint(l.Verifier())
	if err != nil {
		t.Fatal(err)
	}
	if err := got.CheckComplete(l.Verifier(), c, rel.Digest); err != nil {
		t.Fatal(err)
	}
	// The review, rebuild A (its output is the shipped file), comparison
	// and summary A, rebuild B (cited by B's), comparison and summary B.
	if len(got.Entries) != 7 {
		t.Errorf("%d entries, want 7", len(got.Entries))
	}
	for _, e := range got.Entries {
		it, err := item.CheckEnvelope(ctx, e.Envelope, known)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.VerifyEntry(it.Leaf, c); err != nil {
			t.Errorf("entry %d: %v", e.Index, err)
		}
	}
	// An entry dropped (the dissenter's summary, say) is caught.
	got.Entries = got.Entries[:len(got.Entries)-1]
	if err := got.CheckComplete(l.Verifier(), c, rel.Digest); err == nil {
		t.Error("a bundle with an entry left out passed as complete")
	}
	if _, _, err := l.Bundle(ctx, digest.FromString("nothing")); err != ErrNoEntries {
		t.Errorf("an unknown artifact: %v", err)
	}
}

// TestReplicas runs two logs (two centre replicas) on one PostgreSQL and
// appends through both at once: one log, no index given twice, every
// checkpoint either replica signed consistent with the final tree.
func TestReplicas(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Database(t)
	skey := newKey(t)
	var logs []*Log
	for range 2 {
		st, err := store.OpenPostgres(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		logs = append(logs, openLog(t, st, skey))
	}
	// A replica with another key is refused.
	st3, _ := store.OpenPostgres(ctx, dsn)
	defer st3.Close()
	if _, err := Open(ctx, st3, newKey(t), Options{}); err == nil {
		t.Error("a replica with another signer key opened the log")
	}
	const per = 60
	var mu sync.Mutex
	seen := map[int64]tlog.Hash{}
	var cps []logproof.Checkpoint
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 4 {
		items := reviews(t, per, fmt.Sprint("replica worker ", w))
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := logs[w%2]
			for i := 0; i < per; i += 3 {
				added, cp, err := l.Append(ctx, items[i:i+3], nil)
				if err != nil {
					errs <- err
					return
				}
				c, err := l.Verifier().Open(cp.Note)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				cps = append(cps, c)
				for j, a := range added {
					if h, ok := seen[a.Index]; ok && h != items[i+j].LeafHash {
						errs <- fmt.Errorf("index %d given to two leaves", a.Index)
					}
					seen[a.Index] = items[i+j].LeafHash
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	_, final, err := logs[0].Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if final.Size != 4*per || len(seen) != 4*per {
		t.Fatalf("final size %d, %d distinct indexes, want %d", final.Size, len(seen), 4*per)
	}
	for _, c := range cps {
		p, err := logs[1].ProveConsistency(ctx, c.Size, final.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := logproof.VerifyConsistency(c, final, p); err != nil {
			t.Fatal(err)
		}
	}
}

func FuzzSplitEntryBundle(f *testing.F) {
	f.Add([]byte{0, 1, 'a', 0, 0}, 2)
	f.Add([]byte{0xff, 0xff}, 1)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		leaves, err := SplitEntryBundle(b, n)
		if err != nil {
			return
		}
		var again []byte
		for _, l := range leaves {
			again = append(again, byte(len(l)>>8), byte(len(l)))
			again = append(again, l...)
		}
		if !bytes.Equal(again, b) {
			t.Fatal("an entry bundle does not re-encode to itself")
		}
	})
}
