// Package queue is the fleet's job queue: River (github.com/riverqueue/river)
// on PostgreSQL for a fleet of machines, or on SQLite for one machine, and
// beside River's tables the fleet's own records of each job: what it is
// about, its result (log, result.json, recipe, signed attestations, compare
// reports), its publication, the workers and their heartbeats, and what
// each watcher has enqueued.
//
// Jobs (see the Args types):
//   - rebuild: rebuild a recipe (RebuildArgs);
//   - infer: infer a recipe for a shipped artifact, then rebuild it
//     (InferArgs);
//   - publish: publish a stored result's attestations to a transparency
//     centre (PublishArgs), enqueued with the result in one transaction.
//
// The queue decides nothing about builds: reprove's workers (fleet/worker)
// work the jobs, watchers (fleet/watch) enqueue them, and the centre's
// dashboard (centre/fleetweb) reads them. It stands on River, the recipe
// format and the verdict words only.
package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
)

// Queue is an open job queue.
type Queue struct {
	be    backend
	clock func() time.Time
}

// Options configure a Queue.
type Options struct {
	// Clock replaces time.Now.
	Clock func() time.Time
}

// Open connects to the database a --database value names (see ParseURL),
// applies River's migrations and the fleet's under one lock, and returns
// the queue. Several processes may open one database at once.
func Open(ctx context.Context, database string, opts Options) (*Queue, error) {
	dialect, path, err := ParseURL(database)
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	q := &Queue{clock: opts.Clock}
	if q.clock == nil {
		q.clock = time.Now
	}
	switch dialect {
	case SQLite:
		q.be, err = openSQLite(ctx, path)
	default:
		q.be, err = openPostgres(ctx, database)
	}
	if err != nil {
		return nil, err
	}
	if err := q.be.migrate(ctx, func(t tx) error {
		return migrateOurs(ctx, t, dialect, q.now())
	}); err != nil {
		q.be.close()
		return nil, fmt.Errorf("open queue: migrate: %w", err)
	}
	return q, nil
}

// Close closes the connections.
func (q *Queue) Close() error {
	q.be.close()
	return nil
}

// Dialect names the database: SQLite or Postgres.
func (q *Queue) Dialect() string { return q.be.dialect() }

func (q *Queue) now() int64 { return q.clock().UnixMilli() }

// ErrNotFound is returned for a job, result or worker the queue does not
// hold.
var ErrNotFound = errors.New("not found")

func ms(t int64) time.Time {
	if t == 0 {
		return time.Time{}
	}
	return time.UnixMilli(t).UTC()
}

// Queue names. Builds and publications wait in separate River queues so
// that a worker can take publications while its build slots are busy.
const (
	QueueBuilds  = "builds"
	QueuePublish = "publish"
)

// Attempts: a build is tried again after a transient failure (a fetch
// that timed out, a daemon that did not start) up to MaxBuildAttempts
// times in all; publishing, which only talks to the centre, keeps trying
// for longer.
const (
	MaxBuildAttempts   = 5
	MaxPublishAttempts = 20
)

// one runs fn and closes the rows it returns, scanning each row with
// scan.
func each(ctx context.Context, t tx, q string, p params, scan func(r rows) error) error {
	r, err := t.query(ctx, q, p)
	if err != nil {
		return err
	}
	defer r.Close()
	for r.Next() {
		if err := scan(r); err != nil {
			return err
		}
	}
	return r.Err()
}

// insertOpts are the River options of a job kind.
func insertOpts(kind string) *river.InsertOpts {
	if kind == KindPublish {
		return &river.InsertOpts{Queue: QueuePublish, MaxAttempts: MaxPublishAttempts}
	}
	return &river.InsertOpts{Queue: QueueBuilds, MaxAttempts: MaxBuildAttempts}
}

// Client works jobs: a River client with workers registered.
type Client struct{ c riverClient }

// ClientConfig configures a working client.
type ClientConfig struct {
	// ID names the client (unique per process); the worker's id.
	ID      string
	Workers *river.Workers
	// Builds and Publish are how many jobs of each queue run at once.
	Builds, Publish int
	// RetryPolicy says when a job that failed transiently runs again.
	RetryPolicy river.ClientRetryPolicy
	Logger      *slog.Logger
	// PollInterval is how often the queue is polled for jobs (PostgreSQL
	// also hears of new jobs at once; SQLite only polls).
	PollInterval time.Duration
}

// NewClient makes a client that works jobs. River's own timeout is off
// (builds are bounded by their limits) and so is its age-based rescue of
// running jobs: a job is taken back from a worker when the worker's lease
// (its heartbeat) expires, by RescueLost.
func (q *Queue) NewClient(cfg ClientConfig) (*Client, error) {
	poll := cfg.PollInterval
	if poll <= 0 {
		poll = time.Second
	}
	c, err := q.be.newClient(&river.Config{
		ID:                cfg.ID,
		Workers:           cfg.Workers,
		Queues:            map[string]river.QueueConfig{QueueBuilds: {MaxWorkers: max(cfg.Builds, 1)}, QueuePublish: {MaxWorkers: max(cfg.Publish, 1)}},
		JobTimeout:        -1,
		RetryPolicy:       cfg.RetryPolicy,
		Logger:            cfg.Logger,
		FetchCooldown:     min(50*time.Millisecond, poll),
		FetchPollInterval: poll,
	})
	if err != nil {
		return nil, fmt.Errorf("make queue client: %w", err)
	}
	return &Client{c: c}, nil
}

// ID is the client's id.
func (c *Client) ID() string { return c.c.ID() }

// Start starts working jobs.
func (c *Client) Start(ctx context.Context) error { return c.c.Start(ctx) }

// Stop stops taking jobs and waits for those running to finish (or ctx).
func (c *Client) Stop(ctx context.Context) error { return c.c.Stop(ctx) }

// StopAndCancel stops taking jobs and cancels those running; River
// records each as failed (to be tried again).
func (c *Client) StopAndCancel(ctx context.Context) error { return c.c.StopAndCancel(ctx) }
