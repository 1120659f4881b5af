// Package worker is `reprove worker`: it takes jobs from the fleet's queue
// (fleet/queue) and runs them through the pipeline library in its own
// containerd, signs with its own rebuilder key, keeps each job's result in
// the queue's database and publishes it to the transparency centre.
//
// Workers share nothing but the queue and the centre. Each has its own
// cache (Runtime.CacheDir) and its own lease: a heartbeat every quarter of
// the lease; when it stops for longer than the lease (the process was
// killed, the machine died) any other worker takes the job back and runs
// it again (queue.RescueLost). A result is stored once per job (the first
// attempt to finish wins) and published once per recipe, key and outputs,
// so a job run twice never publishes twice.
//
// A transient failure (a fetch that timed out, a daemon that did not
// start, the centre unreachable) is retried with exponential backoff; a
// deterministic outcome (a build that fails, a digest that does not
// match, a recipe that cannot be inferred, "different") is a result and
// never retried.
package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/reprove/reprove/attest/signing"
	"github.com/reprove/reprove/fleet/queue"
	"github.com/reprove/reprove/pipeline"
)

// Config configures a worker.
type Config struct {
	Queue *queue.Queue
	// Name names the worker on the dashboard and in its builder id.
	Name string
	// Signer signs every attestation (the worker's rebuilder key).
	Signer *signing.Signer
	// BuilderID is the URI naming this rebuilder in provenance (default
	// DefaultBuilderID + Name).
	BuilderID string
	// Server is the transparency centre to publish to; empty keeps the
	// results in the queue without publishing them. LogKey is its log's
	// verifier key (or a file holding it).
	Server, LogKey string
	// Concurrency is how many builds run at once (1 by default); each has
	// a pipeline session of its own on the worker's containerd.
	Concurrency int
	// Lease is how long the worker may go without a heartbeat before its
	// jobs are given to others (DefaultLease when zero).
	Lease time.Duration
	// RetryAfter is the wait before the first retry of a transient
	// failure, doubled at each attempt (DefaultRetryAfter when zero).
	RetryAfter time.Duration
	// PollInterval is how often the queue is polled (see queue.ClientConfig).
	PollInterval time.Duration
	// Runtime is the pipeline's runtime: the worker's own cache and
	// containerd. Its Progress is the worker's.
	Runtime pipeline.Runtime
	// KeepResults keeps each job's results directory (outputs, reports)
	// under the cache; by default it is removed once the queue holds the
	// result.
	KeepResults bool
	// Version is reprove's, shown on the dashboard.
	Version string
	// Logf receives the worker's own log lines.
	Logf func(format string, args ...any)
	// Clock replaces time.Now.
	Clock func() time.Time
}

// Defaults.
const (
	DefaultLease      = 30 * time.Second
	DefaultRetryAfter = 10 * time.Second
	// DefaultBuilderID is the prefix of a worker's builder id.
	DefaultBuilderID = "https://reprove.dev/builders/worker/"
)

// Worker is a running worker.
type Worker struct {
	cfg    Config
	q      *queue.Queue
	id     string
	client *queue.Client
	slots  chan *slot

	leaseMu sync.Mutex
	leaseOK context.Context
	lost    context.CancelCauseFunc
}

// errLeaseLost cancels the jobs of a worker that could not renew its lease.
var errLeaseLost = errors.New("this worker could not renew its lease; another worker will run the job")

// Run works jobs until ctx ends, then drains: it takes no more jobs and
// waits for those running to finish; when abort is closed meanwhile (a
// second signal), it cancels them instead (each is retried elsewhere).
// It returns once the worker has stopped.
func Run(ctx context.Context, cfg Config, abort <-chan struct{}) error {
	w, err := start(ctx, cfg)
	if err != nil {
		return err
	}
	return w.run(ctx, abort)
}

func start(ctx context.Context, cfg Config) (*Worker, error) {
	switch {
	case cfg.Queue == nil:
		return nil, errors.New("start worker: no queue")
	case cfg.Signer == nil:
		return nil, errors.New("start worker: no signing key")
	case cfg.Name == "":
		return nil, errors.New("start worker: no name")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = DefaultRetryAfter
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.BuilderID == "" {
		cfg.BuilderID = DefaultBuilderID + url.PathEscape(cfg.Name)
	}
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	w := &Worker{cfg: cfg, q: cfg.Queue, id: cfg.Name + "." + hex.EncodeToString(rnd[:]), slots: make(chan *slot, cfg.Concurrency)}
	w.renewLease()
	for range cfg.Concurrency {
		s := &slot{}
		rt := cfg.Runtime
		rt.Progress = s.event
		sess, err := pipeline.Open(ctx, rt)
		if err != nil {
			w.closeSlots()
			return nil, fmt.Errorf("start worker: %w", err)
		}
		s.sess = sess
		w.slots <- s
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[queue.RebuildArgs]) error {
		return w.build(ctx, j.JobRow, func(ctx context.Context, s *slot, l *jobLog, row *rivertype.JobRow) (*built, error) {
			return w.rebuild(ctx, s, row, j.Args)
		})
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[queue.InferArgs]) error {
		return w.build(ctx, j.JobRow, func(ctx context.Context, s *slot, l *jobLog, row *rivertype.JobRow) (*built, error) {
			return w.infer(ctx, s, l, row, j.Args)
		})
	}))
	publish := 0
	if cfg.Server != "" {
		publish = 2
		river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[queue.PublishArgs]) error {
			return w.publish(ctx, j.JobRow, j.Args)
		}))
	}
	host, _ := os.Hostname()
	var err error
	w.client, err = w.q.NewClient(queue.ClientConfig{
		ID: w.id, Workers: workers, Builds: cfg.Concurrency, Publish: publish,
		RetryPolicy:  backoff{first: cfg.RetryAfter, now: cfg.Clock},
		Logger:       slog.New(slog.NewTextHandler(logWriter{cfg.Logf}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		PollInterval: cfg.PollInterval,
	})
	if err != nil {
		w.closeSlots()
		return nil, err
	}
	if err := w.q.RegisterWorker(ctx, queue.WorkerInfo{ID: w.id, Name: cfg.Name, Host: host, PID: os.Getpid(),
		Key: cfg.Signer.Fingerprint, Concurrency: cfg.Concurrency, Version: cfg.Version}); err != nil {
		w.closeSlots()
		return nil, fmt.Errorf("start worker: register: %w", err)
	}
	return w, nil
}

func (w *Worker) run(ctx context.Context, abort <-chan struct{}) error {
	defer w.closeSlots()
	// River runs on a context of its own: the caller's ending means
	// "drain", not "drop everything".
	rctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := w.client.Start(rctx); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	w.cfg.Logf("worker %s (key %s) takes jobs: %d at once, lease %s", w.id, w.cfg.Signer.Fingerprint, w.cfg.Concurrency, w.cfg.Lease)
	state := queue.WorkerRunning
	var stateMu sync.Mutex
	lostc := make(chan error, 1)
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { // the heartbeat: the lease
		defer bg.Done()
		w.heartbeat(rctx, func() queue.WorkerState { stateMu.Lock(); defer stateMu.Unlock(); return state }, lostc)
	}()
	go func() { // the reaper: take jobs back from lost workers
		defer bg.Done()
		w.reap(rctx)
	}()
	var lostErr error
	select {
	case <-ctx.Done():
	case lostErr = <-lostc:
	}
	stateMu.Lock()
	state = queue.WorkerDraining
	stateMu.Unlock()
	if lostErr != nil {
		w.cfg.Logf("%v: stopping", lostErr)
		w.client.StopAndCancel(context.Background())
	} else {
		w.cfg.Logf("draining: no more jobs; waiting for the running ones (a second signal cancels them)")
		w.q.Heartbeat(context.Background(), w.id, queue.WorkerDraining)
		stopped := make(chan error, 1)
		go func() { stopped <- w.client.Stop(context.Background()) }()
		select {
		case <-stopped:
		case <-abort:
			w.cfg.Logf("cancelling the running jobs; other workers will run them")
			w.client.StopAndCancel(context.Background())
			<-stopped
		}
	}
	cancel()
	bg.Wait()
	if lostErr == nil {
		if err := w.q.Heartbeat(context.Background(), w.id, queue.WorkerStopped); err != nil {
			w.cfg.Logf("final heartbeat: %v", err)
		}
	}
	w.cfg.Logf("worker %s stopped", w.id)
	return lostErr
}

// heartbeat renews the lease every quarter of it. If it cannot for half
// the lease, the worker fences itself: its running jobs are cancelled
// (others will take them once the lease is over). A worker the others
// declared lost stops.
func (w *Worker) heartbeat(ctx context.Context, state func() queue.WorkerState, lost chan<- error) {
	tick := time.NewTicker(w.cfg.Lease / 4)
	defer tick.Stop()
	last := w.cfg.Clock()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		err := w.q.Heartbeat(ctx, w.id, state())
		switch {
		case errors.Is(err, queue.ErrLost):
			w.fence()
			lost <- err
			return
		case err != nil:
			w.cfg.Logf("%v", err)
			if w.cfg.Clock().Sub(last) > w.cfg.Lease/2 {
				w.fence()
			}
		default:
			last = w.cfg.Clock()
			w.renewLease()
		}
	}
}

func (w *Worker) reap(ctx context.Context) {
	tick := time.NewTicker(w.cfg.Lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rescued, err := w.q.RescueLost(ctx, w.cfg.Lease)
		if err != nil && ctx.Err() == nil {
			w.cfg.Logf("%v", err)
		}
		for _, r := range rescued {
			what := "made available to other workers"
			if r.Discarded {
				what = "discarded: that was its last attempt"
			}
			w.cfg.Logf("job %d: worker %s lost its lease during attempt %d; %s", r.Job, r.Worker, r.Attempt, what)
		}
	}
}

// renewLease makes a fresh lease context once the heartbeat works (again).
func (w *Worker) renewLease() {
	w.leaseMu.Lock()
	defer w.leaseMu.Unlock()
	if w.leaseOK != nil && w.leaseOK.Err() == nil {
		return
	}
	w.leaseOK, w.lost = context.WithCancelCause(context.Background())
}

func (w *Worker) fence() {
	w.leaseMu.Lock()
	defer w.leaseMu.Unlock()
	w.lost(errLeaseLost)
}

// jobContext is ctx, also cancelled when the worker loses its lease.
func (w *Worker) jobContext(ctx context.Context) (context.Context, func()) {
	w.leaseMu.Lock()
	lease := w.leaseOK
	w.leaseMu.Unlock()
	jctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(lease, func() { cancel(context.Cause(lease)) })
	return jctx, func() { stop(); cancel(nil) }
}

func (w *Worker) closeSlots() {
	for {
		select {
		case s := <-w.slots:
			if err := s.sess.Close(); err != nil {
				w.cfg.Logf("close pipeline session: %v", err)
			}
		default:
			return
		}
	}
}

// backoff is the retry policy of transient failures: RetryAfter, then
// twice as long at each attempt, at most an hour.
type backoff struct {
	first time.Duration
	now   func() time.Time
}

func (b backoff) NextRetry(j *rivertype.JobRow) time.Time {
	d := b.first
	for i := 1; i < j.Attempt && d < time.Hour; i++ {
		d *= 2
	}
	return b.now().Add(min(d, time.Hour))
}

// logWriter turns River's log lines into the worker's.
type logWriter struct{ logf func(string, ...any) }

func (l logWriter) Write(b []byte) (int, error) {
	l.logf("river: %s", string(trimNewline(b)))
	return len(b), nil
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// resultsDir is where a job's attempt puts its results.
func (w *Worker) resultsDir(job int64, attempt int) string {
	return filepath.Join(w.cfg.Runtime.CacheDir, "fleet", "results", fmt.Sprintf("job-%d-attempt-%d", job, attempt))
}
