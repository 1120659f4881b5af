package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/centretest/fixture"
	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/centre/store"
	"github.com/reprove/reprove/centre/store/pgtest"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type backend struct {
	open func() (store.Store, error)
	// raw opens the same database directly, to try what the store never does.
	raw func(t *testing.T) *sql.DB
}

func backends(t *testing.T) map[string]backend {
	dir := t.TempDir()
	out := map[string]backend{
		"sqlite": {
			open: func() (store.Store, error) { return store.OpenSQLite(context.Background(), dir) },
			raw: func(t *testing.T) *sql.DB {
				db, err := sql.Open("sqlite", "file:"+dir+"/"+store.SQLiteFile+"?_pragma=busy_timeout(10000)")
				if err != nil {
					t.Fatal(err)
				}
				return db
			},
		},
	}
	if !testing.Short() {
		dsn := pgtest.Database(t)
		out["postgres"] = backend{
			open: func() (store.Store, error) { return store.OpenPostgres(context.Background(), dsn) },
			raw: func(t *testing.T) *sql.DB {
				db, err := sql.Open("pgx", dsn)
				if err != nil {
					t.Fatal(err)
				}
				return db
			},
		}
	}
	return out
}

var (
	alice = fixture.MustParty("alice")
	rebA  = fixture.MustParty("rebuilder-a")
	rebB  = fixture.MustParty("rebuilder-b")
	known = []item.Key{{Name: "alice", Role: item.Reviewer, Verifier: alice.Verifier},
		{Name: "rebuilder-a", Role: item.Rebuilder, Verifier: rebA.Verifier}, {Name: "rebuilder-b", Role: item.Rebuilder, Verifier: rebB.Verifier}}
)

// appendItems appends items with stand-in stored hashes (the store keeps
// what it is given; the log computes them, and its tests check them).
func appendItems(t *testing.T, s store.Store, items []*item.Item) {
	t.Helper()
	err := s.Append(context.Background(), func(tx store.AppendTx) error {
		n := tx.Size()
		var entries []store.NewEntry
		for i, it := range items {
			entries = append(entries, store.NewEntry{Index: n + int64(i), Item: it, LoggedAt: time.Unix(1700000000, 0)})
		}
		first := tlog.StoredHashCount(n)
		hs := make([]tlog.Hash, tlog.StoredHashCount(n+int64(len(items)))-first)
		if err := tx.Add(entries, first, hs); err != nil {
			return err
		}
		return tx.AddCheckpoint(n+int64(len(items)), []byte(fmt.Sprintf("checkpoint %d", n+int64(len(items)))), time.Unix(1700000000, 0))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestStore(t *testing.T) {
	ctx := context.Background()
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s, err := b.open()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			says := []fixture.Say{{Rebuilder: rebA}, {Rebuilder: rebB, Different: true}}
			rel, err := fixture.MakeRelease(ctx, "hello", "1.0", []*fixture.Party{alice}, says)
			if err != nil {
				t.Fatal(err)
			}
			other, err := fixture.MakeRelease(ctx, "other", "2.0", []*fixture.Party{alice}, says[:1])
			if err != nil {
				t.Fatal(err)
			}
			var items []*item.Item
			for _, e := range append(other.All(says[:1]), rel.All(says)...) {
				it, err := item.CheckEnvelope(ctx, e, known)
				if err != nil {
					t.Fatal(err)
				}
				items = append(items, it)
			}
			appendItems(t, s, items[:3])
			appendItems(t, s, items[3:])

			// Lookup: the release's own seven entries, none of the other's.
			es, err := s.Lookup(ctx, rel.Digest, 100, false)
			if err != nil {
				t.Fatal(err)
			}
			var idx []int64
			for _, e := range es {
				idx = append(idx, e.Index)
			}
			if diff := cmp.Diff([]int64{4, 5, 6, 7, 8, 9, 10}, idx); diff != "" {
				t.Errorf("lookup (-want +got):\n%s", diff)
			}
			// Below a tree size, only what it held: rebuild A, whose output
			// is the shipped file, and the review of the source it names
			// (no summary citing the review is logged yet).
			if es, _ := s.Lookup(ctx, rel.Digest, 6, false); len(es) != 2 || es[0].Index != 4 || es[1].Index != 5 {
				t.Errorf("lookup at size 6: %d entries", len(es))
			}
			// Search by name and version.
			for _, q := range []struct{ name, version string }{{"hello", "1.0"}, {"hello", ""}, {"hello-1.0.tar", ""}} {
				rs, err := s.Search(ctx, q.name, q.version, 10)
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, r := range rs {
					found = found || r.Digest == rel.Digest
					// Only the file the summaries are about is shipped;
					// B's differing output is a rebuilt output.
					if r.Shipped != (r.Digest == rel.Digest) {
						t.Errorf("search %q %q: %s has Shipped=%v", q.name, q.version, r.Digest, r.Shipped)
					}
				}
				if !found {
					t.Errorf("search %q %q: %+v, no %s", q.name, q.version, rs, rel.Digest)
				}
				if q.version != "" && len(rs) != 2 {
					t.Errorf("search %q %q: %d results, want the shipped file and rebuilder B's output", q.name, q.version, len(rs))
				}
			}
			if rs, _ := s.Search(ctx, "hello", "9.9", 10); len(rs) != 0 {
				t.Errorf("search for a version never logged: %+v", rs)
			}
			cp, err := s.LatestCheckpoint(ctx)
			if err != nil || cp.Size != 11 || string(cp.Note) != "checkpoint 11" {
				t.Errorf("latest checkpoint: %+v %v", cp, err)
			}
			if _, err := s.CheckpointAt(ctx, 5); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a checkpoint never signed: %v", err)
			}
			// An append that continues at the wrong index is refused whole.
			err = s.Append(ctx, func(tx store.AppendTx) error {
				return tx.Add([]store.NewEntry{{Index: 3, Item: items[0]}}, tlog.StoredHashCount(tx.Size()), nil)
			})
			if err == nil {
				t.Error("an entry at a taken index was appended")
			}

			// Keys: a name once, a key once.
			now := time.Now()
			if err := s.AddKey(ctx, store.KeyRecord{Name: "alice", Role: item.Reviewer, Fingerprint: alice.Verifier.Fingerprint, PEM: alice.PEM, AddedAt: now}); err != nil {
				t.Fatal(err)
			}
			v0, _ := s.KeysVersion(ctx)
			for _, k := range []store.KeyRecord{
				{Name: "alice", Role: item.Reviewer, Fingerprint: rebA.Verifier.Fingerprint, PEM: rebA.PEM},
				{Name: "alias", Role: item.Rebuilder, Fingerprint: alice.Verifier.Fingerprint, PEM: alice.PEM},
			} {
				if err := s.AddKey(ctx, k); !errors.Is(err, store.ErrExists) {
					t.Errorf("add %s: %v", k.Name, err)
				}
			}
			if v1, _ := s.KeysVersion(ctx); v1 != v0 {
				t.Errorf("a refused key moved the version")
			}
			ks, _ := s.Keys(ctx)
			if len(ks) != 1 || ks[0].Role != item.Reviewer {
				t.Errorf("keys: %+v", ks)
			}
			if v, _ := s.InitMeta(ctx, "k", "one"); v != "one" {
				t.Errorf("meta: %q", v)
			}
			if v, _ := s.InitMeta(ctx, "k", "two"); v != "one" {
				t.Errorf("meta was replaced: %q", v)
			}

			// The log's tables refuse every rewrite, even by hand.
			db := b.raw(t)
			defer db.Close()
			for _, q := range []string{
				`UPDATE entries SET leaf = leaf WHERE idx = 0`,
				`DELETE FROM entries WHERE idx = 7`,
				`UPDATE hashes SET hash = hash WHERE id = 0`,
				`DELETE FROM hashes`,
				`DELETE FROM checkpoints`,
				`UPDATE tree SET size = 2`,
			} {
				if _, err := db.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
					t.Errorf("%s: %v", q, err)
				}
			}
			// Reopening applies nothing twice; a newer schema is refused.
			s.Close()
			s2, err := b.open()
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			s2.Close()
			if _, err := db.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)`); err != nil {
				t.Fatal(err)
			}
			if _, err := b.open(); err == nil || !strings.Contains(err.Error(), "newer than this reprove knows") {
				t.Errorf("a newer schema: %v", err)
			}
		})
	}
}

// An append whose inserts conflict (a leaf the log holds, added again as
// if the log had not checked) fails whole, keeps nothing, and the next
// append goes on from the same size.
func TestAppendConflictKeepsNothing(t *testing.T) {
	ctx := context.Background()
	rel, err := fixture.MakeRelease(ctx, "hello", "1.0", []*fixture.Party{alice}, []fixture.Say{{Rebuilder: rebA}})
	if err != nil {
		t.Fatal(err)
	}
	var items []*item.Item
	for _, e := range rel.All([]fixture.Say{{Rebuilder: rebA}}) {
		it, err := item.CheckEnvelope(ctx, e, known)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, it)
	}
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s, err := b.open()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			appendItems(t, s, items[:1])
			err = s.Append(ctx, func(tx store.AppendTx) error {
				n := tx.Size()
				// A new leaf, then the logged one again: the second row of
				// one multi-row INSERT conflicts.
				entries := []store.NewEntry{{Index: n, Item: items[1], LoggedAt: time.Unix(1700000000, 0)}, {Index: n + 1, Item: items[0], LoggedAt: time.Unix(1700000000, 0)}}
				first := tlog.StoredHashCount(n)
				return tx.Add(entries, first, make([]tlog.Hash, tlog.StoredHashCount(n+2)-first))
			})
			if err == nil {
				t.Fatal("a leaf the log holds was added again")
			}
			if got, err := s.FindLeaves(ctx, []tlog.Hash{items[1].LeafHash}); err != nil || len(got) != 0 {
				t.Errorf("the failed append left %v (%v)", got, err)
			}
			appendItems(t, s, items[1:])
			got, err := s.FindLeaves(ctx, []tlog.Hash{items[0].LeafHash, items[1].LeafHash, items[len(items)-1].LeafHash})
			want := map[tlog.Hash]int64{items[0].LeafHash: 0, items[1].LeafHash: 1, items[len(items)-1].LeafHash: int64(len(items) - 1)}
			if diff := cmp.Diff(want, got); err != nil || diff != "" {
				t.Errorf("after the next append (-want +got):\n%s%v", diff, err)
			}
		})
	}
}

// Appends of more rows than one INSERT takes (SQLite's are cut into
// statements of 64 rows, kept prepared) keep every row, and a conflict in a
// later statement keeps none.
func TestAppendManyRows(t *testing.T) {
	ctx := context.Background()
	base, err := fixture.Review(ctx, alice, "many", "1.0", "rows")
	if err != nil {
		t.Fatal(err)
	}
	it0, err := item.CheckEnvelope(ctx, base, known)
	if err != nil {
		t.Fatal(err)
	}
	var items []*item.Item
	for i := range 300 {
		it := *it0
		it.Leaf = fmt.Appendf(append([]byte(nil), it0.Leaf...), " %d", i)
		it.LeafHash = logproof.LeafHash(it.Leaf)
		it.PayloadDigest = digest.FromString(fmt.Sprintf("payload %d", i))
		it.Subjects = []item.Subject{{Name: "x", Digest: digest.FromString(fmt.Sprintf("subject %d", i))}}
		items = append(items, &it)
	}
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s, err := b.open()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			appendItems(t, s, items[:150])
			// The 101st row (in the second statement of 64) is a leaf the
			// log holds.
			err = s.Append(ctx, func(tx store.AppendTx) error {
				n := tx.Size()
				var entries []store.NewEntry
				for i, it := range items[150:250] {
					entries = append(entries, store.NewEntry{Index: n + int64(i), Item: it, LoggedAt: time.Unix(1700000000, 0)})
				}
				entries = append(entries, store.NewEntry{Index: n + 100, Item: items[3], LoggedAt: time.Unix(1700000000, 0)})
				first := tlog.StoredHashCount(n)
				return tx.Add(entries, first, make([]tlog.Hash, tlog.StoredHashCount(n+101)-first))
			})
			if err == nil {
				t.Fatal("a leaf the log holds was added again")
			}
			if got, err := s.FindLeaves(ctx, []tlog.Hash{items[150].LeafHash, items[249].LeafHash}); err != nil || len(got) != 0 {
				t.Errorf("the failed append left %v (%v)", got, err)
			}
			appendItems(t, s, items[150:217])
			appendItems(t, s, items[217:])
			var hashes []tlog.Hash
			want := map[tlog.Hash]int64{}
			for i, it := range items {
				hashes = append(hashes, it.LeafHash)
				want[it.LeafHash] = int64(i)
			}
			got, err := s.FindLeaves(ctx, hashes)
			if diff := cmp.Diff(want, got); err != nil || diff != "" {
				t.Errorf("(-want +got):\n%s%v", diff, err)
			}
			leaves, err := s.Leaves(ctx, 0, int64(len(items)))
			if err != nil {
				t.Fatal(err)
			}
			for i, l := range leaves {
				if !bytes.Equal(l, items[i].Leaf) {
					t.Fatalf("leaf %d: %q, want %q", i, l, items[i].Leaf)
				}
			}
			for _, i := range []int{0, 63, 64, 149, 150, 216, 217, 299} {
				es, err := s.Lookup(ctx, items[i].Subjects[0].Digest, int64(len(items)), false)
				if err != nil || len(es) != 1 || es[0].Index != int64(i) {
					t.Errorf("lookup of entry %d's subject: %v, %v", i, es, err)
				}
			}
		})
	}
}
