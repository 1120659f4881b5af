package cli

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/reprove/reprove/builder/check"
	"github.com/reprove/reprove/compare"
	"github.com/reprove/reprove/compare/render"
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
		fmt.Fprintf(&long, "  %-11s %s → %s\n", v.Name, v.Normal, v.Varied)
	}
	long.WriteString(`  time        the clock differs between any two builds (SOURCE_DATE_EPOCH does not)

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
			if out == "" {
				out = defaultOutDir(r) + "-check"
			}
			if _, err := os.Lstat(out); err == nil && !force {
				return usageErrorf("%s already exists (use --force to replace it, or -o to choose another directory)", out)
			}
			abs, err := filepath.Abs(out)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
				return err
			}
			var rnd [4]byte
			rand.Read(rnd[:])
			staging := abs + ".partial-" + hex.EncodeToString(rnd[:])
			if err := os.Mkdir(staging, 0o755); err != nil {
				return err
			}
			done := false
			defer func() {
				if !done {
					os.RemoveAll(staging)
				}
			}()

			pr := &progress{w: env.Stderr, quiet: rf.json}
			sess, err := openSession(ctx, env, &rf, pr, nil)
			if err != nil {
				return err
			}
			defer sess.Close()
			rep, err := check.Run(ctx, sess.builder, r, staging, check.Options{
				Bisect:   !noBisect,
				Progress: func(s string) { pr.printf("check", "%s", s) },
			})
			if err != nil {
				return err
			}
			// Explain each output that differs.
			reports := map[string]string{}
			for _, o := range rep.Outputs {
				if o.Same {
					continue
				}
				cr, err := compare.Files(ctx, filepath.Join(rep.NormalDir, filepath.FromSlash(o.Path)), filepath.Join(rep.VariedDir, filepath.FromSlash(o.Path)), compare.Options{TempDir: sess.cache})
				if err != nil {
					return fmt.Errorf("compare %s: %w", o.Path, err)
				}
				cr.Rebuilt.Path = filepath.Join(abs, "normal", filepath.FromSlash(o.Path))
				cr.Shipped.Path = filepath.Join(abs, "varied", filepath.FromSlash(o.Path))
				base := filepath.Join(staging, "compare", filepath.FromSlash(o.Path))
				if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
					return err
				}
				for ext, write := range map[string]func(io.Writer) error{
					".json": cr.WriteJSON,
					".txt":  func(w io.Writer) error { return render.Text(w, cr) },
					".html": func(w io.Writer) error { return render.HTML(w, cr) },
				} {
					if err := writeWith(base+ext, write); err != nil {
						return err
					}
				}
				reports[o.Path] = filepath.Join(abs, "compare", filepath.FromSlash(o.Path)+".txt")
			}
			rep.NormalDir = filepath.Join(abs, "normal")
			rep.VariedDir = filepath.Join(abs, "varied")
			for i := range rep.Builds {
				if rep.Builds[i].Dir != "" {
					rep.Builds[i].Dir = filepath.Join(abs, filepath.Base(rep.Builds[i].Dir))
				}
			}
			if err := writeJSONFile(filepath.Join(staging, "check.json"), rep); err != nil {
				return err
			}
			if force {
				if err := os.RemoveAll(abs); err != nil {
					return err
				}
			}
			if err := os.Rename(staging, abs); err != nil {
				return err
			}
			done = true

			if rf.json {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				printCheck(env.Stdout, rep, reports, abs)
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

func printCheck(w io.Writer, rep *check.Report, reports map[string]string, dir string) {
	verdict := "reproducible"
	if !rep.Reproducible {
		verdict = "not reproducible"
	}
	fmt.Fprintf(w, "%s %s: %s\n", rep.Recipe.Name, rep.Recipe.Version, verdict)
	var varied []string
	for _, v := range rep.Variations {
		varied = append(varied, v.Name)
	}
	fmt.Fprintf(w, "  varied: %s, time\n", strings.Join(varied, ", "))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  OUTPUT\tNORMAL\tVARIED\t")
	for _, o := range rep.Outputs {
		same := "same"
		if !o.Same {
			same = "differs"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", o.Path, o.Normal, o.Varied, same)
	}
	tw.Flush()
	if rep.Bisected {
		if len(rep.Causes) > 0 {
			fmt.Fprintf(w, "  caused by: %s\n", strings.Join(rep.Causes, ", "))
			for _, c := range rep.Causes {
				for _, v := range rep.Variations {
					if v.Name == c {
						fmt.Fprintf(w, "    %s: the outputs change when %s becomes %s\n", c, v.Normal, v.Varied)
					}
				}
			}
		}
		if rep.Note != "" {
			fmt.Fprintf(w, "  %s\n", rep.Note)
		}
	}
	for _, o := range rep.Outputs {
		if p, ok := reports[o.Path]; ok {
			fmt.Fprintf(w, "  why %s differs: %s\n", o.Path, p)
		}
	}
	fmt.Fprintf(w, "results in %s\n", dir)
}
