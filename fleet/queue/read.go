package queue

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/riverqueue/river"
)

// What the dashboard reads. Build jobs (rebuild, infer) are releases;
// publish jobs are listed on the queue page only.

// JobView is a job as the dashboard and `reprove queue list` show it.
type JobView struct {
	ID       int64   `json:"id"`
	Kind     string  `json:"kind"`
	Release  Release `json:"release"`
	Artifact string  `json:"artifact,omitempty"`
	// Parent is the job a publish job publishes.
	Parent int64 `json:"parent,omitempty"`
	// State is River's (available, running, retryable, completed,
	// discarded, cancelled, scheduled, pending), or "removed" once River
	// cleaned the job away (the fleet's record stays).
	State       string `json:"state"`
	Attempt     int    `json:"attempt"`
	MaxAttempts int    `json:"maxAttempts"`
	// Outcome is the stored result's (pending while there is none).
	Outcome Outcome `json:"outcome"`
	Error   string  `json:"error,omitempty"`
	// Errors are River's record of failed attempts, oldest first.
	Errors []string `json:"errors,omitempty"`
	// Worker runs the job now (or stored its result), in Phase since
	// Since.
	Worker     string    `json:"worker,omitempty"`
	WorkerName string    `json:"workerName,omitempty"`
	Phase      string    `json:"phase,omitempty"`
	Since      time.Time `json:"since,omitzero"`
	Enqueued   time.Time `json:"enqueued"`
	Finished   time.Time `json:"finished,omitzero"`
	Updated    time.Time `json:"updated"`
	// RecipeDigest is the recipe's (of the result, for an infer job).
	RecipeDigest digest.Digest   `json:"recipeDigest,omitempty"`
	Shipped      []digest.Digest `json:"shipped,omitempty"`
}

// JobFilter selects jobs.
type JobFilter struct {
	// IDs, when set, are the jobs wanted.
	IDs []int64
	// Builds keeps rebuild and infer jobs only.
	Builds bool
	// Ecosystem and Watch (and Name) narrow to a group.
	Ecosystem, Watch, Name string
	// Outcome keeps jobs of one outcome.
	Outcome Outcome
	// Before keeps jobs with a smaller id (paging); Limit caps the count
	// (100 by default).
	Before int64
	Limit  int
}

const jobViewQuery = `SELECT j.job_id, j.kind, j.ecosystem, j.watch, j.name, j.version, j.artifact, j.parent, j.enqueued_at, j.recipe_digest,
	COALESCE(r.outcome, ''), COALESCE(r.error, ''), COALESCE(r.worker, ''), COALESCE(r.worker_name, ''), COALESCE(r.finished_at, 0),
	COALESCE(r.recipe_digest, ''), COALESCE(r.shipped, ''),
	COALESCE(u.worker, ''), COALESCE(w.name, ''), COALESCE(u.phase, ''), COALESCE(u.started_at, 0)
FROM fleet_job j
LEFT JOIN fleet_result r ON r.job_id = j.job_id
LEFT JOIN fleet_running u ON u.job_id = j.job_id
LEFT JOIN fleet_worker w ON w.id = u.worker`

// Jobs lists jobs, newest first, joined with River's state of each.
func (q *Queue) Jobs(ctx context.Context, f JobFilter) ([]JobView, error) {
	where, p := []string{"1 = 1"}, params{}
	if f.Builds {
		where = append(where, "j.kind <> @publish")
		p["publish"] = KindPublish
	}
	for _, c := range []struct{ col, name, v string }{{"j.ecosystem", "eco", f.Ecosystem}, {"j.watch", "watch", f.Watch}, {"j.name", "name", f.Name}} {
		if c.v != "" {
			where = append(where, c.col+" = @"+c.name)
			p[c.name] = c.v
		}
	}
	if f.Before > 0 {
		where = append(where, "j.job_id < @before")
		p["before"] = f.Before
	}
	if len(f.IDs) > 0 {
		var ids []string
		for i, id := range f.IDs {
			k := fmt.Sprintf("id%d", i)
			ids = append(ids, "@"+k)
			p[k] = id
		}
		where = append(where, "j.job_id IN ("+strings.Join(ids, ", ")+")")
	}
	switch f.Outcome {
	case "":
	case Pending:
		where = append(where, "r.job_id IS NULL")
	default:
		where = append(where, "r.outcome = @outcome")
		p["outcome"] = string(f.Outcome)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	p["limit"] = int64(limit)
	var out []JobView
	err := q.be.read(ctx, func(t tx) error {
		return each(ctx, t, jobViewQuery+` WHERE `+strings.Join(where, " AND ")+` ORDER BY j.job_id DESC LIMIT @limit`, p, func(r rows) error {
			var v JobView
			var enq, fin, since int64
			var outcome, runWorker, runName, rdigest, shipped, jdigest string
			if err := r.Scan(&v.ID, &v.Kind, &v.Release.Ecosystem, &v.Release.Watch, &v.Release.Name, &v.Release.Version, &v.Artifact, &v.Parent, &enq, &jdigest,
				&outcome, &v.Error, &v.Worker, &v.WorkerName, &fin, &rdigest, &shipped, &runWorker, &runName, &v.Phase, &since); err != nil {
				return err
			}
			v.Enqueued, v.Finished, v.Since = ms(enq), ms(fin), ms(since)
			v.Outcome = Outcome(outcome)
			if outcome == "" {
				v.Outcome = Pending
			}
			if runWorker != "" {
				v.Worker, v.WorkerName = runWorker, runName
			}
			v.RecipeDigest = digest.Digest(rdigest)
			if v.RecipeDigest == "" {
				v.RecipeDigest = digest.Digest(jdigest)
			}
			for _, s := range strings.Fields(shipped) {
				v.Shipped = append(v.Shipped, digest.Digest(s))
			}
			out = append(out, v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	if err := q.riverStates(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// riverStates fills in River's state of each job.
func (q *Queue) riverStates(ctx context.Context, jobs []JobView) error {
	if len(jobs) == 0 {
		return nil
	}
	ids := make([]int64, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	list, err := q.be.jobList(ctx, river.NewJobListParams().IDs(ids...).First(len(ids)))
	if err != nil {
		return fmt.Errorf("list jobs: %w", err)
	}
	byID := map[int64]int{}
	for i, j := range jobs {
		byID[j.ID] = i
	}
	for _, rj := range list.Jobs {
		v := &jobs[byID[rj.ID]]
		v.State, v.Attempt, v.MaxAttempts = string(rj.State), rj.Attempt, rj.MaxAttempts
		for _, e := range rj.Errors {
			v.Errors = append(v.Errors, e.Error)
		}
		v.Updated = rj.CreatedAt
		if rj.AttemptedAt != nil {
			v.Updated = *rj.AttemptedAt
		}
		if rj.FinalizedAt != nil {
			v.Updated = *rj.FinalizedAt
		}
	}
	for i := range jobs {
		v := &jobs[i]
		if v.State == "" {
			v.State = "removed"
		}
		if v.Updated.IsZero() {
			v.Updated = v.Enqueued
		}
		if !v.Finished.IsZero() && v.Finished.After(v.Updated) {
			v.Updated = v.Finished
		}
	}
	return nil
}

// Group is one ecosystem and watch list.
type Group struct {
	Ecosystem string
	Watch     string
}

// Counts are a group's releases by outcome (each release counted by its
// newest build job): pending counts those with no result yet; failed
// includes jobs River gave up on.
type Counts struct {
	Group
	By    map[Outcome]int
	Total int
}

// Overview counts each group's releases by outcome.
func (q *Queue) Overview(ctx context.Context) ([]Counts, error) {
	by := map[Group]*Counts{}
	err := q.be.read(ctx, func(t tx) error {
		return each(ctx, t, `SELECT j.ecosystem, j.watch,
				CASE WHEN r.outcome IS NOT NULL THEN r.outcome
				     WHEN rj.state IN ('discarded', 'cancelled') THEN 'failed'
				     ELSE 'pending' END AS o,
				COUNT(*)
			FROM fleet_job j
			LEFT JOIN fleet_result r ON r.job_id = j.job_id
			LEFT JOIN river_job rj ON rj.id = j.job_id
			WHERE j.job_id IN (SELECT MAX(job_id) FROM fleet_job WHERE kind <> @publish GROUP BY ecosystem, watch, name, version)
			GROUP BY j.ecosystem, j.watch, o`, params{"publish": KindPublish}, func(r rows) error {
			var g Group
			var o string
			var n int64
			if err := r.Scan(&g.Ecosystem, &g.Watch, &o, &n); err != nil {
				return err
			}
			c := by[g]
			if c == nil {
				c = &Counts{Group: g, By: map[Outcome]int{}}
				by[g] = c
			}
			c.By[Outcome(o)] += int(n)
			c.Total += int(n)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("count releases: %w", err)
	}
	out := make([]Counts, 0, len(by))
	for _, c := range by {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Ecosystem != out[j].Ecosystem {
			return out[i].Ecosystem < out[j].Ecosystem
		}
		return out[i].Watch < out[j].Watch
	})
	return out, nil
}

// Day is one day's finished jobs of a group, by outcome.
type Day struct {
	Group
	Day time.Time
	By  map[Outcome]int
}

// Rate counts the build jobs that finished on each of the last days days
// (UTC), by group and outcome, oldest first.
func (q *Queue) Rate(ctx context.Context, days int) ([]Day, error) {
	const day = int64(24 * time.Hour / time.Millisecond)
	today := q.clock().UTC().Truncate(24 * time.Hour)
	since := today.AddDate(0, 0, -(days - 1)).UnixMilli()
	type key struct {
		Group
		d int64
	}
	by := map[key]*Day{}
	err := q.be.read(ctx, func(t tx) error {
		return each(ctx, t, `SELECT j.ecosystem, j.watch, r.finished_at / @day AS d, r.outcome, COUNT(*)
			FROM fleet_result r JOIN fleet_job j ON j.job_id = r.job_id
			WHERE r.finished_at >= @since
			GROUP BY j.ecosystem, j.watch, d, r.outcome`, params{"day": day, "since": since}, func(r rows) error {
			var k key
			var o string
			var n int64
			if err := r.Scan(&k.Ecosystem, &k.Watch, &k.d, &o, &n); err != nil {
				return err
			}
			d := by[k]
			if d == nil {
				d = &Day{Group: k.Group, Day: time.UnixMilli(k.d * day).UTC(), By: map[Outcome]int{}}
				by[k] = d
			}
			d.By[Outcome(o)] += int(n)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("count finished jobs: %w", err)
	}
	out := make([]Day, 0, len(by))
	for _, d := range by {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Day.Equal(out[j].Day) {
			return out[i].Day.Before(out[j].Day)
		}
		if out[i].Ecosystem != out[j].Ecosystem {
			return out[i].Ecosystem < out[j].Ecosystem
		}
		return out[i].Watch < out[j].Watch
	})
	return out, nil
}

// Dissent is a release the fleet found not reproducing: a different
// outcome, and whether the release before it (of the same name, in the
// same group) reproduced, so that it stopped reproducing here.
type Dissent struct {
	JobView
	// Stopped is true when the previous release of the same name was
	// identical or equivalent.
	Stopped bool
	// Previous is that release's version.
	Previous string
}

// Dissents lists the newest releases whose outcome is different.
func (q *Queue) Dissents(ctx context.Context, limit int) ([]Dissent, error) {
	jobs, err := q.Jobs(ctx, JobFilter{Builds: true, Outcome: Different, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]Dissent, 0, len(jobs))
	for _, j := range jobs {
		d := Dissent{JobView: j}
		err := q.be.read(ctx, func(t tx) error {
			return each(ctx, t, `SELECT j.version, r.outcome FROM fleet_job j JOIN fleet_result r ON r.job_id = j.job_id
				WHERE j.ecosystem = @eco AND j.watch = @watch AND j.name = @name AND j.kind <> @publish AND r.finished_at < @fin
				ORDER BY r.finished_at DESC LIMIT 1`, params{"eco": j.Release.Ecosystem, "watch": j.Release.Watch, "name": j.Release.Name,
				"publish": KindPublish, "fin": j.Finished.UnixMilli()}, func(r rows) error {
				var v, o string
				if err := r.Scan(&v, &o); err != nil {
					return err
				}
				d.Previous = v
				d.Stopped = o == string(Identical) || o == string(Equivalent)
				return nil
			})
		})
		if err != nil {
			return nil, fmt.Errorf("list dissent: %w", err)
		}
		out = append(out, d)
	}
	return out, nil
}

// Running lists the jobs running now, with the worker and the phase.
func (q *Queue) Running(ctx context.Context) ([]JobView, error) {
	var ids []int64
	err := q.be.read(ctx, func(t tx) error {
		return each(ctx, t, `SELECT job_id FROM fleet_running ORDER BY started_at`, nil, func(r rows) error {
			var id int64
			if err := r.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
			return nil
		})
	})
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	return q.Jobs(ctx, JobFilter{IDs: ids, Limit: len(ids)})
}
