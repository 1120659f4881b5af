package cli

import (
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/reprove/reprove/fleet/queue"
	"github.com/reprove/reprove/recipes"
)

func newQueueCmd(env *Env) *cobra.Command {
	var qf queueFlag
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "Put rebuild jobs on the fleet's queue and list them",
		Args:  args(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	qf.add(cmd)
	cmd.AddCommand(newQueueAddCmd(env, &qf), newQueueInferCmd(env, &qf), newQueueListCmd(env, &qf))
	return cmd
}

func newQueueAddCmd(env *Env, qf *queueFlag) *cobra.Command {
	var ecosystem, watch string
	cmd := &cobra.Command{
		Use:   "add RECIPE…",
		Short: "Enqueue a rebuild of each recipe",
		Long: `Enqueue one rebuild job per recipe. The recipe travels in the job (its
canonical form, so its digest is the one reprove recipe lint prints); local
paths in it (a dir source, a shipped path) are read on the worker, relative
to where the recipe file is here.`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx := cmd.Context()
			var jobs []queue.RebuildArgs
			for _, p := range a {
				r, err := recipes.Load(ctx, p)
				if err != nil {
					return err
				}
				j, err := queue.NewRebuild(r, queue.Release{Ecosystem: ecosystem, Watch: watch})
				if err != nil {
					return err
				}
				jobs = append(jobs, j)
			}
			q, err := qf.open(cmd, env)
			if err != nil {
				return err
			}
			defer q.Close()
			for _, j := range jobs {
				e, err := q.Enqueue(ctx, j)
				if err != nil {
					return err
				}
				printf(env.Stdout, "job %d: rebuild %s %s (recipe %s)\n", e.ID, e.Release.Name, e.Release.Version, j.RecipeDigest())
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&ecosystem, "ecosystem", "recipe", "the `ECOSYSTEM` the dashboard counts the releases under")
	cmd.Flags().StringVar(&watch, "watch", "", "the watch `LIST` the dashboard counts them under")
	return cmd
}

func newQueueInferCmd(env *Env, qf *queueFlag) *cobra.Command {
	var (
		a                            queue.Artifact
		digestS, module              string
		ecosystem, watch, name, vers string
		distribution                 bool
	)
	cmd := &cobra.Command{
		Use:   "infer (--url URL --digest D | --module PATH@VERSION) [--member PATH] --name N --version V",
		Short: "Enqueue a job that infers a recipe for a shipped artifact, then rebuilds it",
		Long: `Enqueue an infer job: the worker fetches the shipped artifact (a file at
--url pinned by --digest, or a module zip from the Go module proxy checked
against the Go checksum database), infers a recipe for the program at
--member inside it (as reprove infer does), and rebuilds it. With
--go-distribution (and --bootstrap) the recipe is the whole Go distribution's
(make.bash -distpack), compared with the golang.org/toolchain module zip.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if digestS != "" {
				d, err := digest.Parse(digestS)
				if err != nil {
					return usageErrorf("--digest: %v", err)
				}
				a.Digest = d
			}
			if module != "" {
				p, v, ok := strings.Cut(module, "@")
				if !ok {
					return usageErrorf("--module: want PATH@VERSION")
				}
				a.Module, a.ModuleVersion = p, v
			}
			a.Recipe = queue.Inferred
			if distribution {
				a.Recipe = queue.GoDistribution
			}
			j := queue.InferArgs{Release: queue.Release{Ecosystem: ecosystem, Watch: watch, Name: name, Version: vers}, Artifact: a}
			if err := queue.CheckJob(j); err != nil {
				return usageErrorf("%v", err)
			}
			q, err := qf.open(cmd, env)
			if err != nil {
				return err
			}
			defer q.Close()
			e, err := q.Enqueue(cmd.Context(), j)
			if err != nil {
				return err
			}
			printf(env.Stdout, "job %d: infer and rebuild %s %s (%s)\n", e.ID, e.Release.Name, e.Release.Version, a.Describe())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&a.URL, "url", "", "the shipped artifact's `URL`")
	f.StringVar(&digestS, "digest", "", "its `DIGEST` (sha256:… or sha512:…)")
	f.StringVar(&module, "module", "", "a Go module version on the proxy, `PATH@VERSION`, instead of --url")
	f.StringVar(&a.Member, "member", "", "the program's `PATH` inside the artifact")
	f.BoolVar(&distribution, "go-distribution", false, "rebuild the whole Go distribution of --module golang.org/toolchain@…")
	f.StringVar(&a.Bootstrap, "bootstrap", "", "with --go-distribution: the Go `RELEASE` that builds it")
	f.StringVar(&ecosystem, "ecosystem", "", "the `ECOSYSTEM` (go, npm, …)")
	f.StringVar(&watch, "watch", "", "the watch `LIST` the dashboard counts it under")
	f.StringVar(&name, "name", "", "the release's `NAME`")
	f.StringVar(&vers, "version", "", "the release's `VERSION`")
	return cmd
}

func newQueueListCmd(env *Env, qf *queueFlag) *cobra.Command {
	var jsonOut bool
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the newest jobs with their state and outcome",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := qf.open(cmd, env)
			if err != nil {
				return err
			}
			defer q.Close()
			jobs, err := q.Jobs(cmd.Context(), queue.JobFilter{Limit: limit})
			if err != nil {
				return err
			}
			if jsonOut {
				return writeJSONOut(env, struct {
					SchemaVersion int             `json:"schemaVersion"`
					Jobs          []queue.JobView `json:"jobs"`
				}{1, nonNilJobs(jobs)})
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			printLine(tw, "JOB\tKIND\tRELEASE\tSTATE\tOUTCOME\tWORKER\tUPDATED")
			for _, j := range jobs {
				printf(tw, "%d\t%s\t%s %s\t%s\t%s\t%s\t%s\n", j.ID, j.Kind, j.Release.Name, j.Release.Version, j.State, j.Outcome, j.WorkerName, j.Updated.UTC().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the jobs as JSON (schemaVersion 1)")
	cmd.Flags().IntVar(&limit, "limit", 100, "list at most `N` jobs")
	return cmd
}

func nonNilJobs(j []queue.JobView) []queue.JobView {
	if j == nil {
		return []queue.JobView{}
	}
	return j
}
