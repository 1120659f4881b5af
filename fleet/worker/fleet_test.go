package worker_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/builder"
	"github.com/reprove/reprove/centre/client"
	"github.com/reprove/reprove/centre/store/pgtest"
	"github.com/reprove/reprove/fleet/fleettest"
	"github.com/reprove/reprove/fleet/queue"
	"github.com/reprove/reprove/recipes"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestFleet runs three `reprove worker` processes, each with its own cache
// and key, on PostgreSQL and on SQLite: 30 small rebuilds (26 identical,
// 2 different, 2 failing builds) each complete exactly once, with their
// attestations and reports in the centre's log once; the deterministic
// outcomes are not retried. Then one worker is killed (kill -9) in the
// middle of a build: another takes the job over once the lease runs out,
// and the log gains that job's entries once.
func TestFleet(t *testing.T) {
	for _, backend := range []string{queue.Postgres, queue.SQLite} {
		t.Run(backend, func(t *testing.T) {
			pg := backend == queue.Postgres
			db := ""
			if pg {
				db = pgtest.Database(t)
			}
			runFleet(t, fleettest.Start(t, pg, db))
		})
	}
}

func runFleet(t *testing.T, f *fleettest.Fleet) {
	ctx := context.Background()
	dir := t.TempDir()
	var rs []fleettest.Recipe
	want := map[string]queue.Outcome{}
	for i := range 30 {
		out := fmt.Sprintf("hello from the fleet\nrelease %d\n", i)
		r := fleettest.Recipe{Name: fmt.Sprintf("small%02d", i), Version: "1.0",
			Script: fmt.Sprintf("cat msg.txt > /out/out\necho release %d >> /out/out", i), Shipped: []byte(out)}
		want[r.Name] = queue.Identical
		switch i {
		case 7, 19:
			r.Shipped = []byte(out + "and something else\n")
			want[r.Name] = queue.Different
		case 11, 23:
			r.Script = "echo failing on purpose >&2\nexit 3"
			want[r.Name] = queue.Failed
		}
		rs = append(rs, r)
	}
	paths := f.WriteRecipes(t, dir, rs)
	var ws []*fleettest.Worker
	for i := range 3 {
		name := fmt.Sprintf("worker-%d", i)
		ws = append(ws, f.StartWorker(t, fleettest.WorkerOptions{Name: name, Key: f.Key(t, dir, name),
			Cache: filepath.Join(dir, "cache-"+name), Publish: true}))
	}
	add := exec.Command(fleettest.Binary(t), append([]string{"queue", "add", "--database", f.Database, "--ecosystem", "test", "--watch", "small"}, paths...)...)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("reprove queue add: %v\n%s", err, out)
	}
	start := time.Now()
	settled(t, f, 30, 3*time.Minute)
	t.Logf("30 jobs on 3 workers in %s", time.Since(start).Round(time.Millisecond))

	jobs, err := f.Queue.Jobs(ctx, queue.JobFilter{Builds: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 30 {
		t.Fatalf("%d build jobs, want 30", len(jobs))
	}
	entries := 0
	byWorker := map[string]int{}
	var sizes [4]int
	published := 0
	for _, j := range jobs {
		if j.Outcome != want[j.Release.Name] {
			t.Errorf("%s: %s, want %s (%s)", j.Release.Name, j.Outcome, want[j.Release.Name], j.Error)
		}
		if j.State != "completed" || j.Attempt != 1 {
			t.Errorf("%s: River state %s after %d attempts, want completed after 1 (a result is never retried)", j.Release.Name, j.State, j.Attempt)
		}
		res, err := f.Queue.Result(ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		byWorker[res.WorkerName]++
		if !strings.Contains(string(res.Log), "worker") || len(res.ResultJSON) == 0 && res.Outcome != queue.Failed {
			t.Errorf("%s: the result keeps no log or result.json", j.Release.Name)
		}
		if res.Outcome == queue.Failed {
			if !strings.Contains(res.Error, "exited with status 3") || !strings.Contains(string(res.Log), "failing on purpose") {
				t.Errorf("%s: failure %q, log:\n%s", j.Release.Name, res.Error, res.Log)
			}
			continue
		}
		entries += inLog(t, f, res)
		published++
		sizes[0] += len(res.Log)
		sizes[1] += len(res.ResultJSON)
		for _, a := range res.Attestations {
			sizes[2] += len(a)
		}
		for _, r := range res.Reports {
			sizes[3] += len(r)
		}
	}
	t.Logf("jobs per worker: %v", byWorker)
	t.Logf("a published result keeps on average: log %d B, result.json %d B, attestations %d B, compare reports %d B",
		sizes[0]/published, sizes[1]/published, sizes[2]/published, sizes[3]/published)
	size := treeSize(t, f)
	if size != int64(entries) {
		t.Errorf("the log holds %d entries, the jobs published %d: something was published twice", size, entries)
	}

	// kill -9 in the middle of a build.
	slow := f.WriteRecipes(t, filepath.Join(dir, "slow"), []fleettest.Recipe{{Name: "slow", Version: "1.0",
		Script: "sleep 6\ncat msg.txt > /out/out", Shipped: []byte("hello from the fleet\n")}})
	r, err := loadJob(ctx, slow[0])
	if err != nil {
		t.Fatal(err)
	}
	e, err := f.Queue.Enqueue(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	var victim *fleettest.Worker
	fleettest.WaitFor(t, time.Minute, "the slow job's build", func() (bool, error) {
		run, err := f.Queue.Running(ctx)
		for _, j := range run {
			if j.ID == e.ID && j.Phase == "build" {
				for _, w := range ws {
					if w.Name == j.WorkerName {
						victim = w
					}
				}
				return true, err
			}
		}
		return false, err
	})
	victim.Kill()
	t.Logf("killed %s in the build of job %d", victim.Name, e.ID)
	settled(t, f, 31, 2*time.Minute)
	res, err := f.Queue.Result(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.WorkerName == victim.Name || res.Outcome != queue.Identical || res.Attempt != 2 {
		t.Errorf("the slow job: %s by %s on attempt %d, want identical by another worker than %s on attempt 2", res.Outcome, res.WorkerName, res.Attempt, victim.Name)
	}
	entries += inLog(t, f, res)
	if size := treeSize(t, f); size != int64(entries) {
		t.Errorf("after the kill the log holds %d entries, want %d", size, entries)
	}
	// The killed worker's work directories (mounts, disk image) go with
	// the next builder on its cache.
	if _, err := builder.New(builder.Options{Client: f.Daemon.Client, CacheDir: victim.Cache}); err != nil {
		t.Fatal(err)
	}
}

// settled waits until n build jobs have results and no publish job waits.
func settled(t *testing.T, f *fleettest.Fleet, n int, timeout time.Duration) {
	ctx := context.Background()
	fleettest.WaitFor(t, timeout, fmt.Sprintf("%d jobs and their publication", n), func() (bool, error) {
		jobs, err := f.Queue.Jobs(ctx, queue.JobFilter{Limit: 1000})
		if err != nil {
			return false, err
		}
		done := 0
		for _, j := range jobs {
			switch {
			case j.Kind == queue.KindPublish && j.State != "completed":
				return false, nil
			case j.Kind != queue.KindPublish && j.Outcome != queue.Pending && j.State != "running":
				// River records a job's completion a moment after the
				// worker stored its result (its completer batches).
				done++
			}
		}
		return done >= n, nil
	})
}

// inLog checks that every attestation and report of a result is in the
// centre's log, and returns how many entries they are.
func inLog(t *testing.T, f *fleettest.Fleet, res *queue.Result) int {
	t.Helper()
	ctx := context.Background()
	var hashes []tlog.Hash
	for _, a := range res.Attestations {
		leaf, err := client.EnvelopeLeaf(a)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, logproof.LeafHash(leaf))
	}
	for _, r := range res.Reports {
		leaf, err := logproof.CompareReportLeaf(digest.FromBytes(r))
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, logproof.LeafHash(leaf))
	}
	found, err := f.Centre.Log().Store().FindLeaves(ctx, hashes)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != len(hashes) || len(hashes) == 0 {
		t.Errorf("job %d: %d of its %d attestations and reports are in the log", res.Job, len(found), len(hashes))
	}
	return len(hashes)
}

func treeSize(t *testing.T, f *fleettest.Fleet) int64 {
	t.Helper()
	cp, _, err := f.Centre.Log().Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cp.Size
}

func loadJob(ctx context.Context, path string) (queue.RebuildArgs, error) {
	r, err := recipes.Load(ctx, path)
	if err != nil {
		return queue.RebuildArgs{}, err
	}
	return queue.NewRebuild(r, queue.Release{Ecosystem: "test", Watch: "slow"})
}
