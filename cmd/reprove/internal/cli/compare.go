package cli

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reprove/reprove/compare"
	"github.com/reprove/reprove/compare/render"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/internal/atomicfile"
)

// compareMemoryLimit is the Go runtime's soft memory limit while compare
// runs, unless GOMEMLIMIT sets one.
const compareMemoryLimit = 192 << 20

// compareGCPercent is the collector's GOGC while compare runs under
// compareMemoryLimit, unless GOGC sets one.
const compareGCPercent = 400

func newCompareCmd(env *Env) *cobra.Command {
	var (
		normalize []string
		jsonOut   bool
		htmlOut   string
		lim       compare.Limits
		show      = render.DefaultOptions()
	)
	var long strings.Builder
	long.WriteString(`Compare a rebuilt artifact with a shipped one, bit for bit, and explain
every difference: archive members (tar, zip/jar, npm .tgz, Go module zips,
Debian .deb); for executables (ELF, PE, Mach-O, stripped or not) Go build
info, functions (from the Go pclntab or the symbol table, disassembled),
data and string literals, each identical, moved, changed, added or removed,
causes first; text lines and byte ranges.

The verdict is one of three exact words:
  identical   the digests are equal (exit 0)
  equivalent  equal once the normalizers you allowed are applied; they are listed (exit 0)
  different   anything else (exit 3)
An error (unreadable or corrupt input, a limit crossed) exits 1 and is never a match.

Normalizers (allow with --normalize NAME, repeatable or comma-separated):
`)
	for _, n := range verdict.Normalizers() {
		printf(&long, "  %-14s %s\n", n.Name, n.Description)
	}
	cmd := &cobra.Command{
		Use:   "compare REBUILT SHIPPED",
		Short: "Compare a rebuilt artifact with a shipped one and explain every difference",
		Long:  long.String(),
		Args:  args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if _, err := verdict.CheckNormalizers(normalize); err != nil {
				return usageErrorf("--normalize: %v", err)
			}
			if htmlOut != "" {
				if st, err := os.Stat(htmlOut); err == nil && st.IsDir() {
					return usageErrorf("--html %s: is a directory", htmlOut)
				}
			}
			if os.Getenv("GOMEMLIMIT") == "" {
				// Most of what a comparison allocates is short-lived
				// (decoded instructions, decompression windows): with
				// the default pacing the heap grows to twice the live
				// data before it is collected. A soft limit keeps a
				// comparison of two Go toolchains (two 25 MB compilers
				// disassembled) under 256 MiB; the collector works harder
				// only near it.
				debug.SetMemoryLimit(compareMemoryLimit)
				if os.Getenv("GOGC") == "" {
					// Under that limit, collect less often than
					// the default: a small comparison (a Debian
					// package: some 40 MiB allocated, 20 live)
					// otherwise spends a quarter of its CPU
					// collecting, and a large one reaches the
					// limit either way.
					debug.SetGCPercent(compareGCPercent)
				}
			}
			opts := compare.Options{Normalizers: normalize, Limits: lim}
			if !jsonOut && env.status != nil {
				opts.Progress = func(p compare.Progress) {
					line := fmt.Sprintf("reprove: %s %s", p.Step, p.Path)
					if p.Bytes > 0 {
						line += " (" + humanSize(p.Bytes) + ")"
					}
					env.status.show("compare", line)
				}
				defer env.status.clear()
			}
			r, err := compare.Files(cmd.Context(), a[0], a[1], opts)
			if err != nil {
				return err
			}
			if htmlOut != "" {
				if err := atomicfile.WriteFunc(htmlOut, 0o644, func(w io.Writer) error { return show.HTML(w, r) }); err != nil {
					return fmt.Errorf("write html report: %w", err)
				}
			}
			if jsonOut {
				// The JSON report is the source of truth: never cut.
				err = r.WriteJSON(env.Stdout)
			} else {
				err = show.Text(env.Stdout, r)
			}
			if err != nil {
				return err
			}
			if r.Verdict == verdict.Different {
				return withCode(ExitNotReproduced)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&normalize, "normalize", nil, "allow this normalizer (repeatable, or comma-separated)")
	f.BoolVar(&jsonOut, "json", false, "print the report as JSON (schema-versioned)")
	f.StringVar(&htmlOut, "html", "", "also write the report as one self-contained HTML `file`")
	def := compare.DefaultLimits()
	lim.MaxExpanded, lim.MaxWindow = def.MaxExpanded, def.MaxWindow
	f.IntVar(&show.MaxEntries, "max-entries-shown", show.MaxEntries, "differences shown per level of the text and HTML reports, 0 for no limit (--json is never cut)")
	f.IntVar(&show.MaxLines, "max-lines", show.MaxLines, "lines shown per diff in the text and HTML reports, 0 for no limit")
	f.Var((*sizeFlag)(&lim.MaxExpanded), "max-expanded", "bytes that may be decompressed in total, with a unit: B, KiB, MiB, GiB, TiB")
	f.IntVar(&lim.MaxEntries, "max-members", def.MaxEntries, "members one archive may have")
	f.IntVar(&lim.MaxDepth, "max-depth", def.MaxDepth, "nesting of archives and compressed streams")
	f.Var((*sizeFlag)(&lim.MaxWindow), "max-window", "largest decompressor window (xz dictionary, zstd window), with a unit: B, KiB, MiB, GiB, TiB")
	return cmd
}
