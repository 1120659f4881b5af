package cli

import (
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/reprove/reprove/builder"
	"github.com/reprove/reprove/fleet/queue"
	"github.com/reprove/reprove/fleet/worker"
	"github.com/reprove/reprove/internal/cachedir"
	"github.com/reprove/reprove/pipeline"
)

// queueFlag is the --database flag of the fleet's commands.
type queueFlag struct{ database string }

func (f *queueFlag) add(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.database, "database", "", "the job queue: a postgres:// `URL` (a fleet), or sqlite:PATH (one machine); default $REPROVE_QUEUE, else sqlite under $XDG_DATA_HOME/reprove")
}

// url resolves the flag and the environment into the queue's database.
func (f *queueFlag) url(env *Env) (string, error) {
	u := f.database
	if u == "" {
		u = env.Getenv("REPROVE_QUEUE")
	}
	if u == "" {
		d := env.Getenv("XDG_DATA_HOME")
		if d == "" {
			home := env.Getenv("HOME")
			if home == "" {
				return "", usageErrorf("--database is required (no HOME to put the queue under)")
			}
			d = filepath.Join(home, ".local", "share")
		}
		u = "sqlite:" + filepath.Join(d, "reprove", "queue.db")
	}
	if _, _, err := queue.ParseURL(u); err != nil {
		return "", usageErrorf("--database: %v", err)
	}
	return u, nil
}

func (f *queueFlag) open(cmd *cobra.Command, env *Env) (*queue.Queue, error) {
	u, err := f.url(env)
	if err != nil {
		return nil, err
	}
	return queue.Open(cmd.Context(), u, queue.Options{Clock: env.Now})
}

func newWorkerCmd(env *Env) *cobra.Command {
	var (
		qf                          queueFlag
		rf                          runtimeFlags
		name, keyPath, builderID    string
		server, logKey, cache       string
		concurrency                 int
		lease, retryAfter, interval time.Duration
		keep                        bool
		shared                      []string
	)
	cmd := &cobra.Command{
		Use:   "worker --key KEY [--database URL] [--server URL]",
		Short: "Take rebuild jobs from the fleet's queue, run them, sign and publish the results",
		Long: `Run a rebuild worker: take jobs from the queue (--database: PostgreSQL for a
fleet of machines, SQLite for one), rebuild each in this worker's own
containerd and cache, sign the attestations with this worker's key (--key,
a rebuilder key the centre knows), keep the job's log, result, recipe and
attestations in the queue, and publish them to the transparency centre
(--server).

Jobs come from 'reprove queue add' (a recipe), 'reprove queue infer' (a
shipped artifact) and the watchers ('reprove watch'). A transient failure (a
fetch that timed out, a daemon that did not start, the centre unreachable)
is retried with backoff (--retry-after, doubled each time); a deterministic
outcome (different, a build error) is a result, never retried.

Workers share nothing but the queue and the centre. Each keeps a lease: a
heartbeat every quarter of --lease; a worker killed mid-job loses it, and
another worker runs the job again. A job's result is stored once, and the
same recipe, key and outputs are published once.

SIGTERM or SIGINT drains the worker: it takes no more jobs and finishes the
running ones; a second signal cancels them (other workers will run them).`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if rf.json {
				return usageErrorf("worker has no --json: its results are in the queue")
			}
			if concurrency < 1 {
				return usageErrorf("--concurrency must be at least 1")
			}
			if lease < 2*time.Second {
				return usageErrorf("--lease must be at least 2s")
			}
			if logKey != "" && server == "" {
				return usageErrorf("--log-key needs --server")
			}
			if logKey != "" {
				if _, err := pipeline.ReadLogKey(logKey); err != nil {
					return usageErrorf("--log-key: %v", err)
				}
			}
			if name == "" {
				h, err := os.Hostname()
				if err != nil {
					return usageErrorf("--name is required (no host name): %v", err)
				}
				name = h
			}
			if strings.ContainsAny(name, "/\x00\n") || len(name) > 64 {
				return usageErrorf("--name %q: at most 64 characters, no slash", name)
			}
			limits, err := rf.limits()
			if err != nil {
				return err
			}
			if _, err := qf.url(env); err != nil {
				return err
			}
			if err := builder.NeedRoot(); err != nil {
				return err
			}
			signer, err := loadSigner(cmd, env, keyPath)
			if err != nil {
				return err
			}
			if cache == "" {
				base, err := cachedir.Dir(env.Getenv)
				if err != nil {
					return err
				}
				cache = filepath.Join(base, "workers", name)
			}
			if cache, err = filepath.Abs(cache); err != nil {
				return err
			}
			for i, d := range shared {
				if shared[i], err = filepath.Abs(d); err != nil {
					return err
				}
				if shared[i] == cache {
					return usageErrorf("--shared-cache %s is this worker's own cache", d)
				}
			}
			q, err := qf.open(cmd, env)
			if err != nil {
				return err
			}
			defer q.Close()
			// The first signal cancels ctx (main's): drain. A second one
			// cancels the running jobs.
			sigs := make(chan os.Signal, 2)
			signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sigs)
			abort := make(chan struct{})
			go func() {
				n := 0
				for range sigs {
					if n++; n == 2 {
						close(abort)
						return
					}
				}
			}()
			return worker.Run(ctx, worker.Config{
				Queue: q, Name: name, Signer: signer, BuilderID: builderID,
				Server: server, LogKey: logKey, Concurrency: concurrency,
				Lease: lease, RetryAfter: retryAfter, PollInterval: interval, KeepResults: keep,
				Runtime: pipeline.Runtime{
					ContainerdAddress: rf.address, CacheDir: cache, DebianMirror: rf.mirror, GoProxy: rf.proxy,
					Limits: limits, ReproveVersion: Version(), Refetch: rf.refetch, Now: env.Now, SharedCaches: shared,
				},
				Version: Version(),
				Logf:    func(format string, a ...any) { printf(env.Stderr, "reprove: worker "+format+"\n", a...) },
				Clock:   env.Now,
			}, abort)
		},
	}
	qf.add(cmd)
	rf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "this worker's `NAME` on the dashboard and in its builder id (default: the host name)")
	f.StringVar(&keyPath, "key", "", "sign attestations with this rebuilder's private `KEY` (cosign format; password from REPROVE_PASSWORD or COSIGN_PASSWORD)")
	f.StringVar(&builderID, "builder-id", "", "`URI` naming this rebuilder in attestations (default "+worker.DefaultBuilderID+"NAME)")
	f.StringVar(&server, "server", "", "publish to the transparency centre at `URL` (without it results stay in the queue)")
	f.StringVar(&logKey, "log-key", "", "the centre's log verifier `KEY` (or a file holding it); without it the key the centre names is trusted")
	f.StringVar(&cache, "cache", "", "this worker's own cache `DIR` (default: workers/NAME under reprove's cache)")
	f.IntVar(&concurrency, "concurrency", 1, "how many builds run at once")
	f.DurationVar(&lease, "lease", worker.DefaultLease, "how long this worker may miss its heartbeat before its jobs go to others")
	f.DurationVar(&retryAfter, "retry-after", worker.DefaultRetryAfter, "wait before retrying a transient failure (doubled at each attempt)")
	f.DurationVar(&interval, "poll", time.Second, "how often to look for new jobs (PostgreSQL also hears of them at once)")
	f.StringArrayVar(&shared, "shared-cache", nil, "another reprove cache `DIR`, read-only, that downloads and Go modules may be copied from (each checked against its pin on the way; repeatable)")
	f.BoolVar(&keep, "keep-results", false, "keep each job's results directory (outputs, reports) under the cache")
	f.MarkHidden("json")
	return cmd
}
