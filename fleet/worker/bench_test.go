package worker_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprove/reprove/attest/signing"
	"github.com/reprove/reprove/builder/buildertest"
	"github.com/reprove/reprove/centre/store/pgtest"
	"github.com/reprove/reprove/fleet/fleettest"
	"github.com/reprove/reprove/fleet/queue"
	"github.com/reprove/reprove/fleet/worker"
	"github.com/reprove/reprove/internal/treehash"
	"github.com/reprove/reprove/pipeline"
	"github.com/reprove/reprove/recipes"
)

// The fleet's figures (make bench, ci/bench-fleet.sh):
//   - BenchmarkQueueOverhead: the same small rebuild as a direct library
//     call (Session.Rebuild) and as a job (enqueued, taken by a worker, its
//     result stored), one at a time; the difference is the queue's cost
//     per job (target: at most 100 ms).
//   - BenchmarkThroughput: jobs per hour with 1, 2 and 3 workers on
//     simulated builds (a step that sleeps), against the ideal (workers ×
//     one build after another): the queue is not the bottleneck when the
//     ratio stays near 1.
//   - BenchmarkNewGoVersion: on a warm worker (its rootfs layer built), the
//     first rebuild of a program with a Go release its cache has never
//     seen (only the toolchain fetched and layered), against the same
//     rebuild once warm, and on a second warm worker that takes the
//     toolchain from the first one's cache (--shared-cache).

func benchSigner(b *testing.B) *signing.Signer {
	p, err := signing.Generate([]byte("bench"))
	if err != nil {
		b.Fatal(err)
	}
	s, err := signing.Parse(p.Private, []byte("bench"), "bench")
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func benchDatabase(b *testing.B, dialect string) string {
	if dialect == queue.Postgres {
		return pgtest.Database(b)
	}
	return "sqlite:" + filepath.Join(b.TempDir(), "queue.db")
}

// startWorker runs a worker in this process until the benchmark ends.
func startWorker(b *testing.B, q *queue.Queue, d string, name string, signer *signing.Signer) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, worker.Config{Queue: q, Name: name, Signer: signer, Lease: 10 * time.Second, PollInterval: 200 * time.Millisecond,
			Runtime: pipeline.Runtime{ContainerdAddress: d, CacheDir: filepath.Join(b.TempDir(), name), ReproveVersion: "bench"}}, nil)
	}()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}
	b.Cleanup(func() {
		select {
		case <-ctx.Done():
		default:
			stop()
		}
	})
	return stop
}

func loadRecipe(b *testing.B, p string) *recipes.Recipe {
	r, err := recipes.Load(context.Background(), p)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func waitResult(b *testing.B, q *queue.Queue, id int64) *queue.Result {
	for {
		r, err := q.Result(context.Background(), id)
		if err == nil {
			return r
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func BenchmarkQueueOverhead(b *testing.B) {
	for _, dialect := range []string{queue.SQLite, queue.Postgres} {
		b.Run(dialect, func(b *testing.B) {
			ctx := context.Background()
			f := fleettest.Start(b, false, benchDatabase(b, dialect))
			paths := f.WriteRecipes(b, b.TempDir(), []fleettest.Recipe{{Name: "small", Version: "1.0", Script: "cat msg.txt > /out/out", Shipped: []byte("hello from the fleet\n")}})
			r := loadRecipe(b, paths[0])
			signer := benchSigner(b)
			sess, err := pipeline.Open(ctx, pipeline.Runtime{ContainerdAddress: f.Daemon.Address, CacheDir: b.TempDir(), ReproveVersion: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			defer sess.Close()
			startWorker(b, f.Queue, f.Daemon.Address, "overhead", signer)
			job, err := queue.NewRebuild(r, queue.Release{Ecosystem: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			// Warm both paths once.
			direct := func(i int) {
				if _, err := sess.Rebuild(ctx, pipeline.RebuildRequest{Recipe: r, OutDir: filepath.Join(b.TempDir(), fmt.Sprint("d", i)), Signing: &pipeline.Signing{Signer: signer}}); err != nil {
					b.Fatal(err)
				}
			}
			// queued returns the job's whole time, from enqueueing to its
			// result in the queue, and the part of it the worker spent on
			// the job itself (from taking it to storing its result): the
			// rest is the queue's.
			queued := func() (total, work time.Duration) {
				t0 := time.Now()
				e, err := f.Queue.Enqueue(ctx, job)
				if err != nil {
					b.Fatal(err)
				}
				res := waitResult(b, f.Queue, e.ID)
				total = time.Since(t0)
				if res.Outcome != queue.Identical {
					b.Fatalf("job %d: %s %s", e.ID, res.Outcome, res.Error)
				}
				return total, res.Finished.Sub(res.Started)
			}
			direct(-1)
			queued()
			var ds, qs, os []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// Alternate, so both see the same load.
				t0 := time.Now()
				direct(i)
				ds = append(ds, time.Since(t0))
				total, work := queued()
				qs = append(qs, total)
				os = append(os, total-work)
			}
			b.StopTimer()
			b.ReportMetric(ms(median(ds)), "direct-ms/job")
			b.ReportMetric(ms(median(qs)), "queued-ms/job")
			b.ReportMetric(ms(median(os)), "overhead-ms/job")
			b.ReportMetric(ms(percentile(os, 0.9)), "overhead-p90-ms/job")
		})
	}
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchSleep is the simulated build's step.
const benchSleep = 3 * time.Second

func BenchmarkThroughput(b *testing.B) {
	jobs := 12
	if n := os.Getenv("REPROVE_BENCH_JOBS"); n != "" {
		fmt.Sscan(n, &jobs)
	}
	ctx := context.Background()
	for _, workers := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			f := fleettest.Start(b, false, benchDatabase(b, queue.Postgres))
			var rs []fleettest.Recipe
			for i := range jobs {
				rs = append(rs, fleettest.Recipe{Name: fmt.Sprintf("sim%02d", i), Version: "1.0",
					Script: fmt.Sprintf("sleep %d\ncat msg.txt > /out/out", int(benchSleep.Seconds())), Shipped: []byte("hello from the fleet\n")})
			}
			paths := f.WriteRecipes(b, b.TempDir(), rs)
			signer := benchSigner(b)
			// The peer: the same builds as direct library calls, by as many
			// goroutines as there are workers, each with its own session.
			peer := func() time.Duration {
				work := make(chan string, len(paths))
				for _, p := range paths {
					work <- p
				}
				close(work)
				start := time.Now()
				errs := make(chan error, workers)
				for i := range workers {
					go func() {
						sess, err := pipeline.Open(ctx, pipeline.Runtime{ContainerdAddress: f.Daemon.Address, CacheDir: b.TempDir(), ReproveVersion: "bench"})
						if err != nil {
							errs <- err
							return
						}
						defer sess.Close()
						for p := range work {
							if _, err := sess.Rebuild(ctx, pipeline.RebuildRequest{Recipe: loadRecipe(b, p), OutDir: filepath.Join(b.TempDir(), fmt.Sprint("peer", i)), Replace: true,
								Signing: &pipeline.Signing{Signer: signer}}); err != nil {
								errs <- err
								return
							}
						}
						errs <- nil
					}()
				}
				for range workers {
					if err := <-errs; err != nil {
						b.Fatal(err)
					}
				}
				return time.Since(start)
			}
			var stops []func()
			for i := range workers {
				stops = append(stops, startWorker(b, f.Queue, f.Daemon.Address, fmt.Sprint("sim-", i), signer))
			}
			// Best of b.N rounds each, the queue and its peer taking turns:
			// the machine is shared, and a round that met other work
			// says little about either.
			var best, bestDirect float64
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				start := time.Now()
				var ids []int64
				for _, p := range paths {
					j, err := queue.NewRebuild(loadRecipe(b, p), queue.Release{Ecosystem: "bench", Watch: fmt.Sprint(n)})
					if err != nil {
						b.Fatal(err)
					}
					e, err := f.Queue.Enqueue(ctx, j)
					if err != nil {
						b.Fatal(err)
					}
					ids = append(ids, e.ID)
				}
				for _, id := range ids {
					waitResult(b, f.Queue, id)
				}
				elapsed := time.Since(start)
				b.StopTimer()
				direct := peer()
				b.StartTimer()
				best = max(best, float64(jobs)/elapsed.Hours())
				bestDirect = max(bestDirect, float64(jobs)/direct.Hours())
			}
			b.ReportMetric(best, "jobs/hour")
			b.ReportMetric(bestDirect, "direct-jobs/hour")
			b.ReportMetric(best/bestDirect, "of-direct")
			b.StopTimer()
			for _, s := range stops {
				s()
			}
		})
	}
}

func BenchmarkNewGoVersion(b *testing.B) {
	buildertest.NeedContainerd(b)
	ctx := context.Background()
	d := buildertest.Daemon(b)
	const warmGo, newGo = "1.26.8", "1.25.5"
	src := b.TempDir()
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module example.com/hello\n\ngo 1.21\n"), 0o644)
	os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n"), 0o644)
	tree, err := treehash.Dir(ctx, src)
	if err != nil {
		b.Fatal(err)
	}
	recipe := func(goVersion string) *recipes.Recipe {
		return &recipes.Recipe{Schema: 1, Name: "hello", Version: goVersion,
			Source:    recipes.Source{Dir: &recipes.DirSource{Path: src, Tree: tree}},
			Toolchain: recipes.Toolchain{Go: goVersion}, Env: map[string]string{"CGO_ENABLED": "0"},
			Steps:   []recipes.Step{{Run: []string{"go", "build", "-trimpath", "-ldflags=-s -w", "-o", "/out/hello", "."}}},
			Outputs: []recipes.Output{{Path: "hello"}}}
	}
	// rebuild returns the whole rebuild's time and its image phase's (from
	// the first image event to the first build event): the part a new Go
	// release changes, apart from compiling the program, which the
	// machine's load makes noisy.
	rebuild := func(cache string, shared []string, goVersion string) (whole, img time.Duration) {
		var phases []string
		var imageAt, buildAt time.Time
		var mu sync.Mutex
		s, err := pipeline.Open(ctx, pipeline.Runtime{ContainerdAddress: d.Address, CacheDir: cache, SharedCaches: shared, ReproveVersion: "bench",
			Progress: func(e pipeline.Event) {
				mu.Lock()
				defer mu.Unlock()
				if e.Phase == pipeline.PhaseImage && imageAt.IsZero() {
					imageAt = time.Now()
				}
				if e.Phase == pipeline.PhaseBuild && buildAt.IsZero() {
					buildAt = time.Now()
				}
				if e.Message != "" && e.Bytes == 0 && (e.Phase == pipeline.PhaseImage || strings.Contains(e.Message, "golang.org/toolchain")) {
					phases = append(phases, string(e.Phase)+": "+e.Message)
				}
			}})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		t0 := time.Now()
		if _, err := s.Rebuild(ctx, pipeline.RebuildRequest{Recipe: recipe(goVersion), OutDir: filepath.Join(b.TempDir(), "out"), Replace: true}); err != nil {
			b.Fatal(err)
		}
		whole = time.Since(t0)
		b.Logf("go%s in %s: %s", goVersion, filepath.Base(cache), strings.Join(phases, "; "))
		return whole, buildAt.Sub(imageAt)
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		warm := b.TempDir() // the first worker builds an image: its rootfs layer is then cached
		firstEver, firstEverImg := rebuild(filepath.Join(warm, "a"), nil, warmGo)
		// A second worker, as warm as the first was then.
		if out, err := exec.Command("cp", "-a", filepath.Join(warm, "a"), filepath.Join(warm, "b")).CombinedOutput(); err != nil {
			b.Fatalf("cp: %v\n%s", err, out)
		}
		b.StartTimer()
		again, againImg := rebuild(filepath.Join(warm, "a"), nil, warmGo)
		newVersion, newImg := rebuild(filepath.Join(warm, "a"), nil, newGo)
		shared, sharedImg := rebuild(filepath.Join(warm, "b"), []string{filepath.Join(warm, "a")}, newGo)
		b.ReportMetric(ms(firstEverImg)/1000, "cold-image-s")
		b.ReportMetric(ms(againImg)/1000, "warm-image-s")
		b.ReportMetric(ms(newImg)/1000, "new-go-image-s")
		b.ReportMetric(ms(sharedImg)/1000, "new-go-shared-image-s")
		b.ReportMetric(ms(firstEver)/1000, "cold-s")
		b.ReportMetric(ms(again)/1000, "warm-s")
		b.ReportMetric(ms(newVersion)/1000, "new-go-s")
		b.ReportMetric(ms(shared)/1000, "new-go-shared-s")
	}
}
