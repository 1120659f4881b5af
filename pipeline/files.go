package pipeline

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/reprove/reprove/compare/render"
	"github.com/reprove/reprove/compare/report"
)

func writeJSON(v any) func(io.Writer) error {
	return func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	}
}

// writeReports writes a comparison report as JSON (the source of truth),
// text and HTML, under name (without extension) in the stage.
func writeReports(st *stage, name string, cr *report.Report) error {
	for _, f := range []struct {
		ext   string
		write func(io.Writer) error
	}{
		{".json", cr.WriteJSON},
		{".txt", func(w io.Writer) error { return render.Text(w, cr) }},
		{".html", func(w io.Writer) error { return render.HTML(w, cr) }},
	} {
		if err := st.writeFile(name+f.ext, f.write); err != nil {
			return err
		}
	}
	return nil
}

// keepLog moves a failed build's log under the cache, where it outlives
// the aborted output directory, and names it in the error. Names carry the
// time to the nanosecond and a random part, so two failures in one second
// never share a file.
func keepLog(cache, name, version, log string, now time.Time, err error) error {
	dir := filepath.Join(cache, "logs")
	if os.MkdirAll(dir, 0o755) != nil {
		return err
	}
	clean := safeName(name + "-" + version)
	f, cerr := os.CreateTemp(dir, clean+"-"+now.UTC().Format("20060102T150405.000000000Z")+"-*.log")
	if cerr != nil {
		return err
	}
	dest := f.Name()
	f.Close()
	if os.Rename(log, dest) != nil {
		os.Remove(dest)
		return err
	}
	return fmt.Errorf("%w (build log: %s)", err, dest)
}

// safeName keeps letters, digits and . - _ of s, replacing anything else
// with _, for file names made of recipe names.
func safeName(s string) string {
	return strings.Map(func(c rune) rune {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
			return c
		}
		return '_'
	}, s)
}

// DefaultOutDir is where a recipe's results go when the caller names no
// directory: reprove-out/NAME-VERSION.
func DefaultOutDir(name, version string) string {
	return filepath.Join("reprove-out", safeName(name+"-"+version))
}
