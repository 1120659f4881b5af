package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/centre/item"

	// The two database drivers, both through database/sql.
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

//go:embed migrations
var migrations embed.FS

// SQLiteFile is the database file's name under the data directory.
const SQLiteFile = "centre.db"

// appendLockKey is the PostgreSQL advisory lock that serialises migrations
// across replicas starting at once ("reprove" in ASCII).
const appendLockKey = 0x7265_7072_6f76_65

// OpenSQLite opens (creating if need be) the SQLite database under dir and
// applies the migrations it lacks.
func OpenSQLite(ctx context.Context, dir string) (Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	path, err := filepath.Abs(filepath.Join(dir, SQLiteFile))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	// WAL lets lookups read while one append writes; synchronous=FULL makes
	// each commit durable before it is acknowledged (one fsync per batch of
	// appends, not per submission); every transaction takes the write lock
	// at BEGIN (IMMEDIATE), so an append holds the log from its first read.
	//
	// What an append costs the one writer, which every submission waits
	// behind: a page cache of 64 MiB a connection (not SQLite's 2 MiB), so
	// the indexes' pages an append reads and writes stay in memory; statement
	// journals (a multi-row INSERT's undo, should it fail halfway) in memory,
	// not in a temporary file written page by page; and a checkpoint every
	// 10,000 WAL pages (about 40 MiB) rather than 1,000, so a page of an
	// index written by many appends in between is copied to the database
	// once. None of these touch durability: the WAL is still fsynced at
	// every commit.
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)",
		"cache_size(-65536)", "temp_store(MEMORY)", "wal_autocheckpoint(10000)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &sqlStore{db: db, d: dialect{
		name:     "sqlite",
		lockTree: `SELECT size FROM tree WHERE id = 1`,
		rebind:   func(q string) string { return q },
		maxArgs:  30000,
		reuse:    true,
	}}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if s.file, err = identify(path); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// OpenPostgres connects to the PostgreSQL database named by a
// postgres:// URL (or key=value connection string) and applies the
// migrations it lacks. Several replicas may open the same database.
func OpenPostgres(ctx context.Context, dsn string) (Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &sqlStore{db: db, d: dialect{
		name:           "postgres",
		lockTree:       `SELECT size FROM tree WHERE id = 1 FOR UPDATE`,
		lockMigrations: `SELECT pg_advisory_xact_lock(` + strconv.FormatInt(appendLockKey, 10) + `)`,
		rebind:         dollarRebind,
		maxArgs:        30000,
	}}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: connect to PostgreSQL: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	return s, nil
}

// Open opens PostgreSQL when dsn is set, else SQLite under dir.
func Open(ctx context.Context, dir, dsn string) (Store, error) {
	if dsn != "" {
		return OpenPostgres(ctx, dsn)
	}
	return OpenSQLite(ctx, dir)
}

// migration is one versioned schema change: migrations/DIALECT/NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

func (s *sqlStore) migrations() ([]migration, error) {
	dir := "migrations/" + s.d.name
	ents, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range ents {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql", e.Name())
		}
		b, err := migrations.ReadFile(dir + "/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %d: versions must run 1, 2, 3… without gaps", m.version)
		}
	}
	return out, nil
}

// goSteps are the parts of migrations that SQL cannot do, by migration
// name, run in the migration's transaction after its SQL.
var goSteps = map[string]func(ctx context.Context, s *sqlStore, tx *sql.Tx) error{
	"signers_sources_revocations": indexSourcesAndReports,
}

// indexSourcesAndReports fills in, for a log written before this migration,
// the source of each rebuild and the compare report each comparison cites
// (item's index of them is newer than the entries).
func indexSourcesAndReports(ctx context.Context, s *sqlStore, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, s.q(`SELECT idx, leaf FROM entries WHERE kind IN (?, ?) ORDER BY idx`),
		string(mustText(item.Rebuild)), string(mustText(item.Comparison)))
	if err != nil {
		return err
	}
	type found struct {
		idx            int64
		cites, sources []digest.Digest
	}
	var all []found
	for rows.Next() {
		var f found
		var leaf []byte
		if err := rows.Scan(&f.idx, &leaf); err != nil {
			rows.Close()
			return err
		}
		d, err := item.Describe(leaf)
		if err != nil {
			rows.Close()
			return fmt.Errorf("entry %d: %w", f.idx, err)
		}
		f.cites, f.sources = d.Cites, d.Sources
		all = append(all, f)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, f := range all {
		for _, c := range f.cites {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO cites (idx, payload_digest) VALUES (?, ?) ON CONFLICT DO NOTHING`), f.idx, c.String()); err != nil {
				return err
			}
		}
		for _, d := range f.sources {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO sources (idx, digest) VALUES (?, ?) ON CONFLICT DO NOTHING`), f.idx, d.String()); err != nil {
				return err
			}
		}
	}
	return nil
}

// SchemaVersion is the newest migration this build knows.
func (s *sqlStore) SchemaVersion() int {
	ms, _ := s.migrations()
	return len(ms)
}

// migrate applies, in one transaction under the migration lock, each
// migration the database has not recorded. A database migrated by a newer
// reprove (a version this build does not know) is refused.
func (s *sqlStore) migrate(ctx context.Context) error {
	ms, err := s.migrations()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if s.d.lockMigrations != "" {
		if _, err := tx.ExecContext(ctx, s.d.lockMigrations); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at BIGINT  NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	have := map[int]bool{}
	newest := 0
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("migrate: %w", err)
		}
		have[v] = true
		newest = max(newest, v)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if newest > len(ms) {
		return fmt.Errorf("migrate: the database has schema version %d, newer than this reprove knows (%d): upgrade reprove", newest, len(ms))
	}
	for _, m := range ms {
		if have[m.version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("migrate: %04d_%s: %w", m.version, m.name, err)
		}
		if step := goSteps[m.name]; step != nil {
			if err := step(ctx, s, tx); err != nil {
				return fmt.Errorf("migrate: %04d_%s: %w", m.version, m.name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
			m.version, m.name, time.Now().UnixMilli()); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	return tx.Commit()
}
