package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Cosignature is one witness's cosignature of the checkpoint of a tree
// size, as stored: its note signature line and when the witness made it.
type Cosignature struct {
	Size int64
	// Witness names the witness (its note verifier key).
	Witness string
	// Line is the signature line ("— name base64\n").
	Line []byte
	At   time.Time
}

func (s *sqlStore) AddCosignature(ctx context.Context, c Cosignature) error {
	// Keep the newest line of each witness: one asked again about the same
	// tree signs with a later time.
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO cosignatures (size, witness, line, signed_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (size, witness) DO UPDATE SET line = excluded.line, signed_at = excluded.signed_at
		WHERE excluded.signed_at > cosignatures.signed_at`), c.Size, c.Witness, c.Line, c.At.UnixMilli())
	if err != nil {
		return fmt.Errorf("store cosignature: %w", err)
	}
	return nil
}

func (s *sqlStore) Cosignatures(ctx context.Context, size int64) ([]Cosignature, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT witness, line, signed_at FROM cosignatures WHERE size = ? ORDER BY witness`), size)
	if err != nil {
		return nil, fmt.Errorf("read cosignatures: %w", err)
	}
	defer rows.Close()
	var out []Cosignature
	for rows.Next() {
		c := Cosignature{Size: size}
		var at int64
		if err := rows.Scan(&c.Witness, &c.Line, &at); err != nil {
			return nil, fmt.Errorf("read cosignatures: %w", err)
		}
		c.At = time.UnixMilli(at).UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read cosignatures: %w", err)
	}
	return out, nil
}

func (s *sqlStore) LatestCosigned(ctx context.Context, n int, witnesses []string) (int64, error) {
	if len(witnesses) == 0 || len(witnesses) > s.d.maxArgs-1 {
		return 0, fmt.Errorf("read cosigned tree size: %d witnesses", len(witnesses))
	}
	// The primary key's order lets both databases walk the sizes from the
	// top and stop at the first with n of the witnesses (a witness no
	// longer asked does not count).
	args := []any{}
	for _, w := range witnesses {
		args = append(args, w)
	}
	args = append(args, n)
	var size int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT size FROM cosignatures WHERE witness IN (`+placeholders(len(witnesses))+`)
		GROUP BY size HAVING COUNT(*) >= ? ORDER BY size DESC LIMIT 1`), args...).Scan(&size)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("read cosigned tree size: %w", ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("read cosigned tree size: %w", err)
	}
	return size, nil
}
