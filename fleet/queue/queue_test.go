package queue_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	"github.com/riverqueue/river"

	"github.com/reprove/reprove/centre/store/pgtest"
	"github.com/reprove/reprove/fleet/queue"
	"github.com/reprove/reprove/recipes"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// clock is a settable clock for the queue's own times.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// databases gives each test a fresh SQLite file and, unless -short, a
// fresh PostgreSQL database.
func databases(t *testing.T) map[string]string {
	dbs := map[string]string{queue.SQLite: "sqlite:" + filepath.Join(t.TempDir(), "queue.db")}
	if !testing.Short() {
		dbs[queue.Postgres] = pgtest.Database(t)
	}
	return dbs
}

func open(t *testing.T, url string, c *clock) *queue.Queue {
	t.Helper()
	q, err := queue.Open(context.Background(), url, queue.Options{Clock: c.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

const recipeText = `schema: 1
name: hello
version: "1.0"
source:
  dir:
    path: src
    tree: sha256:0000000000000000000000000000000000000000000000000000000000000000
steps:
  - run: [cp, hello.txt, /out/hello]
outputs:
  - path: hello
`

func rebuildJob(t *testing.T, version string) queue.RebuildArgs {
	t.Helper()
	r, err := recipes.ParseIn("hello.yaml", "/recipes", []byte(recipeText))
	if err != nil {
		t.Fatal(err)
	}
	r.Version = version
	j, err := queue.NewRebuild(r, queue.Release{Ecosystem: "test", Watch: "list"})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestEnqueueNewRemembers: a watcher's items are enqueued once, even by a
// watcher that restarts (a new connection) or finds them again.
func TestEnqueueNewRemembers(t *testing.T) {
	ctx := context.Background()
	for name, url := range databases(t) {
		t.Run(name, func(t *testing.T) {
			c := &clock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
			items := func(vs ...string) []queue.WatchItem {
				var out []queue.WatchItem
				for _, v := range vs {
					out = append(out, queue.WatchItem{Item: "hello@" + v, Job: rebuildJob(t, v)})
				}
				return out
			}
			q := open(t, url, c)
			got, err := q.EnqueueNew(ctx, "list", items("1.0", "1.1"))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 {
				t.Fatalf("enqueued %d, want 2", len(got))
			}
			q.Close()
			q = open(t, url, c) // a restarted watcher
			got, err = q.EnqueueNew(ctx, "list", items("1.0", "1.1", "1.2"))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Item != "hello@1.2" {
				t.Fatalf("after a restart enqueued %+v, want only hello@1.2", got)
			}
			seen, err := q.Seen(ctx, "list")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"hello@1.0", "hello@1.1", "hello@1.2"}, seen); diff != "" {
				t.Errorf("seen (-want +got):\n%s", diff)
			}
			jobs, err := q.Jobs(ctx, queue.JobFilter{Builds: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(jobs) != 3 {
				t.Fatalf("%d jobs, want 3", len(jobs))
			}
			for _, j := range jobs {
				if j.State != "available" || j.Outcome != queue.Pending || j.Kind != queue.KindRebuild {
					t.Errorf("job %d: %s %s %s", j.ID, j.Kind, j.State, j.Outcome)
				}
			}
		})
	}
}

// TestResultStoredOnce: the first attempt to finish stores the result and
// enqueues its publication; a second is dropped; a second job with the
// same recipe, key and outputs shares the first one's publication.
func TestResultStoredOnce(t *testing.T) {
	ctx := context.Background()
	for name, url := range databases(t) {
		t.Run(name, func(t *testing.T) {
			c := &clock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
			q := open(t, url, c)
			j := rebuildJob(t, "1.0")
			a, err := q.Enqueue(ctx, j)
			if err != nil {
				t.Fatal(err)
			}
			b, err := q.Enqueue(ctx, j)
			if err != nil {
				t.Fatal(err)
			}
			key := digest.FromString("key")
			pkey := queue.PublicationKey(j.RecipeDigest(), key, map[string]digest.Digest{"hello": digest.FromString("out")})
			res := func(job int64, outcome queue.Outcome) *queue.Result {
				return &queue.Result{Job: job, Worker: "w.1", WorkerName: "w", Key: key, Attempt: 1, Outcome: outcome,
					Recipe: j.Recipe, RecipeDigest: j.RecipeDigest(), Attestations: [][]byte{[]byte(`{"a":1}`)},
					Reports: [][]byte{[]byte(`{"r":1}`)}, Log: []byte("log\xff"), Publication: pkey, Started: c.now(), Finished: c.now()}
			}
			for i, want := range []bool{true, false} {
				stored, err := q.StoreResult(ctx, res(a.ID, []queue.Outcome{queue.Identical, queue.Different}[i]), true)
				if err != nil {
					t.Fatal(err)
				}
				if stored != want {
					t.Errorf("store %d: stored %v, want %v", i, stored, want)
				}
			}
			if stored, err := q.StoreResult(ctx, res(b.ID, queue.Identical), true); err != nil || !stored {
				t.Fatalf("second job: stored %v, %v", stored, err)
			}
			got, err := q.Result(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Outcome != queue.Identical || string(got.Log) != "log\xff" || len(got.Attestations) != 1 || string(got.Reports[0]) != `{"r":1}` {
				t.Errorf("stored result: %+v", got)
			}
			pub, err := q.Publication(ctx, pkey)
			if err != nil {
				t.Fatal(err)
			}
			if pub.Job != a.ID {
				t.Errorf("publication owned by job %d, want %d (the first)", pub.Job, a.ID)
			}
			if err := q.MarkPublished(ctx, pkey, "http://centre", []int64{4, 5}); err != nil {
				t.Fatal(err)
			}
			if pub, _ = q.Publication(ctx, pkey); !cmp.Equal(pub.Entries, []int64{4, 5}) || pub.Published.IsZero() {
				t.Errorf("published: %+v", pub)
			}
			jobs, err := q.Jobs(ctx, queue.JobFilter{})
			if err != nil {
				t.Fatal(err)
			}
			var publishes []int64
			for _, j := range jobs {
				if j.Kind == queue.KindPublish {
					publishes = append(publishes, j.Parent)
				}
			}
			if diff := cmp.Diff([]int64{b.ID, a.ID}, publishes); diff != "" {
				t.Errorf("publish jobs' parents (-want +got):\n%s", diff)
			}
			if _, err := q.Result(ctx, 999); !errors.Is(err, queue.ErrNotFound) {
				t.Errorf("missing result: %v", err)
			}
		})
	}
}

// TestRescueLost: a job running on a worker whose heartbeat stopped for
// longer than the lease goes back to the queue and another worker runs it;
// the lost worker's next heartbeat is refused.
func TestRescueLost(t *testing.T) {
	ctx := context.Background()
	for name, url := range databases(t) {
		t.Run(name, func(t *testing.T) {
			c := &clock{t: time.Now()}
			q := open(t, url, c)
			started := make(chan string, 4)
			release := make(chan struct{})
			client := func(id string) *queue.Client {
				ws := river.NewWorkers()
				river.AddWorker(ws, river.WorkFunc(func(ctx context.Context, j *river.Job[queue.RebuildArgs]) error {
					started <- id
					<-release // worker a, "killed", never finishes
					return nil
				}))
				cl, err := q.NewClient(queue.ClientConfig{ID: id, Workers: ws, PollInterval: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				if err := q.RegisterWorker(ctx, queue.WorkerInfo{ID: id, Name: id}); err != nil {
					t.Fatal(err)
				}
				return cl
			}
			a := client("a.1")
			actx, stopA := context.WithCancel(ctx)
			if err := a.Start(actx); err != nil {
				t.Fatal(err)
			}
			job, err := q.Enqueue(ctx, rebuildJob(t, "1.0"))
			if err != nil {
				t.Fatal(err)
			}
			if got := <-started; got != "a.1" {
				t.Fatalf("started on %s", got)
			}
			// Worker a's heartbeat stops: only b's goes on.
			b := client("b.1")
			bctx, stopB := context.WithCancel(ctx)
			defer stopB()
			if err := b.Start(bctx); err != nil {
				t.Fatal(err)
			}
			if r, err := q.RescueLost(ctx, 30*time.Second); err != nil || len(r) != 0 {
				t.Fatalf("rescued %+v before the lease ran out (%v)", r, err)
			}
			c.add(time.Minute)
			if err := q.Heartbeat(ctx, "b.1", queue.WorkerRunning); err != nil {
				t.Fatal(err)
			}
			r, err := q.RescueLost(ctx, 30*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if len(r) != 1 || r[0].Job != job.ID || r[0].Worker != "a.1" {
				t.Fatalf("rescued %+v, want job %d of a.1", r, job.ID)
			}
			select {
			case got := <-started:
				if got != "b.1" {
					t.Fatalf("restarted on %s", got)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("no worker took the rescued job")
			}
			if err := q.Heartbeat(ctx, "a.1", queue.WorkerRunning); !errors.Is(err, queue.ErrLost) {
				t.Errorf("lost worker's heartbeat: %v", err)
			}
			// Rescuing again leaves b's attempt alone.
			if r, err := q.RescueLost(ctx, 30*time.Second); err != nil || len(r) != 0 {
				t.Errorf("rescued %+v again (%v)", r, err)
			}
			close(release)
			b.Stop(ctx)
			a.Stop(ctx)
			stopA()
		})
	}
}
