package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/centretest/fixture"
	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/centre/store"
)

func mustFindings(t *testing.T, p *fixture.Party) []byte {
	t.Helper()
	env, err := fixture.Findings(context.Background(), p, "hello", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func indexes(es []*store.Entry) []int64 {
	out := []int64{}
	for _, e := range es {
		out = append(out, e.Index)
	}
	return out
}

func TestFind(t *testing.T) {
	ctx := context.Background()
	bob := fixture.MustParty("bob")
	keys := append([]item.Key{{Name: "bob", Role: item.Reviewer, Verifier: bob.Verifier}}, known...)
	says := []fixture.Say{{Rebuilder: rebA}, {Rebuilder: rebB, Different: true}}
	rel, err := fixture.MakeRelease(ctx, "hello", "1.0", []*fixture.Party{alice}, says)
	if err != nil {
		t.Fatal(err)
	}
	envs := append(rel.All(says), mustFindings(t, bob))
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s, err := b.open()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for _, k := range []*fixture.Party{alice, bob, rebA, rebB} {
				role := item.Rebuilder
				if k == alice || k == bob {
					role = item.Reviewer
				}
				if err := s.AddKey(ctx, store.KeyRecord{Name: k.Name, Role: role, Fingerprint: k.Verifier.Fingerprint, PEM: k.PEM, AddedAt: time.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			var items []*item.Item
			for _, e := range envs {
				it, err := item.CheckEnvelope(ctx, e, keys)
				if err != nil {
					t.Fatal(err)
				}
				items = append(items, it)
			}
			// 0 review, 1-3 A's rebuild, comparison, summary, 4-6 B's, 7 bob's findings.
			appendItems(t, s, items)

			// The file's lookup brings bob's findings, filed under the source
			// its rebuilds name, though nothing cites them.
			f, err := s.Find(ctx, store.Query{Subject: rel.Digest, Size: 100})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]int64{0, 1, 2, 3, 4, 5, 6, 7}, indexes(f.Entries)); diff != "" {
				t.Errorf("lookup (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]digest.Digest{fixture.Source("hello", "1.0").Archive}, f.Sources); diff != "" {
				t.Errorf("sources (-want +got):\n%s", diff)
			}
			// Below the findings' index, they are not there yet.
			if f, _ := s.Find(ctx, store.Query{Subject: rel.Digest, Size: 7}); len(f.Entries) != 7 {
				t.Errorf("at size 7: %v", indexes(f.Entries))
			}
			// For rebuilder A and alice only: A's chain (and what it cites),
			// not B's dissent nor bob's findings.
			f, err = s.Find(ctx, store.Query{Subject: rel.Digest, Size: 100, Signers: []digest.Digest{rebA.Verifier.Fingerprint, alice.Verifier.Fingerprint}})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]int64{0, 1, 2, 3}, indexes(f.Entries)); diff != "" {
				t.Errorf("lookup for A and alice (-want +got):\n%s", diff)
			}
			// For bob: his findings (filed under the source that rebuild A,
			// which names the file, names).
			f, _ = s.Find(ctx, store.Query{Subject: rel.Digest, Size: 100, Signers: []digest.Digest{rebA.Verifier.Fingerprint, bob.Verifier.Fingerprint}})
			if diff := cmp.Diff([]int64{0, 1, 2, 3, 7}, indexes(f.Entries)); diff != "" {
				t.Errorf("lookup for A and bob (-want +got):\n%s", diff)
			}
			// Bounded: more than Max is an error that says so, never a
			// partial answer.
			_, err = s.Find(ctx, store.Query{Subject: rel.Digest, Size: 100, Max: 5})
			var tm *store.TooManyError
			if !errors.As(err, &tm) || tm.Max != 5 {
				t.Errorf("over the bound: %v", err)
			}

			// Counting by key and subject; the compare report citation.
			err = s.Append(ctx, func(tx store.AppendTx) error {
				n, err := tx.SignedCounts([]digest.Digest{rel.Digest, fixture.Source("hello", "1.0").Archive},
					[]digest.Digest{rebA.Verifier.Fingerprint, bob.Verifier.Fingerprint, alice.Verifier.Fingerprint})
				if err != nil {
					return err
				}
				want := map[store.SubjectKey]int{
					{Subject: rel.Digest, Key: rebA.Verifier.Fingerprint}:                              3,
					{Subject: fixture.Source("hello", "1.0").Archive, Key: alice.Verifier.Fingerprint}: 1,
					{Subject: fixture.Source("hello", "1.0").Archive, Key: bob.Verifier.Fingerprint}:   1,
				}
				if diff := cmp.Diff(want, n); diff != "" {
					t.Errorf("signed counts (-want +got):\n%s", diff)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for d, want := range map[digest.Digest]bool{digest.FromBytes(rel.Reports["rebuilder-b"]): true, rel.Digest: false} {
				if got, err := s.ReportCited(ctx, d); err != nil || got != want {
					t.Errorf("report %s cited: %v %v, want %v", d, got, err, want)
				}
			}

			// A revocation: logged, marks the key, and comes with every
			// lookup of what the key signed.
			at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
			rev, err := item.RevocationItem(logproof.Revocation{Key: rebB.Verifier.Fingerprint, Name: "rebuilder-b", Role: "rebuilder", RevokedAt: at})
			if err != nil {
				t.Fatal(err)
			}
			v0, _ := s.KeysVersion(ctx)
			appendItems(t, s, []*item.Item{rev})
			if v1, _ := s.KeysVersion(ctx); v1 == v0 {
				t.Error("a revocation left the keys' version")
			}
			ks, _ := s.Keys(ctx)
			for _, k := range ks {
				if k.Revoked != (k.Name == "rebuilder-b") || k.Revoked && (k.RevokedIndex != 8 || !k.RevokedAt.Equal(at)) {
					t.Errorf("key %s: %+v", k.Name, k)
				}
			}
			f, _ = s.Find(ctx, store.Query{Subject: rel.Digest, Size: 100})
			if diff := cmp.Diff([]int64{8}, indexes(f.Revocations)); diff != "" {
				t.Errorf("revocations (-want +got):\n%s", diff)
			}
			f, _ = s.Find(ctx, store.Query{Subject: rel.Digest, Size: 100, Signers: []digest.Digest{rebA.Verifier.Fingerprint}})
			if len(f.Revocations) != 0 {
				t.Errorf("a lookup of A's entries carries B's revocation")
			}
			err = s.Append(ctx, func(tx store.AppendTx) error {
				r, err := tx.Revoked([]digest.Digest{rebA.Verifier.Fingerprint, rebB.Verifier.Fingerprint})
				if diff := cmp.Diff(map[digest.Digest]bool{rebB.Verifier.Fingerprint: true}, r); err != nil || diff != "" {
					t.Errorf("revoked (-want +got):\n%s%v", diff, err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// A key is revoked once.
			again, _ := item.RevocationItem(logproof.Revocation{Key: rebB.Verifier.Fingerprint, Name: "rebuilder-b", Role: "rebuilder", RevokedAt: at.Add(time.Hour)})
			err = s.Append(ctx, func(tx store.AppendTx) error {
				return tx.Add([]store.NewEntry{{Index: tx.Size(), Item: again, LoggedAt: at}}, 0, nil)
			})
			if err == nil {
				t.Error("a key was revoked twice")
			}
		})
	}
}

// A log written before the centre indexed rebuilds' sources and
// comparisons' reports gets both at its next start.
func TestMigrationIndexesSources(t *testing.T) {
	ctx := context.Background()
	says := []fixture.Say{{Rebuilder: rebA}}
	rel, err := fixture.MakeRelease(ctx, "hello", "1.0", []*fixture.Party{alice}, says)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s, err := b.open()
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []store.KeyRecord{
				{Name: "alice", Role: item.Reviewer, Fingerprint: alice.Verifier.Fingerprint, PEM: alice.PEM},
				{Name: "rebuilder-a", Role: item.Rebuilder, Fingerprint: rebA.Verifier.Fingerprint, PEM: rebA.PEM},
			} {
				if err := s.AddKey(ctx, k); err != nil {
					t.Fatal(err)
				}
			}
			var items []*item.Item
			for _, e := range rel.All(says) {
				it, err := item.CheckEnvelope(ctx, e, known)
				if err != nil {
					t.Fatal(err)
				}
				items = append(items, it)
			}
			appendItems(t, s, items)
			s.Close()
			// Back to schema 1's tables, as an older centre left them.
			db := b.raw(t)
			defer db.Close()
			for _, q := range []string{
				`DROP TABLE sources`, `DROP TABLE signed`, `ALTER TABLE keys DROP COLUMN revoked_idx`, `ALTER TABLE keys DROP COLUMN revoked_at`,
				`DELETE FROM cites WHERE payload_digest = '` + digest.FromBytes(rel.Reports["rebuilder-a"]).String() + `'`,
				`DELETE FROM schema_migrations WHERE name = 'signers_sources_revocations'`,
			} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			s, err = b.open()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			f, err := s.Find(ctx, store.Query{Subject: rel.Digest, Size: 100})
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Sources) != 1 || f.Sources[0] != fixture.Source("hello", "1.0").Archive {
				t.Errorf("sources after the migration: %v", f.Sources)
			}
			if ok, err := s.ReportCited(ctx, digest.FromBytes(rel.Reports["rebuilder-a"])); !ok || err != nil {
				t.Errorf("the comparison's report citation: %v %v", ok, err)
			}
			// Who signed what, from the names the entries recorded.
			f, err = s.Find(ctx, store.Query{Subject: rel.Digest, Size: 100, Signers: []digest.Digest{rebA.Verifier.Fingerprint}})
			if err != nil || len(f.Entries) != 4 {
				t.Errorf("rebuilder A's entries after the migration: %d %v", len(f.Entries), err)
			}
		})
	}
}

// signedCounts reads, in an append transaction, what SignedCounts says of
// subjects and keys.
func signedCounts(t *testing.T, s store.Store, subjects, keys []digest.Digest) map[store.SubjectKey]int {
	t.Helper()
	var got map[store.SubjectKey]int
	err := s.Append(context.Background(), func(tx store.AppendTx) error {
		var err error
		got, err = tx.SignedCounts(subjects, keys)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// The counts by subject and key add up across appends, and are the same
// after migration 0004 drops the index of signed by key from a log written
// with it.
func TestSignedCountsAcrossAppends(t *testing.T) {
	ctx := context.Background()
	says := []fixture.Say{{Rebuilder: rebA}}
	first, err := fixture.MakeRelease(ctx, "hello", "1.0", []*fixture.Party{alice}, says)
	if err != nil {
		t.Fatal(err)
	}
	second, err := fixture.MakeRelease(ctx, "hello", "1.1", []*fixture.Party{alice}, says)
	if err != nil {
		t.Fatal(err)
	}
	src0, src1 := fixture.Source("hello", "1.0").Archive, fixture.Source("hello", "1.1").Archive
	subjects := []digest.Digest{first.Digest, second.Digest, src0, src1}
	a, r := alice.Verifier.Fingerprint, rebA.Verifier.Fingerprint
	keys := []digest.Digest{a, r}
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s, err := b.open()
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []store.KeyRecord{
				{Name: "alice", Role: item.Reviewer, Fingerprint: a, PEM: alice.PEM},
				{Name: "rebuilder-a", Role: item.Rebuilder, Fingerprint: r, PEM: rebA.PEM},
			} {
				if err := s.AddKey(ctx, k); err != nil {
					t.Fatal(err)
				}
			}
			var items []*item.Item
			for _, e := range append(first.All(says), second.All(says)...) {
				it, err := item.CheckEnvelope(ctx, e, known)
				if err != nil {
					t.Fatal(err)
				}
				items = append(items, it)
			}
			// Three appends: 1.0's review and rebuild; its comparison and
			// summary (rebuilder A's entries about the 1.0 file go from 1 to
			// 3); 1.1's entries.
			appendItems(t, s, items[:2])
			if diff := cmp.Diff(map[store.SubjectKey]int{{Subject: src0, Key: a}: 1, {Subject: first.Digest, Key: r}: 1},
				signedCounts(t, s, subjects, keys)); diff != "" {
				t.Errorf("after the first append (-want +got):\n%s", diff)
			}
			appendItems(t, s, items[2:4])
			appendItems(t, s, items[4:])
			want := map[store.SubjectKey]int{
				{Subject: src0, Key: a}: 1, {Subject: first.Digest, Key: r}: 3,
				{Subject: src1, Key: a}: 1, {Subject: second.Digest, Key: r}: 3,
			}
			if diff := cmp.Diff(want, signedCounts(t, s, subjects, keys)); diff != "" {
				t.Errorf("after three appends (-want +got):\n%s", diff)
			}
			s.Close()

			// Back to schema 3, as an older centre left it.
			db := b.raw(t)
			defer db.Close()
			for _, q := range []string{
				`CREATE INDEX signed_key ON signed (fingerprint, idx)`,
				`DELETE FROM schema_migrations WHERE name = 'drop_signed_key'`,
			} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			s, err = b.open()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if diff := cmp.Diff(want, signedCounts(t, s, subjects, keys)); diff != "" {
				t.Errorf("after the migration (-want +got):\n%s", diff)
			}
			// The index is gone: its name is free again.
			var n int
			if err := db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = 'drop_signed_key'`).Scan(&n); err != nil || n != 1 {
				t.Errorf("migration recorded: %d %v", n, err)
			}
			if _, err := db.ExecContext(ctx, `CREATE INDEX signed_key ON signed (fingerprint, idx)`); err != nil {
				t.Errorf("signed_key after the migration: %v", err)
			}
		})
	}
}
