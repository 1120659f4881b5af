package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprove/reprove/centre/item"
)

// dialect is what differs between the databases.
type dialect struct {
	name string
	// lockTree is run first in an append transaction; it returns the size.
	lockTree string
	// lockMigrations is run first in the migration transaction (may be "").
	lockMigrations string
	// rebind turns the queries' ? placeholders into the database's own.
	rebind func(string) string
	// maxArgs bounds the arguments of one statement.
	maxArgs int
	// reuse keeps an append's INSERT statements prepared, at most
	// insertChunk rows each, for the next appends (SQLite's driver
	// prepares every statement anew, and parsing a multi-row INSERT was a
	// tenth of what an append cost the one writer; pgx keeps its own).
	reuse bool
}

// insertChunk is the rows of one reused INSERT: an append of n rows runs
// the statement of insertChunk rows n/insertChunk times and the one of the
// rest once, so a table has at most insertChunk statements kept.
const insertChunk = 64

// maxPrepared bounds the statements a store keeps prepared.
const maxPrepared = 1024

// sqlStore implements Store on database/sql.
type sqlStore struct {
	db *sql.DB
	d  dialect
	// file is the SQLite database file as opened (nil for PostgreSQL).
	file *fileIdentity
	// stmts are the statements kept prepared (dialect.reuse), by query.
	stmts   sync.Map
	nstmts  atomic.Int32
	closing sync.Once
}

func (s *sqlStore) Dialect() string { return s.d.name }

func (s *sqlStore) Close() error {
	s.closing.Do(func() {
		s.stmts.Range(func(_, st any) bool {
			st.(*sql.Stmt).Close()
			return true
		})
	})
	return s.db.Close()
}

// prepared is query's kept statement, prepared at its first use; nil when
// the store keeps maxPrepared already or preparing failed (the caller then
// runs the query as it is, and meets the error there).
func (s *sqlStore) prepared(ctx context.Context, query string) *sql.Stmt {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sql.Stmt)
	}
	if s.nstmts.Load() >= maxPrepared {
		return nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	if old, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return old.(*sql.Stmt)
	}
	s.nstmts.Add(1)
	return st
}

func (s *sqlStore) q(query string) string { return s.d.rebind(query) }

// dollarRebind numbers placeholders for PostgreSQL ($1, $2, …). The queries
// here hold no ? inside string literals.
func dollarRebind(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// placeholders returns "?, ?, …" for n arguments.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// --- appending ---

func (s *sqlStore) Append(ctx context.Context, fn func(tx AppendTx) error) error {
	// Before each append: a SQLite file removed or replaced while open
	// would take writes nobody will read (a restart would begin a new log).
	if err := s.file.check(); err != nil {
		return fmt.Errorf("append: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("append: begin: %w", err)
	}
	defer tx.Rollback()
	var size int64
	if err := tx.QueryRowContext(ctx, s.d.lockTree).Scan(&size); err != nil {
		return fmt.Errorf("append: lock the log: %w", err)
	}
	at := &appendTx{ctx: ctx, s: s, tx: tx, size: size, start: size}
	if err := fn(at); err != nil {
		return err
	}
	if at.size != at.start {
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE tree SET size = ? WHERE id = 1`), at.size); err != nil {
			return fmt.Errorf("append: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("append: commit: %w", err)
	}
	return nil
}

type appendTx struct {
	ctx         context.Context
	s           *sqlStore
	tx          *sql.Tx
	size, start int64
}

func (t *appendTx) Size() int64 { return t.size }

func (t *appendTx) ReadHashes(ids []int64) ([]tlog.Hash, error) {
	return t.s.readHashes(t.ctx, t.tx, ids)
}

func (t *appendTx) FindLeaves(hashes []tlog.Hash) (map[tlog.Hash]int64, error) {
	return t.s.findLeaves(t.ctx, t.tx, hashes)
}

// insert runs a multi-row INSERT of rows (each with the same number of
// values) in chunks the database accepts.
func (t *appendTx) insert(prefix string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	width := len(rows[0])
	per := max(1, t.s.d.maxArgs/width)
	if t.s.d.reuse {
		per = min(per, insertChunk)
	}
	one := "(" + placeholders(width) + ")"
	for len(rows) > 0 {
		n := min(per, len(rows))
		var b strings.Builder
		b.WriteString(prefix)
		args := make([]any, 0, n*width)
		for i, r := range rows[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(one)
			args = append(args, r...)
		}
		if err := t.exec(b.String(), args); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// exec runs query in the append's transaction, through its kept statement
// when the dialect reuses them.
func (t *appendTx) exec(query string, args []any) error {
	query = t.s.q(query)
	if t.s.d.reuse {
		if st := t.s.prepared(t.ctx, query); st != nil {
			_, err := t.tx.StmtContext(t.ctx, st).ExecContext(t.ctx, args...)
			return err
		}
	}
	_, err := t.tx.ExecContext(t.ctx, query, args...)
	return err
}

func (t *appendTx) Add(entries []NewEntry, first int64, hashes []tlog.Hash) error {
	fail := func(err error) error { return fmt.Errorf("append entries: %w", err) }
	if first != tlog.StoredHashCount(t.size) {
		return fail(fmt.Errorf("stored hashes start at %d, the log has %d", first, tlog.StoredHashCount(t.size)))
	}
	var ents, subs, cites, names, reports, signed, sources, revocations [][]any
	for i, e := range entries {
		if e.Index != t.size+int64(i) {
			return fail(fmt.Errorf("entry %d would be leaf %d of a log of %d", i, e.Index, t.size))
		}
		it := e.Item
		kind, _ := it.Kind.MarshalText()
		ents = append(ents, []any{e.Index, it.LeafHash[:], it.Leaf, string(kind), it.PayloadDigest.String(),
			it.PredicateType, strings.Join(it.Signers, "\n"), e.LoggedAt.UnixMilli()})
		seen := map[digest.Digest]bool{}
		for _, sub := range it.Subjects {
			if !seen[sub.Digest] {
				seen[sub.Digest] = true
				subs = append(subs, []any{sub.Digest.String(), e.Index, sub.Name})
			}
		}
		for _, c := range it.Cites {
			cites = append(cites, []any{e.Index, c.String()})
		}
		for _, k := range uniq(it.SignerKeys) {
			signed = append(signed, []any{e.Index, k.String()})
		}
		for _, d := range uniq(it.Sources) {
			sources = append(sources, []any{e.Index, d.String()})
		}
		if it.Kind == item.Revocation {
			if it.Revocation == nil {
				return fail(fmt.Errorf("entry %d: a revocation item without its revocation", e.Index))
			}
			revocations = append(revocations, []any{e.Index, it.Revocation.RevokedAt.UnixMilli(), it.Revocation.Key.String()})
		}
		seenName := map[item.Name]bool{}
		for _, n := range it.Names {
			if !seenName[n] {
				seenName[n] = true
				names = append(names, []any{n.Name, n.Version, e.Index})
			}
		}
		if it.Kind == item.CompareReport {
			reports = append(reports, []any{it.PayloadDigest.String(), e.Report})
		}
	}
	var hs [][]any
	for i, h := range hashes {
		hs = append(hs, []any{first + int64(i), h[:]})
	}
	if want := tlog.StoredHashCount(t.size + int64(len(entries))); first+int64(len(hashes)) != want {
		return fail(fmt.Errorf("%d stored hashes for %d entries, want %d", len(hashes), len(entries), want-first))
	}
	for _, ins := range []struct {
		prefix string
		rows   [][]any
	}{
		{`INSERT INTO entries (idx, leaf_hash, leaf, kind, payload_digest, predicate_type, signers, logged_at) VALUES `, ents},
		{`INSERT INTO hashes (id, hash) VALUES `, hs},
		{`INSERT INTO subjects (digest, idx, name) VALUES `, subs},
		{`INSERT INTO cites (idx, payload_digest) VALUES `, cites},
		{`INSERT INTO names (name, version, idx) VALUES `, names},
		{`INSERT INTO signed (idx, fingerprint) VALUES `, signed},
		{`INSERT INTO sources (idx, digest) VALUES `, sources},
	} {
		if err := t.insert(ins.prefix, ins.rows); err != nil {
			return fail(err)
		}
	}
	for _, r := range reports {
		if _, err := t.tx.ExecContext(t.ctx, t.s.q(`INSERT INTO reports (digest, body) VALUES (?, ?) ON CONFLICT (digest) DO NOTHING`), r...); err != nil {
			return fail(err)
		}
	}
	for _, r := range revocations {
		res, err := t.tx.ExecContext(t.ctx, t.s.q(`UPDATE keys SET revoked_idx = ?, revoked_at = ? WHERE fingerprint = ? AND revoked_idx IS NULL`), r...)
		if err != nil {
			return fail(err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fail(fmt.Errorf("revoke key %s: no such key is registered and unrevoked: %w", r[2], ErrNotFound))
		}
	}
	t.size += int64(len(entries))
	return nil
}

// uniq returns ds without repeats, in order.
func uniq(ds []digest.Digest) []digest.Digest {
	var out []digest.Digest
	seen := map[digest.Digest]bool{}
	for _, d := range ds {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

func (t *appendTx) Revoked(keys []digest.Digest) (map[digest.Digest]bool, error) {
	out := map[digest.Digest]bool{}
	keys = uniq(keys)
	if len(keys) == 0 {
		return out, nil
	}
	vals, err := t.s.column(t.ctx, t.tx, `SELECT fingerprint FROM keys WHERE revoked_idx IS NOT NULL AND fingerprint IN (`+placeholders(len(keys))+`)`, strs(keys)...)
	if err != nil {
		return nil, fmt.Errorf("read revoked keys: %w", err)
	}
	for _, v := range vals {
		out[digest.Digest(v.(string))] = true
	}
	return out, nil
}

func (t *appendTx) SignedCounts(subjects, keys []digest.Digest) (map[SubjectKey]int, error) {
	out := map[SubjectKey]int{}
	subjects, keys = uniq(subjects), uniq(keys)
	if len(subjects) == 0 || len(keys) == 0 {
		return out, nil
	}
	for start := 0; start < len(subjects); start += t.s.d.maxArgs / 2 {
		chunk := subjects[start:min(len(subjects), start+t.s.d.maxArgs/2)]
		if len(chunk)+len(keys) > t.s.d.maxArgs {
			return nil, fmt.Errorf("count entries by key: %d keys", len(keys))
		}
		rows, err := t.tx.QueryContext(t.ctx, t.s.q(signedCountsQuery(len(chunk), len(keys))), append(strs(chunk), strs(keys)...)...)
		if err != nil {
			return nil, fmt.Errorf("count entries by key: %w", err)
		}
		for rows.Next() {
			var d, k string
			var n int
			if err := rows.Scan(&d, &k, &n); err != nil {
				rows.Close()
				return nil, fmt.Errorf("count entries by key: %w", err)
			}
			out[SubjectKey{Subject: digest.Digest(d), Key: digest.Digest(k)}] = n
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("count entries by key: %w", err)
		}
	}
	return out, nil
}

// signedCountsQuery counts, for subjects and keys (as many as given), the
// entries about each subject that each key signed. It goes from each
// subject's entries to whether the key signed them, never from the key's
// entries (which grow with all it ever signed): CROSS JOIN holds SQLite to
// that order, and signed has no index that leads with the key (migration
// 0004). The subjects' pages it reads are those the append's own inserts
// go on to write.
func signedCountsQuery(subjects, keys int) string {
	return `SELECT s.digest, g.fingerprint, count(*) FROM subjects s CROSS JOIN signed g
		WHERE g.idx = s.idx AND s.digest IN (` + placeholders(subjects) + `) AND g.fingerprint IN (` + placeholders(keys) + `)
		GROUP BY s.digest, g.fingerprint`
}

// strs is ds as query arguments.
func strs(ds []digest.Digest) []any {
	out := make([]any, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	return out
}

func (t *appendTx) AddCheckpoint(size int64, note []byte, at time.Time) error {
	if size != t.size {
		return fmt.Errorf("append checkpoint: size %d, the log has %d entries", size, t.size)
	}
	if _, err := t.tx.ExecContext(t.ctx, t.s.q(`INSERT INTO checkpoints (size, note, made_at) VALUES (?, ?, ?)`), size, note, at.UnixMilli()); err != nil {
		return fmt.Errorf("append checkpoint: %w", err)
	}
	return nil
}

// --- reading the log ---

func (s *sqlStore) ReadHashes(ctx context.Context, ids []int64) ([]tlog.Hash, error) {
	return s.readHashes(ctx, s.db, ids)
}

func (s *sqlStore) readHashes(ctx context.Context, q queryer, ids []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	got := make(map[int64]tlog.Hash, len(ids))
	for start := 0; start < len(ids); start += s.d.maxArgs {
		chunk := ids[start:min(len(ids), start+s.d.maxArgs)]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := q.QueryContext(ctx, s.q(`SELECT id, hash FROM hashes WHERE id IN (`+placeholders(len(chunk))+`)`), args...)
		if err != nil {
			return nil, fmt.Errorf("read hashes: %w", err)
		}
		for rows.Next() {
			var id int64
			var h []byte
			if err := rows.Scan(&id, &h); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read hashes: %w", err)
			}
			if len(h) != tlog.HashSize {
				rows.Close()
				return nil, fmt.Errorf("read hashes: stored hash %d has %d bytes", id, len(h))
			}
			got[id] = tlog.Hash(h)
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("read hashes: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read hashes: %w", err)
		}
	}
	for i, id := range ids {
		h, ok := got[id]
		if !ok {
			return nil, fmt.Errorf("read hashes: stored hash %d: %w", id, ErrNotFound)
		}
		out[i] = h
	}
	return out, nil
}

func (s *sqlStore) FindLeaves(ctx context.Context, hashes []tlog.Hash) (map[tlog.Hash]int64, error) {
	return s.findLeaves(ctx, s.db, hashes)
}

func (s *sqlStore) findLeaves(ctx context.Context, q queryer, hashes []tlog.Hash) (map[tlog.Hash]int64, error) {
	out := map[tlog.Hash]int64{}
	for start := 0; start < len(hashes); start += s.d.maxArgs {
		chunk := hashes[start:min(len(hashes), start+s.d.maxArgs)]
		args := make([]any, len(chunk))
		for i := range chunk {
			args[i] = chunk[i][:]
		}
		rows, err := q.QueryContext(ctx, s.q(`SELECT leaf_hash, idx FROM entries WHERE leaf_hash IN (`+placeholders(len(chunk))+`)`), args...)
		if err != nil {
			return nil, fmt.Errorf("find leaves: %w", err)
		}
		for rows.Next() {
			var h []byte
			var idx int64
			if err := rows.Scan(&h, &idx); err != nil {
				rows.Close()
				return nil, fmt.Errorf("find leaves: %w", err)
			}
			out[tlog.Hash(h)] = idx
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("find leaves: %w", err)
		}
	}
	return out, nil
}

func (s *sqlStore) LatestCheckpoint(ctx context.Context) (Checkpoint, error) {
	return s.checkpoint(ctx, `SELECT size, note, made_at FROM checkpoints ORDER BY size DESC LIMIT 1`)
}

func (s *sqlStore) CheckpointAt(ctx context.Context, size int64) (Checkpoint, error) {
	return s.checkpoint(ctx, `SELECT size, note, made_at FROM checkpoints WHERE size = ?`, size)
}

func (s *sqlStore) checkpoint(ctx context.Context, query string, args ...any) (Checkpoint, error) {
	var c Checkpoint
	var at int64
	err := s.db.QueryRowContext(ctx, s.q(query), args...).Scan(&c.Size, &c.Note, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("read checkpoint: %w", ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("read checkpoint: %w", err)
	}
	c.At = time.UnixMilli(at).UTC()
	return c, nil
}

func (s *sqlStore) Leaves(ctx context.Context, start, end int64) ([][]byte, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT idx, leaf FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx`), start, end)
	if err != nil {
		return nil, fmt.Errorf("read leaves: %w", err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var idx int64
		var leaf []byte
		if err := rows.Scan(&idx, &leaf); err != nil {
			return nil, fmt.Errorf("read leaves: %w", err)
		}
		if idx != start+int64(len(out)) {
			return nil, fmt.Errorf("read leaves: leaf %d is missing", start+int64(len(out)))
		}
		out = append(out, leaf)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read leaves: %w", err)
	}
	if int64(len(out)) != end-start {
		return nil, fmt.Errorf("read leaves [%d, %d): %w", start, end, ErrNotFound)
	}
	return out, nil
}

const entryColumns = `idx, leaf, kind, payload_digest, predicate_type, signers, logged_at`

func scanEntries(rows *sql.Rows) ([]*Entry, error) {
	defer rows.Close()
	var out []*Entry
	for rows.Next() {
		var e Entry
		var kind, pd, signers string
		var at int64
		if err := rows.Scan(&e.Index, &e.Leaf, &kind, &pd, &e.PredicateType, &signers, &at); err != nil {
			return nil, err
		}
		if err := e.Kind.UnmarshalText([]byte(kind)); err != nil {
			return nil, fmt.Errorf("entry %d: %w", e.Index, err)
		}
		e.PayloadDigest = digest.Digest(pd)
		if signers != "" {
			e.Signers = strings.Split(signers, "\n")
		}
		e.LoggedAt = time.UnixMilli(at).UTC()
		out = append(out, &e)
	}
	return out, rows.Err()
}

func (s *sqlStore) Entry(ctx context.Context, index int64) (*Entry, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+entryColumns+` FROM entries WHERE idx = ?`), index)
	if err != nil {
		return nil, fmt.Errorf("read entry %d: %w", index, err)
	}
	es, err := scanEntries(rows)
	if err != nil {
		return nil, fmt.Errorf("read entry %d: %w", index, err)
	}
	if len(es) == 0 {
		return nil, fmt.Errorf("read entry %d: %w", index, ErrNotFound)
	}
	return es[0], nil
}

func (s *sqlStore) Recent(ctx context.Context, n int) ([]*Entry, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+entryColumns+` FROM entries ORDER BY idx DESC LIMIT ?`), n)
	if err != nil {
		return nil, fmt.Errorf("read recent entries: %w", err)
	}
	es, err := scanEntries(rows)
	if err != nil {
		return nil, fmt.Errorf("read recent entries: %w", err)
	}
	return es, nil
}

func (s *sqlStore) Lookup(ctx context.Context, d digest.Digest, size int64, withReports bool) ([]*Entry, error) {
	f, err := s.Find(ctx, Query{Subject: d, Size: size, WithReports: withReports})
	if err != nil {
		return nil, err
	}
	return f.Entries, nil
}

func (s *sqlStore) Find(ctx context.Context, q Query) (*Found, error) {
	d := q.Subject
	fail := func(err error) (*Found, error) { return nil, fmt.Errorf("look up %s: %w", d, err) }
	limit := q.Max
	if limit <= 0 {
		limit = MaxFound
	}
	if len(q.Signers) > s.d.maxArgs/4 {
		return fail(fmt.Errorf("%d signers", len(q.Signers)))
	}
	tooMany := func(n int) (*Found, error) { return nil, &TooManyError{Subject: d, Found: n, Max: limit} }
	// signedBy restricts a query on table s to the signers asked for.
	signedBy := func(query string, args []any) (string, []any) {
		if len(q.Signers) == 0 {
			return query, args
		}
		return query + ` AND EXISTS (SELECT 1 FROM signed g WHERE g.idx = s.idx AND g.fingerprint IN (` + placeholders(len(q.Signers)) + `))`,
			append(args, strs(q.Signers)...)
	}
	// Step by step, each a lookup in a primary key or index with the values
	// of the step before: the entries whose subject is d; what they cite;
	// the entries with those payload digests; the sources the rebuilds
	// among them name; the reviews filed under those; then the entries
	// themselves, and the revocations of the keys that signed them. One
	// query joining them lets PostgreSQL, whose statistics lag behind a
	// growing log, choose to scan whole tables.
	query, args := signedBy(`SELECT s.idx FROM subjects s WHERE s.digest = ? AND s.idx < ?`, []any{d.String(), q.Size})
	idx, err := s.column(ctx, s.db, query+` LIMIT `+strconv.Itoa(limit+1), args...)
	if err != nil {
		return fail(err)
	}
	if len(idx) == 0 {
		return &Found{}, nil
	}
	if len(idx) > limit {
		return tooMany(len(idx))
	}
	seen := map[int64]bool{}
	for _, i := range idx {
		seen[i.(int64)] = true
	}
	add := func(more []any) bool {
		for _, i := range more {
			if !seen[i.(int64)] {
				seen[i.(int64)] = true
				idx = append(idx, i)
			}
		}
		return len(idx) <= limit
	}
	cited, err := s.column(ctx, s.db, `SELECT DISTINCT payload_digest FROM cites WHERE idx IN (`+placeholders(len(idx))+`)`, idx...)
	if err != nil {
		return fail(err)
	}
	if len(cited) > limit {
		return tooMany(len(cited))
	}
	if len(cited) > 0 {
		more, err := s.column(ctx, s.db, `SELECT idx FROM entries WHERE payload_digest IN (`+placeholders(len(cited))+`) AND idx < ? LIMIT `+strconv.Itoa(limit+1),
			append(cited, q.Size)...)
		if err != nil {
			return fail(err)
		}
		if !add(more) {
			return tooMany(len(idx))
		}
	}
	f := &Found{}
	srcs, err := s.column(ctx, s.db, `SELECT DISTINCT digest FROM sources WHERE idx IN (`+placeholders(len(idx))+`) ORDER BY digest`, idx...)
	if err != nil {
		return fail(err)
	}
	if len(srcs) > limit {
		return tooMany(len(srcs))
	}
	if len(srcs) > 0 {
		for _, v := range srcs {
			f.Sources = append(f.Sources, digest.Digest(v.(string)))
		}
		query, args := signedBy(`SELECT s.idx FROM subjects s JOIN entries e ON e.idx = s.idx
			WHERE s.digest IN (`+placeholders(len(srcs))+`) AND s.idx < ? AND e.kind = ?`, append(srcs, q.Size, string(mustText(item.Review))))
		more, err := s.column(ctx, s.db, query+` LIMIT `+strconv.Itoa(limit+1), args...)
		if err != nil {
			return fail(err)
		}
		if !add(more) {
			return tooMany(len(idx))
		}
	}
	query = `SELECT ` + entryColumns + ` FROM entries WHERE idx IN (` + placeholders(len(idx)) + `)`
	args = idx
	if !q.WithReports {
		query += ` AND kind <> ?`
		args = append(append([]any(nil), idx...), string(mustText(item.CompareReport)))
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY idx`), args...)
	if err != nil {
		return fail(err)
	}
	if f.Entries, err = scanEntries(rows); err != nil {
		return fail(err)
	}
	revoked, err := s.column(ctx, s.db, `SELECT DISTINCT k.revoked_idx FROM signed g JOIN keys k ON k.fingerprint = g.fingerprint
		WHERE g.idx IN (`+placeholders(len(idx))+`) AND k.revoked_idx IS NOT NULL AND k.revoked_idx < ?`, append(idx, q.Size)...)
	if err != nil {
		return fail(err)
	}
	if len(revoked) > 0 {
		rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+entryColumns+` FROM entries WHERE idx IN (`+placeholders(len(revoked))+`) ORDER BY idx`), revoked...)
		if err != nil {
			return fail(err)
		}
		if f.Revocations, err = scanEntries(rows); err != nil {
			return fail(err)
		}
	}
	return f, nil
}

func (s *sqlStore) ReportCited(ctx context.Context, d digest.Digest) (bool, error) {
	vals, err := s.column(ctx, s.db, `SELECT c.idx FROM cites c JOIN entries e ON e.idx = c.idx WHERE c.payload_digest = ? AND e.kind = ? LIMIT 1`,
		d.String(), string(mustText(item.Comparison)))
	if err != nil {
		return false, fmt.Errorf("look up comparisons citing %s: %w", d, err)
	}
	return len(vals) > 0, nil
}

// column runs a query of one column and returns its values (int64 or
// string), at most maxArgs/2 of them.
func (s *sqlStore) column(ctx context.Context, q queryer, query string, args ...any) ([]any, error) {
	rows, err := q.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []any
	for rows.Next() {
		var v any
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		if b, ok := v.([]byte); ok {
			v = string(b)
		}
		out = append(out, v)
		if len(out) > s.d.maxArgs/2 {
			return nil, fmt.Errorf("more than %d rows", s.d.maxArgs/2)
		}
	}
	return out, rows.Err()
}

func mustText(k item.Kind) []byte {
	b, err := k.MarshalText()
	if err != nil {
		panic(err)
	}
	return b
}

func (s *sqlStore) Search(ctx context.Context, name, version string, limit int) ([]Release, error) {
	cond := `n.name = ?`
	args := []any{name}
	if version != "" {
		cond += ` AND n.version = ?`
		args = append(args, version)
	}
	rebuild, summary := string(mustText(item.Rebuild)), string(mustText(item.Summary))
	var branches []string
	var all []any
	// The outputs of rebuilds of recipes so named.
	branches = append(branches, `SELECT s.digest AS digest, n.name AS name, n.version AS version, s.idx AS idx, 'rebuilt' AS role
		FROM names n JOIN entries r ON r.idx = n.idx JOIN subjects s ON s.idx = n.idx
		WHERE `+cond+` AND r.kind = ?`)
	all = append(append(all, args...), rebuild)
	// The shipped files of summaries citing such a rebuild.
	branches = append(branches, `SELECT s.digest, n.name, n.version, s.idx, 'shipped'
		FROM names n JOIN entries r ON r.idx = n.idx
		JOIN cites c ON c.payload_digest = r.payload_digest
		JOIN entries e ON e.idx = c.idx
		JOIN subjects s ON s.idx = c.idx
		WHERE `+cond+` AND r.kind = ? AND e.kind = ?`)
	all = append(append(all, args...), rebuild, summary)
	if version == "" {
		// The subjects of summaries that name them so (a summary names no
		// version of its own).
		branches = append(branches, `SELECT s.digest, n.name, n.version, s.idx, 'shipped'
			FROM names n JOIN entries e ON e.idx = n.idx JOIN subjects s ON s.idx = n.idx
			WHERE `+cond+` AND e.kind = ?`)
		all = append(append(all, args...), summary)
	}
	// A digest some summary is about is a shipped file ('shipped' sorts
	// after 'rebuilt', so max says so); one only a rebuild produced is a
	// rebuilt output.
	query := `SELECT digest, name, max(version), max(idx) AS newest, max(role) FROM (` + strings.Join(branches, " UNION ALL ") +
		`) AS found GROUP BY digest, name ORDER BY newest DESC LIMIT ?`
	all = append(all, limit)
	rows, err := s.db.QueryContext(ctx, s.q(query), all...)
	if err != nil {
		return nil, fmt.Errorf("search %q: %w", name, err)
	}
	defer rows.Close()
	var out []Release
	for rows.Next() {
		var r Release
		var d string
		var newest int64
		var role string
		if err := rows.Scan(&d, &r.Name, &r.Version, &newest, &role); err != nil {
			return nil, fmt.Errorf("search %q: %w", name, err)
		}
		r.Digest = digest.Digest(d)
		r.Shipped = role == "shipped"
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *sqlStore) CompareReport(ctx context.Context, d digest.Digest) ([]byte, error) {
	var b []byte
	err := s.db.QueryRowContext(ctx, s.q(`SELECT body FROM reports WHERE digest = ?`), d.String()).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read compare report %s: %w", d, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read compare report %s: %w", d, err)
	}
	return b, nil
}

// --- keys and settings ---

func (s *sqlStore) AddKey(ctx context.Context, k KeyRecord) error {
	role, err := k.Role.MarshalText()
	if err != nil {
		return fmt.Errorf("add key %s: %w", k.Name, err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add key %s: %w", k.Name, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT count(*) FROM keys WHERE name = ? OR fingerprint = ?`), k.Name, k.Fingerprint.String()).Scan(&n); err != nil {
		return fmt.Errorf("add key %s: %w", k.Name, err)
	}
	if n > 0 {
		var other string
		_ = tx.QueryRowContext(ctx, s.q(`SELECT name FROM keys WHERE name = ? OR fingerprint = ?`), k.Name, k.Fingerprint.String()).Scan(&other)
		if other == k.Name {
			return fmt.Errorf("add key %s: a key of that name is registered: %w", k.Name, ErrExists)
		}
		return fmt.Errorf("add key %s: the key %s is registered already as %s: %w", k.Name, k.Fingerprint, other, ErrExists)
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO keys (name, role, fingerprint, pem, added_at) VALUES (?, ?, ?, ?, ?)`),
		k.Name, string(role), k.Fingerprint.String(), k.PEM, k.AddedAt.UnixMilli()); err != nil {
		return fmt.Errorf("add key %s: %w", k.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add key %s: %w", k.Name, err)
	}
	return nil
}

func (s *sqlStore) Keys(ctx context.Context) ([]KeyRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, role, fingerprint, pem, added_at, revoked_idx, revoked_at FROM keys ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	defer rows.Close()
	var out []KeyRecord
	for rows.Next() {
		var k KeyRecord
		var role, fp string
		var at int64
		var revIdx, revAt sql.NullInt64
		if err := rows.Scan(&k.Name, &role, &fp, &k.PEM, &at, &revIdx, &revAt); err != nil {
			return nil, fmt.Errorf("read keys: %w", err)
		}
		if revIdx.Valid {
			k.Revoked, k.RevokedIndex, k.RevokedAt = true, revIdx.Int64, time.UnixMilli(revAt.Int64).UTC()
		}
		if err := k.Role.UnmarshalText([]byte(role)); err != nil {
			return nil, fmt.Errorf("read keys: key %s: %w", k.Name, err)
		}
		k.Fingerprint = digest.Digest(fp)
		k.AddedAt = time.UnixMilli(at).UTC()
		out = append(out, k)
	}
	return out, rows.Err()
}

func (s *sqlStore) KeysVersion(ctx context.Context) (int64, error) {
	// Keys are only ever added, and revoked once, so the number of keys
	// and revocations is a version.
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) + count(revoked_idx) FROM keys`).Scan(&n); err != nil {
		return 0, fmt.Errorf("read keys: %w", err)
	}
	return n, nil
}

func (s *sqlStore) Check(ctx context.Context) error {
	if err := s.file.check(); err != nil {
		return err
	}
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT size FROM tree WHERE id = 1`).Scan(&n); err != nil {
		return fmt.Errorf("read the log's size: %w", err)
	}
	return nil
}

func (s *sqlStore) Probe(ctx context.Context, now time.Time) error {
	if err := s.file.check(); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO meta (name, value) VALUES ('probe', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`),
		now.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("write a probe: %w", err)
	}
	return nil
}

func (s *sqlStore) Meta(ctx context.Context, name string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM meta WHERE name = ?`), name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("read setting %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("read setting %s: %w", name, err)
	}
	return v, nil
}

func (s *sqlStore) InitMeta(ctx context.Context, name, value string) (string, error) {
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`), name, value); err != nil {
		return "", fmt.Errorf("store setting %s: %w", name, err)
	}
	var v string
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM meta WHERE name = ?`), name).Scan(&v); err != nil {
		return "", fmt.Errorf("read setting %s: %w", name, err)
	}
	return v, nil
}
