package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"golang.org/x/sys/unix"

	// SQLite through database/sql, pure Go (the centre's driver too).
	_ "modernc.org/sqlite"
)

// The two databases differ in how River reaches them (a pgx pool, a
// database/sql pool) and so in the type of a transaction. backend hides
// that: the rest of the package writes its SQL once, with @name
// parameters, which pgx (NamedArgs) and SQLite (sql.Named) both bind.

// params are a statement's named parameters.
type params map[string]any

// rows is a query's result, whichever the database.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// tx is one transaction: our statements and River's inserts commit
// together.
type tx interface {
	exec(ctx context.Context, q string, p params) (int64, error)
	query(ctx context.Context, q string, p params) (rows, error)
	insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// riverClient is what a worker needs of a River client that works jobs.
type riverClient interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	ID() string
}

type backend interface {
	dialect() string
	// inTx runs fn in a transaction, committed when fn returns nil.
	inTx(ctx context.Context, fn func(tx) error) error
	// read runs fn outside any transaction.
	read(ctx context.Context, fn func(tx) error) error
	jobList(ctx context.Context, p *river.JobListParams) (*river.JobListResult, error)
	executor() riverdriver.Executor
	newClient(cfg *river.Config) (riverClient, error)
	migrate(ctx context.Context, ours func(tx) error) error
	close()
}

// Dialects.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// ParseURL says which database a --database value names: a postgres://
// (or postgresql://) URL, or SQLite as sqlite:PATH, sqlite://PATH or a
// plain path. It returns the dialect and, for SQLite, the file's path.
func ParseURL(s string) (dialect, path string, err error) {
	switch {
	case s == "":
		return "", "", errors.New("no database")
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		return Postgres, "", nil
	case strings.HasPrefix(s, "sqlite://"):
		path = strings.TrimPrefix(s, "sqlite://")
	case strings.HasPrefix(s, "sqlite:"):
		path = strings.TrimPrefix(s, "sqlite:")
	case strings.Contains(s, "://"):
		return "", "", fmt.Errorf("database %q: want a postgres:// URL, sqlite:PATH or a file path", s)
	default:
		path = s
	}
	if path == "" || strings.ContainsAny(path, "?#") {
		return "", "", fmt.Errorf("database %q: want sqlite:PATH with a file path", s)
	}
	return SQLite, path, nil
}

// --- SQLite ---

type sqliteBackend struct {
	path   string
	db     *sql.DB
	driver *riversqlite.Driver
	client *river.Client[*sql.Tx]
}

func openSQLite(ctx context.Context, path string) (*sqliteBackend, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	// Several processes (workers, watchers, the centre) share the file:
	// WAL lets readers go on while one writes, a busy timeout makes a
	// writer wait its turn, and every transaction takes the write lock
	// when it begins (no upgrade deadlocks). River asks for one connection
	// per process with SQLite.
	q := url.Values{}
	for _, p := range []string{"busy_timeout(30000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+abs+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open queue %s: %w", abs, err)
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open queue %s: %w", abs, err)
	}
	b := &sqliteBackend{path: abs, db: db, driver: riversqlite.New(db)}
	b.client, err = river.NewClient(b.driver, &river.Config{})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open queue: %w", err)
	}
	return b, nil
}

func (b *sqliteBackend) dialect() string { return SQLite }

func (b *sqliteBackend) inTx(ctx context.Context, fn func(tx) error) error {
	t, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer t.Rollback()
	if err := fn(&sqliteTx{tx: t, client: b.client}); err != nil {
		return err
	}
	return t.Commit()
}

func (b *sqliteBackend) read(ctx context.Context, fn func(tx) error) error {
	return fn(&sqliteTx{db: b.db})
}

func (b *sqliteBackend) jobList(ctx context.Context, p *river.JobListParams) (*river.JobListResult, error) {
	return b.client.JobList(ctx, p)
}

func (b *sqliteBackend) executor() riverdriver.Executor { return b.driver.GetExecutor() }

func (b *sqliteBackend) newClient(cfg *river.Config) (riverClient, error) {
	return river.NewClient(b.driver, cfg)
}

func (b *sqliteBackend) migrate(ctx context.Context, ours func(tx) error) error {
	m, err := rivermigrate.New(b.driver, nil)
	if err != nil {
		return err
	}
	// Processes starting together migrate one at a time: River's
	// migrations each commit on their own, so a transaction cannot hold
	// them all; a lock file beside the database does.
	lock, err := os.OpenFile(b.path+".migrate-lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer unix.Flock(int(lock.Fd()), unix.LOCK_UN)
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate River's tables: %w", err)
	}
	return b.inTx(ctx, ours)
}

func (b *sqliteBackend) close() { b.db.Close() }

type sqliteTx struct {
	tx     *sql.Tx // nil outside a transaction
	db     *sql.DB
	client *river.Client[*sql.Tx]
}

func named(p params) []any {
	out := make([]any, 0, len(p))
	for k, v := range p {
		out = append(out, sql.Named(k, v))
	}
	return out
}

func (t *sqliteTx) exec(ctx context.Context, q string, p params) (int64, error) {
	var res sql.Result
	var err error
	if t.tx != nil {
		res, err = t.tx.ExecContext(ctx, q, named(p)...)
	} else {
		res, err = t.db.ExecContext(ctx, q, named(p)...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t *sqliteTx) query(ctx context.Context, q string, p params) (rows, error) {
	var r *sql.Rows
	var err error
	if t.tx != nil {
		r, err = t.tx.QueryContext(ctx, q, named(p)...)
	} else {
		r, err = t.db.QueryContext(ctx, q, named(p)...)
	}
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

func (t *sqliteTx) insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	if t.tx == nil {
		return nil, errors.New("insert a job: not in a transaction")
	}
	return t.client.InsertTx(ctx, t.tx, args, opts)
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

// --- PostgreSQL ---

type pgBackend struct {
	pool   *pgxpool.Pool
	driver *riverpgxv5.Driver
	client *river.Client[pgx.Tx]
}

func openPostgres(ctx context.Context, dsn string) (*pgBackend, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open queue: connect to PostgreSQL: %w", err)
	}
	b := &pgBackend{pool: pool, driver: riverpgxv5.New(pool)}
	b.client, err = river.NewClient(b.driver, &river.Config{})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open queue: %w", err)
	}
	return b, nil
}

func (b *pgBackend) dialect() string { return Postgres }

func (b *pgBackend) inTx(ctx context.Context, fn func(tx) error) error {
	return pgx.BeginFunc(ctx, b.pool, func(t pgx.Tx) error {
		return fn(&pgTx{q: t, tx: t, client: b.client})
	})
}

func (b *pgBackend) read(ctx context.Context, fn func(tx) error) error {
	return fn(&pgTx{q: b.pool})
}

func (b *pgBackend) jobList(ctx context.Context, p *river.JobListParams) (*river.JobListResult, error) {
	return b.client.JobList(ctx, p)
}

func (b *pgBackend) executor() riverdriver.Executor { return b.driver.GetExecutor() }

func (b *pgBackend) newClient(cfg *river.Config) (riverClient, error) {
	return river.NewClient(b.driver, cfg)
}

// migrateLock is the advisory lock under which processes starting
// together migrate one at a time ("rvfleet" in ASCII).
const migrateLock = 0x72_7666_6c65_6574

func (b *pgBackend) migrate(ctx context.Context, ours func(tx) error) error {
	m, err := rivermigrate.New(b.driver, nil)
	if err != nil {
		return err
	}
	// River's migrations each run in a transaction of their own (one adds
	// an enum value, which PostgreSQL will not use in the transaction that
	// adds it), so the lock is a session's, held on one connection.
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(migrateLock)); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", int64(migrateLock))
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate River's tables: %w", err)
	}
	return b.inTx(ctx, ours)
}

func (b *pgBackend) close() { b.pool.Close() }

// pgConn is what a pool and a transaction both do.
type pgConn interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

type pgTx struct {
	q      pgConn
	tx     pgx.Tx // nil outside a transaction
	client *river.Client[pgx.Tx]
}

func (t *pgTx) exec(ctx context.Context, q string, p params) (int64, error) {
	tag, err := t.q.Exec(ctx, q, pgx.NamedArgs(p))
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (t *pgTx) query(ctx context.Context, q string, p params) (rows, error) {
	r, err := t.q.Query(ctx, q, pgx.NamedArgs(p))
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (t *pgTx) insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	if t.tx == nil {
		return nil, errors.New("insert a job: not in a transaction")
	}
	return t.client.InsertTx(ctx, t.tx, args, opts)
}
