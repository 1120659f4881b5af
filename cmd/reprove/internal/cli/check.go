package cli

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/reprove/reprove/builder/check"
	"github.com/reprove/reprove/pipeline"
	"github.com/reprove/reprove/recipes"
)

func newCheckCmd(env *Env) *cobra.Command {
	var (
		rf       runtimeFlags
		out      string
		force    bool
		noBisect bool
	)
	var long strings.Builder
	long.WriteString(`Check, before shipping, that a recipe's build is reproducible: build it twice
with the same containerd builder, once normally and once with every one of
these conditions changed, and compare the outputs bit for bit:

`)
	for _, v := range check.Variations() {
		printf(&long, "  %-11s %s → %s\n", v.Name, v.Normal, v.Varied)
	}
	long.WriteString(`
The clock is shifted by running each step of the varied build under a small
static helper (built by reprove on first use and pinned by digest) that
traces it with ptrace and adds the offset to every read of the wall clock,
static binaries included; file times the kernel writes are not shifted. Any
two builds also start more than a second apart, so a build that embeds the
time differs from the next one too (SOURCE_DATE_EPOCH is the same in every
build).

When the outputs differ, check bisects (unless --no-bisect): it builds once
more normally (if that differs too, the build depends on the clock or is
nondeterministic), then with each variation alone, and names the ones the
outputs depend on. A comparison report explains each difference.

Results go to -o (default reprove-out/NAME-VERSION-check), which appears only
when the check completed: normal/ and varied/ (the outputs), compare/
(reports for the outputs that differ), check.json.

Exit status: 0 reproducible, 3 not reproducible, 1 error, 2 usage.`)
	cmd := &cobra.Command{
		Use:   "check RECIPE",
		Short: "Build twice under varied conditions and say whether (and why) the outputs differ",
		Long:  long.String(),
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx := cmd.Context()
			r, err := recipes.Load(ctx, a[0])
			if err != nil {
				return err
			}
			sess, err := openSession(ctx, env, &rf)
			if err != nil {
				return err
			}
			defer sess.Close()
			rep, err := sess.Check(ctx, pipeline.CheckRequest{Recipe: r, OutDir: out, Replace: force, NoBisect: noBisect})
			var ee *pipeline.ExistsError
			if errors.As(err, &ee) {
				return usageErrorf("%s already exists (use --force to replace it, or -o to choose another directory)", ee.Dir)
			}
			if err != nil {
				return err
			}
			if rf.json {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				printCheck(env.Stdout, stdoutStyle(env), rep)
			}
			if !rep.Reproducible {
				return withCode(ExitNotReproduced)
			}
			return nil
		},
	}
	rf.register(cmd)
	f := cmd.Flags()
	f.StringVarP(&out, "output", "o", "", "output `directory` (must not exist; default reprove-out/NAME-VERSION-check)")
	f.BoolVar(&force, "force", false, "replace the output directory if it exists")
	f.BoolVar(&noBisect, "no-bisect", false, "when the outputs differ, do not look for the variation that causes it")
	return cmd
}

func printCheck(w io.Writer, st style, rep *pipeline.CheckResult) {
	verdict := st.good("reproducible")
	if !rep.Reproducible {
		verdict = st.bad("not reproducible")
	}
	printf(w, "%s %s: %s\n", rep.Recipe.Name, rep.Recipe.Version, verdict)
	var varied []string
	for _, v := range rep.Variations {
		varied = append(varied, v.Name)
	}
	printf(w, "  varied: %s\n", strings.Join(varied, ", "))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	// Every column has a header, so no line ends in padding.
	printLine(tw, "  OUTPUT\tNORMAL\tVARIED\tRESULT")
	for _, o := range rep.Outputs {
		same := "same"
		if !o.Same {
			same = "differs"
		}
		printf(tw, "  %s\t%s\t%s\t%s\n", o.Path, st.digest(o.Normal), st.digest(o.Varied), same)
	}
	tw.Flush()
	if rep.Bisected {
		if len(rep.Causes) > 0 {
			printf(w, "  caused by: %s\n", strings.Join(rep.Causes, ", "))
		}
		// A note says why the causes are not variations tried alone (two
		// normal builds differed): then no variation is explained.
		if rep.Note == "" {
			for _, c := range rep.Causes {
				for _, v := range rep.Variations {
					if v.Name == c {
						printf(w, "    %s: the outputs change when %s becomes %s\n", c, v.Normal, v.Varied)
					}
				}
			}
		}
		if rep.Note != "" {
			printf(w, "  %s\n", rep.Note)
		}
	}
	for _, o := range rep.Outputs {
		if p, ok := rep.Reports[o.Path]; ok {
			printf(w, "  why %s differs: %s\n", o.Path, p)
		}
	}
	printf(w, "results in %s\n", rep.Dir)
}
