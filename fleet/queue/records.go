package queue

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"
)

// Outcome is what became of a release's job: the comparison's verdict,
// "rebuilt" when the recipe names nothing shipped, "failed" when the job
// could not finish (a build error, a recipe that could not be inferred,
// transient failures past the last attempt), "pending" while no attempt
// has finished.
type Outcome string

// The outcomes.
const (
	Identical  Outcome = "identical"
	Equivalent Outcome = "equivalent"
	Different  Outcome = "different"
	Rebuilt    Outcome = "rebuilt"
	Failed     Outcome = "failed"
	Pending    Outcome = "pending"
)

// Outcomes lists them in the order the dashboard shows them.
var Outcomes = []Outcome{Identical, Equivalent, Different, Failed, Pending, Rebuilt}

// Valid reports whether o is one of the outcomes.
func (o Outcome) Valid() bool {
	for _, k := range Outcomes {
		if o == k {
			return true
		}
	}
	return false
}

// MarshalText refuses anything but the outcome words.
func (o Outcome) MarshalText() ([]byte, error) {
	if !o.Valid() {
		return nil, fmt.Errorf("marshal outcome: %q is not an outcome", string(o))
	}
	return []byte(o), nil
}

// UnmarshalText reads the outcome words.
func (o *Outcome) UnmarshalText(b []byte) error {
	v := Outcome(b)
	if !v.Valid() {
		return fmt.Errorf("unmarshal outcome: %q is not an outcome", b)
	}
	*o = v
	return nil
}

// Result is what a job's finished attempt leaves: the outcome, the log,
// result.json, the recipe built, the signed attestations and compare
// reports, and who made them.
type Result struct {
	Job int64
	// Worker is the worker's id (its River client id), WorkerName its
	// name, Key the fingerprint of its signing key.
	Worker, WorkerName string
	Key                digest.Digest
	Attempt            int
	Outcome            Outcome
	// Error says why the job failed (Outcome Failed).
	Error string
	// Recipe is the canonical JSON of the recipe built (given, or
	// inferred); RecipeDigest its digest.
	Recipe       []byte
	RecipeDigest digest.Digest
	// Shipped are the digests of the shipped artifacts compared.
	Shipped []digest.Digest
	// ResultJSON is result.json (pipeline.RebuildResult).
	ResultJSON []byte
	// Log is the job's log: phases and the build's output, escaped.
	Log []byte
	// Attestations are the signed DSSE envelopes, Reports the compare
	// reports (compare --json) they rest on.
	Attestations [][]byte
	Reports      [][]byte
	// Publication is the key under which the attestations are published
	// (PublicationKey); empty when there is nothing to publish.
	Publication string
	Started     time.Time
	Finished    time.Time
}

// PublicationKey is the identity of a publication: the recipe, the key
// that signed, and the outputs it produced (name and digest). Two jobs
// with the same key publish one set of attestations: the same recipe,
// worker key and outputs never make two log entries.
func PublicationKey(recipe, key digest.Digest, outputs map[string]digest.Digest) string {
	names := make([]string, 0, len(outputs))
	for n := range outputs {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	fmt.Fprintf(h, "reprove publication v1\nrecipe %s\nkey %s\n", recipe, key)
	for _, n := range names {
		fmt.Fprintf(h, "output %q %s\n", n, outputs[n])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// StoreResult records a job's result, unless an attempt of the job has
// recorded one already (the first to finish wins: a job rescued from a
// worker that was only slow keeps one result). With publish set and
// attestations to publish, it also claims the result's publication key
// and enqueues the publish job, in the same transaction. It reports
// whether this result was the one stored.
func (q *Queue) StoreResult(ctx context.Context, r *Result, publish bool) (bool, error) {
	if !r.Outcome.Valid() || r.Outcome == Pending {
		return false, fmt.Errorf("store result of job %d: outcome %q", r.Job, r.Outcome)
	}
	var shipped []string
	for _, d := range r.Shipped {
		shipped = append(shipped, d.String())
	}
	atts := bytes.Join(r.Attestations, []byte("\n"))
	reports, err := json.Marshal(rawList(r.Reports))
	if err != nil {
		return false, err
	}
	stored := false
	err = q.be.inTx(ctx, func(t tx) error {
		n, err := t.exec(ctx, `INSERT INTO fleet_result (job_id, worker, worker_name, key_fingerprint, attempt, outcome, error,
				recipe, recipe_digest, shipped, result, log, attestations, reports, publication, started_at, finished_at)
			VALUES (@job, @worker, @wname, @key, @attempt, @outcome, @error, @recipe, @rdigest, @shipped, @result, @log, @atts, @reports, @pub, @started, @finished)
			ON CONFLICT (job_id) DO NOTHING`, params{
			"job": r.Job, "worker": r.Worker, "wname": r.WorkerName, "key": r.Key.String(), "attempt": int64(r.Attempt),
			"outcome": string(r.Outcome), "error": r.Error, "recipe": nonNil(r.Recipe), "rdigest": r.RecipeDigest.String(),
			"shipped": strings.Join(shipped, " "), "result": nonNil(r.ResultJSON), "log": nonNil(r.Log), "atts": nonNil(atts),
			"reports": reports, "pub": r.Publication, "started": r.Started.UnixMilli(), "finished": r.Finished.UnixMilli()})
		if err != nil || n == 0 {
			return err
		}
		stored = true
		if !publish || r.Publication == "" || len(r.Attestations) == 0 {
			return nil
		}
		if _, err := t.exec(ctx, `INSERT INTO fleet_publication (pkey, job_id, server, published_at, entries)
			VALUES (@pkey, @job, '', 0, '') ON CONFLICT (pkey) DO NOTHING`, params{"pkey": r.Publication, "job": r.Job}); err != nil {
			return err
		}
		var rel Release
		if err := each(ctx, t, `SELECT ecosystem, watch, name, version FROM fleet_job WHERE job_id = @job`, params{"job": r.Job}, func(rw rows) error {
			return rw.Scan(&rel.Ecosystem, &rel.Watch, &rel.Name, &rel.Version)
		}); err != nil {
			return err
		}
		_, err = q.insertJob(ctx, t, publishJob{PublishArgs{Job: r.Job}, rel}, r.Job)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store result of job %d: %w", r.Job, err)
	}
	return stored, nil
}

// publishJob is a PublishArgs with the release it publishes, for fleet_job.
type publishJob struct {
	PublishArgs
	rel Release
}

func (p publishJob) release() Release     { return p.rel }
func (p publishJob) artifact() string     { return fmt.Sprintf("the result of job %d", p.Job) }
func (p publishJob) recipeDigest() string { return "" }
func (p publishJob) check() error         { return nil }

// MarshalJSON writes the River args only.
func (p publishJob) MarshalJSON() ([]byte, error) { return json.Marshal(p.PublishArgs) }

type rawList [][]byte

func (l rawList) MarshalJSON() ([]byte, error) {
	out := make([]json.RawMessage, 0, len(l))
	for _, b := range l {
		out = append(out, json.RawMessage(b))
	}
	return json.Marshal(out)
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

const resultColumns = `job_id, worker, worker_name, key_fingerprint, attempt, outcome, error, recipe, recipe_digest, shipped,
	result, log, attestations, reports, publication, started_at, finished_at`

func scanResult(r rows) (*Result, error) {
	var res Result
	var key, outcome, rdigest, shipped string
	var attempt, started, finished int64
	var atts, reports []byte
	if err := r.Scan(&res.Job, &res.Worker, &res.WorkerName, &key, &attempt, &outcome, &res.Error, &res.Recipe, &rdigest, &shipped,
		&res.ResultJSON, &res.Log, &atts, &reports, &res.Publication, &started, &finished); err != nil {
		return nil, err
	}
	res.Key, res.RecipeDigest = digest.Digest(key), digest.Digest(rdigest)
	res.Attempt, res.Outcome = int(attempt), Outcome(outcome)
	res.Started, res.Finished = ms(started), ms(finished)
	for _, s := range strings.Fields(shipped) {
		res.Shipped = append(res.Shipped, digest.Digest(s))
	}
	for _, l := range bytes.Split(atts, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			res.Attestations = append(res.Attestations, l)
		}
	}
	var reps []json.RawMessage
	if len(reports) > 0 {
		if err := json.Unmarshal(reports, &reps); err != nil {
			return nil, fmt.Errorf("result of job %d: reports: %w", res.Job, err)
		}
	}
	for _, rp := range reps {
		res.Reports = append(res.Reports, rp)
	}
	return &res, nil
}

// Result reads a job's stored result (ErrNotFound when no attempt has
// finished).
func (q *Queue) Result(ctx context.Context, job int64) (*Result, error) {
	var out *Result
	err := q.be.read(ctx, func(t tx) error {
		return each(ctx, t, `SELECT `+resultColumns+` FROM fleet_result WHERE job_id = @job`, params{"job": job}, func(r rows) error {
			var err error
			out, err = scanResult(r)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read result of job %d: %w", job, err)
	}
	if out == nil {
		return nil, fmt.Errorf("result of job %d: %w", job, ErrNotFound)
	}
	return out, nil
}

// Publication is one claimed publication key.
type Publication struct {
	Key string
	// Job is the job whose attestations are published under the key.
	Job int64
	// Server, Published and Entries are set once it is published: the
	// centre, when, and the log indexes of what it logged.
	Server    string
	Published time.Time
	Entries   []int64
}

// Publication reads a publication by key.
func (q *Queue) Publication(ctx context.Context, key string) (*Publication, error) {
	var out *Publication
	err := q.be.read(ctx, func(t tx) error {
		return each(ctx, t, `SELECT pkey, job_id, server, published_at, entries FROM fleet_publication WHERE pkey = @k`, params{"k": key}, func(r rows) error {
			var p Publication
			var at int64
			var entries string
			if err := r.Scan(&p.Key, &p.Job, &p.Server, &at, &entries); err != nil {
				return err
			}
			p.Published = ms(at)
			if entries != "" {
				if err := json.Unmarshal([]byte(entries), &p.Entries); err != nil {
					return fmt.Errorf("publication %s: entries: %w", key, err)
				}
			}
			out = &p
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, fmt.Errorf("publication %s: %w", key, ErrNotFound)
	}
	return out, nil
}

// MarkPublished records that a publication's attestations are in the
// centre's log at these indexes.
func (q *Queue) MarkPublished(ctx context.Context, key, server string, entries []int64) error {
	b, err := json.Marshal(entries)
	if err != nil {
		return err
	}
	return q.be.inTx(ctx, func(t tx) error {
		_, err := t.exec(ctx, `UPDATE fleet_publication SET server = @server, published_at = @at, entries = @entries WHERE pkey = @k`,
			params{"server": server, "at": q.now(), "entries": string(b), "k": key})
		return err
	})
}

// --- workers and leases ---

// WorkerState is what a worker is doing.
type WorkerState string

// The worker states.
const (
	WorkerRunning  WorkerState = "running"
	WorkerDraining WorkerState = "draining"
	WorkerStopped  WorkerState = "stopped"
	// WorkerLost: its heartbeat stopped for longer than the lease.
	WorkerLost WorkerState = "lost"
)

// WorkerInfo describes a worker process.
type WorkerInfo struct {
	// ID is its River client id, unique per process.
	ID          string
	Name        string
	Host        string
	PID         int
	Key         digest.Digest
	Concurrency int
	Version     string
	Started     time.Time
	Heartbeat   time.Time
	State       WorkerState
}

// RegisterWorker records a starting worker (its first heartbeat).
func (q *Queue) RegisterWorker(ctx context.Context, w WorkerInfo) error {
	now := q.now()
	return q.be.inTx(ctx, func(t tx) error {
		_, err := t.exec(ctx, `INSERT INTO fleet_worker (id, name, host, pid, key_fingerprint, concurrency, version, started_at, heartbeat_at, state)
			VALUES (@id, @name, @host, @pid, @key, @conc, @version, @at, @at, @state)`, params{
			"id": w.ID, "name": w.Name, "host": w.Host, "pid": int64(w.PID), "key": w.Key.String(), "conc": int64(w.Concurrency),
			"version": w.Version, "at": now, "state": string(WorkerRunning)})
		return err
	})
}

// Heartbeat renews a worker's lease and records its state. A worker the
// others found lost stays lost (its jobs went elsewhere): it is told so
// with ErrLost, and must stop.
func (q *Queue) Heartbeat(ctx context.Context, id string, state WorkerState) error {
	var n int64
	err := q.be.inTx(ctx, func(t tx) error {
		var err error
		n, err = t.exec(ctx, `UPDATE fleet_worker SET heartbeat_at = @at, state = @state WHERE id = @id AND state <> @lost`,
			params{"at": q.now(), "state": string(state), "id": id, "lost": string(WorkerLost)})
		return err
	})
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	if n == 0 {
		return ErrLost
	}
	return nil
}

// ErrLost is a heartbeat of a worker that was declared lost.
var ErrLost = errors.New("this worker's lease expired and its jobs were given to others")

// SetPhase records that worker runs attempt of job, now in phase.
func (q *Queue) SetPhase(ctx context.Context, job int64, worker string, attempt int, phase string) error {
	now := q.now()
	return q.be.inTx(ctx, func(t tx) error {
		_, err := t.exec(ctx, `INSERT INTO fleet_running (job_id, worker, attempt, phase, started_at, updated_at)
			VALUES (@job, @worker, @attempt, @phase, @at, @at)
			ON CONFLICT (job_id) DO UPDATE SET phase = @phase, updated_at = @at,
				worker = @worker, attempt = @attempt,
				started_at = CASE WHEN fleet_running.worker = @worker AND fleet_running.attempt = @attempt THEN fleet_running.started_at ELSE @at END`,
			params{"job": job, "worker": worker, "attempt": int64(attempt), "phase": phase, "at": now})
		return err
	})
}

// ClearRunning forgets that worker runs job (its attempt ended).
func (q *Queue) ClearRunning(ctx context.Context, job int64, worker string) error {
	return q.be.inTx(ctx, func(t tx) error {
		_, err := t.exec(ctx, `DELETE FROM fleet_running WHERE job_id = @job AND worker = @worker`, params{"job": job, "worker": worker})
		return err
	})
}

// Rescued is a job taken back from a lost worker.
type Rescued struct {
	Job     int64
	Worker  string
	Attempt int
	// Discarded is true when the job had used its last attempt.
	Discarded bool
}

// RescueLost is the lease: every worker whose heartbeat is older than
// lease is declared lost, and each job River holds as running by a lost
// worker (or by a client that never registered, once lease has passed
// since its attempt began) is made available again at once for another
// worker, or discarded if that was its last attempt. The update is
// guarded by the attempt's start time, so a job already taken back and
// started again is left alone. Any worker may run it, as often as it
// likes.
func (q *Queue) RescueLost(ctx context.Context, lease time.Duration) ([]Rescued, error) {
	now := q.clock()
	horizon := now.Add(-lease).UnixMilli()
	alive := map[string]bool{}
	known := map[string]bool{}
	err := q.be.inTx(ctx, func(t tx) error {
		if _, err := t.exec(ctx, `UPDATE fleet_worker SET state = @lost WHERE heartbeat_at < @h AND state IN (@running, @draining)`,
			params{"lost": string(WorkerLost), "h": horizon, "running": string(WorkerRunning), "draining": string(WorkerDraining)}); err != nil {
			return err
		}
		return each(ctx, t, `SELECT id, state FROM fleet_worker`, nil, func(r rows) error {
			var id, state string
			if err := r.Scan(&id, &state); err != nil {
				return err
			}
			known[id] = true
			alive[id] = state == string(WorkerRunning) || state == string(WorkerDraining)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("rescue jobs of lost workers: %w", err)
	}
	list, err := q.be.jobList(ctx, river.NewJobListParams().States(rivertype.JobStateRunning).First(1000))
	if err != nil {
		return nil, fmt.Errorf("rescue jobs of lost workers: %w", err)
	}
	var out []Rescued
	// River's own times (when the job may run again, when it was given
	// up) are River's clock, the real one.
	riverNow := time.Now().UTC()
	for _, j := range list.Jobs {
		if j.AttemptedAt == nil || len(j.AttemptedBy) == 0 {
			continue
		}
		by := j.AttemptedBy[len(j.AttemptedBy)-1]
		if alive[by] || (!known[by] && j.AttemptedAt.After(now.Add(-lease))) {
			continue
		}
		state, finalized := rivertype.JobStateAvailable, (*time.Time)(nil)
		discard := j.Attempt >= j.MaxAttempts
		if discard {
			state, finalized = rivertype.JobStateDiscarded, &riverNow
		}
		msg, err := json.Marshal(rivertype.AttemptError{At: riverNow, Attempt: j.Attempt,
			Error: fmt.Sprintf("worker %s lost its lease (no heartbeat for %s); the job was taken back", by, lease)})
		if err != nil {
			return out, err
		}
		if _, err := q.be.executor().JobRescueMany(ctx, &riverdriver.JobRescueManyParams{
			ID: []int64{j.ID}, Error: [][]byte{msg}, FinalizedAt: []*time.Time{finalized},
			ScheduledAt: []time.Time{riverNow}, State: []string{string(state)},
			// Only this attempt: one that began later is another worker's.
			StuckHorizon: j.AttemptedAt.Add(time.Millisecond),
		}); err != nil {
			return out, fmt.Errorf("rescue job %d: %w", j.ID, err)
		}
		if err := q.ClearRunning(ctx, j.ID, by); err != nil {
			return out, err
		}
		out = append(out, Rescued{Job: j.ID, Worker: by, Attempt: j.Attempt, Discarded: discard})
	}
	return out, nil
}

// Workers lists the workers, newest first.
func (q *Queue) Workers(ctx context.Context) ([]WorkerInfo, error) {
	var out []WorkerInfo
	err := q.be.read(ctx, func(t tx) error {
		return each(ctx, t, `SELECT id, name, host, pid, key_fingerprint, concurrency, version, started_at, heartbeat_at, state
			FROM fleet_worker ORDER BY started_at DESC, id`, nil, func(r rows) error {
			var w WorkerInfo
			var pid, conc, started, hb int64
			var key, state string
			if err := r.Scan(&w.ID, &w.Name, &w.Host, &pid, &key, &conc, &w.Version, &started, &hb, &state); err != nil {
				return err
			}
			w.PID, w.Concurrency, w.Key, w.State = int(pid), int(conc), digest.Digest(key), WorkerState(state)
			w.Started, w.Heartbeat = ms(started), ms(hb)
			out = append(out, w)
			return nil
		})
	})
	return out, err
}
