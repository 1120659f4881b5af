package store

import (
	"context"
	"strings"
	"testing"
)

// The per-key cap's count starts from the subjects' primary key, whatever
// indexes signed has: walking the key's entries instead costs every append
// a pass over everything the key ever signed.
func TestSignedCountsPlan(t *testing.T) {
	st, err := OpenSQLite(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := st.(*sqlStore)
	// An index by key, as schema 3 had, must not lead the plan either.
	if _, err := s.db.Exec(`CREATE INDEX by_key ON signed (fingerprint, idx)`); err != nil {
		t.Fatal(err)
	}
	rows, err := s.db.Query(`EXPLAIN QUERY PLAN `+signedCountsQuery(3, 1), "sha256:a", "sha256:b", "sha256:c", "sha256:k")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if len(plan) < 2 || !strings.HasPrefix(plan[0], "SEARCH s ") || !strings.Contains(plan[1], "sqlite_autoindex_signed_1 (idx=? AND fingerprint=?)") {
		t.Errorf("plan:\n%s\nwant a search of subjects first, then of signed by its primary key", strings.Join(plan, "\n"))
	}
}
