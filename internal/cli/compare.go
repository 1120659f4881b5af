package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/reprove/reprove/compare"
	"github.com/reprove/reprove/compare/render"
	"github.com/reprove/reprove/internal/atomicfile"
)

func newCompareCmd(env *Env) *cobra.Command {
	var (
		normalize []string
		jsonOut   bool
		htmlOut   string
		lim       compare.Limits
	)
	var long strings.Builder
	long.WriteString(`Compare a rebuilt artifact with a shipped one, bit for bit, and explain
every difference: archive members (tar, zip/jar, npm .tgz, Go module zips,
Debian .deb), executable sections, symbols and Go build info (ELF, PE,
Mach-O), text lines and byte ranges.

The verdict is one of three exact words:
  identical   the digests are equal (exit 0)
  equivalent  equal once the normalizers you allowed are applied; they are listed (exit 0)
  different   anything else (exit 3)
An error (unreadable or corrupt input, a limit crossed) exits 1 and is never a match.

Normalizers (allow with --normalize NAME, repeatable or comma-separated):
`)
	for _, n := range compare.Normalizers() {
		fmt.Fprintf(&long, "  %-14s %s\n", n.Name, n.Description)
	}
	cmd := &cobra.Command{
		Use:   "compare REBUILT SHIPPED",
		Short: "Compare a rebuilt artifact with a shipped one and explain every difference",
		Long:  long.String(),
		Args:  args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if _, err := compare.CheckNormalizers(normalize); err != nil {
				return usageErrorf("--normalize: %v", err)
			}
			if htmlOut != "" {
				if st, err := os.Stat(htmlOut); err == nil && st.IsDir() {
					return usageErrorf("--html %s: is a directory", htmlOut)
				}
			}
			opts := compare.Options{Normalizers: normalize, Limits: lim}
			if env.IsTerminal && !jsonOut {
				// One status line, rewritten at most ten times a second and
				// cleared at the end.
				var last time.Time
				opts.Progress = func(p compare.Progress) {
					if now := env.Now(); now.Sub(last) >= 100*time.Millisecond {
						last = now
						line := fmt.Sprintf("reprove: %s %s", p.Step, p.Path)
						if p.Bytes > 0 {
							line += fmt.Sprintf(" (%d MiB)", p.Bytes>>20)
						}
						if r := []rune(line); len(r) > 120 {
							line = string(r[:60]) + "…" + string(r[len(r)-59:])
						}
						fmt.Fprintf(env.Stderr, "\r\033[K%s", line)
					}
				}
				defer fmt.Fprint(env.Stderr, "\r\033[K")
			}
			r, err := compare.Files(cmd.Context(), a[0], a[1], opts)
			if err != nil {
				return err
			}
			if htmlOut != "" {
				if err := atomicfile.WriteFunc(htmlOut, 0o644, func(w io.Writer) error { return render.HTML(w, r) }); err != nil {
					return fmt.Errorf("write html report: %w", err)
				}
			}
			if jsonOut {
				err = r.WriteJSON(env.Stdout)
			} else {
				err = render.Text(env.Stdout, r)
			}
			if err != nil {
				return err
			}
			if r.Verdict == compare.Different {
				return withCode(ExitNotReproduced)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&normalize, "normalize", nil, "allow this normalizer (repeatable, or comma-separated)")
	f.BoolVar(&jsonOut, "json", false, "print the report as JSON (schema-versioned)")
	f.StringVar(&htmlOut, "html", "", "also write the report as one self-contained HTML `file`")
	f.IntVar(&lim.MaxChildren, "max-entries-shown", 0, "entries shown per level of the report (default 200)")
	f.IntVar(&lim.MaxLines, "max-lines", 0, "lines shown per text or hex diff (default 200)")
	f.Int64Var(&lim.MaxExpanded, "max-expanded", 0, "bytes that may be decompressed in total (default 32 GiB)")
	f.IntVar(&lim.MaxEntries, "max-members", 0, "members one archive may have (default 1000000)")
	f.IntVar(&lim.MaxDepth, "max-depth", 0, "nesting of archives and compressed streams (default 8)")
	f.Int64Var(&lim.MaxWindow, "max-window", 0, "largest decompressor window, xz dictionary or zstd window, in bytes (default 64 MiB)")
	return cmd
}
