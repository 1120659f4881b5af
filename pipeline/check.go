package pipeline

import (
	"context"
	"fmt"
	"path"
	"path/filepath"

	"github.com/reprove/reprove/builder/check"
	"github.com/reprove/reprove/compare"
	"github.com/reprove/reprove/recipes"
)

// CheckRequest is one reproducibility check to run.
type CheckRequest struct {
	Recipe *recipes.Recipe
	// OutDir receives the results; it must not exist unless Replace.
	OutDir  string
	Replace bool
	// NoBisect skips looking for the variation that causes a difference.
	NoBisect bool
}

// CheckResult is a finished check: check's report (check.json), with the
// comparison report written for each output that differs.
type CheckResult struct {
	*check.Report
	// Reports maps each differing output to its text report (absolute
	// path; .json and .html beside it).
	Reports map[string]string `json:"reports,omitempty"`
	// Dir is the output directory (absolute).
	Dir string `json:"dir"`
}

// Check builds the recipe twice under varied conditions (see builder/check)
// and explains each output that differs. The output directory appears
// whole or not at all.
func (s *Session) Check(ctx context.Context, req CheckRequest) (res *CheckResult, err error) {
	r := req.Recipe
	if r == nil {
		return nil, fmt.Errorf("check: no recipe")
	}
	out := req.OutDir
	if out == "" {
		out = DefaultOutDir(r.Name, r.Version) + "-check"
	}
	st, err := newStage(out, req.Replace)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			st.abort()
		}
	}()
	b, err := s.Builder(nil)
	if err != nil {
		return nil, err
	}
	rep, err := check.Run(ctx, b, r, st.dir, check.Options{
		Bisect:   !req.NoBisect,
		Progress: func(m string) { s.sayf(PhaseCheck, "%s", m) },
	})
	if err != nil {
		return nil, err
	}
	res = &CheckResult{Report: rep, Reports: map[string]string{}, Dir: st.final}
	for _, o := range rep.Outputs {
		if o.Same {
			continue
		}
		s.sayf(PhaseCompare, "%s: normal and varied builds", o.Path)
		cr, err := compare.Files(ctx, filepath.Join(rep.NormalDir, filepath.FromSlash(o.Path)), filepath.Join(rep.VariedDir, filepath.FromSlash(o.Path)),
			compare.Options{TempDir: s.rt.CacheDir})
		if err != nil {
			return nil, fmt.Errorf("compare %s: %w", o.Path, err)
		}
		cr.Rebuilt.Path = "normal/" + o.Path // by role, not by a path on this machine
		cr.Shipped.Path = "varied/" + o.Path
		if err := writeReports(st, path.Join("compare", o.Path), cr); err != nil {
			return nil, err
		}
		res.Reports[o.Path] = st.finalPath(path.Join("compare", o.Path) + ".txt")
	}
	// Paths in the report name where things end up.
	rep.NormalDir = st.finalPath("normal")
	rep.VariedDir = st.finalPath("varied")
	for i := range rep.Builds {
		if rep.Builds[i].Dir != "" {
			rep.Builds[i].Dir = st.finalPath(filepath.Base(rep.Builds[i].Dir))
		}
	}
	if err := st.writeFile("check.json", writeJSON(res)); err != nil {
		return nil, err
	}
	if err := st.commit(req.Replace); err != nil {
		return nil, err
	}
	return res, nil
}
