package web

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/centre/store"
	"github.com/reprove/reprove/compare/report"
	"github.com/reprove/reprove/compare/verdict"
)

// releaseView is a release page: everything the log holds for one file.
type releaseView struct {
	Digest     digest.Digest
	Names      []string // "name version" from the rebuilds' recipes
	TreeSize   int64
	Checkpoint string
	// Agree and Dissent are the rebuilders' verdicts, side by side.
	Agree, Dissent []*rebuilderView
	Reviews        []*reviewView
	// Rebuilds are rebuilds of this file that no summary here cites.
	Rebuilds []*rebuildView
	// Reports are compare reports no summary here matches.
	Reports []*reportView
	Entries []entryRow
	// Missing lists what summaries cite that the log does not hold.
	Missing []string
}

type rebuilderView struct {
	Name     string
	Verifier string
	// Index is the summary's entry; ComparisonIndex its comparison's.
	Index           int64
	ComparisonIndex int64
	HasComparison   bool
	Signers         []string
	Verdict         string
	Normalizers     []string
	Rebuilt         digest.Digest
	Time            time.Time
	Levels          []string
	Rebuild         *rebuildView
	Report          *reportView
}

type rebuildView struct {
	Index     int64
	Signers   []string
	Recipe    attest.RecipeRef
	Source    string
	Toolchain string
	BaseImage string
	BuilderID string
	Outputs   []attest.Subject
}

type reviewView struct {
	Index      int64
	Signers    []string
	Reviewer   string
	Verdict    string
	Findings   bool
	Scope      string
	Source     string
	ReviewedAt time.Time
	ReportURI  string
	ReportSum  digest.Digest
	Notes      string
}

type reportView struct {
	Index  int64
	Digest digest.Digest
	*report.Report
}

func (h *Handler) release(w http.ResponseWriter, r *http.Request) {
	d, ok := digestQuery(r.PathValue("digest"))
	if !ok {
		h.errorPage(w, http.StatusBadRequest, "Bad digest", "A release is named by the sha256 digest of the shipped file: sha256: and 64 hex digits.")
		return
	}
	if d.String() != r.PathValue("digest") {
		http.Redirect(w, r, "/artifacts/"+d.String(), http.StatusMovedPermanently)
		return
	}
	v, err := h.releaseOf(r.Context(), d)
	if err != nil {
		h.fail(w, err)
		return
	}
	if len(v.Entries) == 0 {
		h.render(w, http.StatusNotFound, "release", "Nothing logged for "+d.String(), d.String(), v)
		return
	}
	title := d.String()
	if len(v.Names) > 0 {
		title = v.Names[0]
	}
	h.render(w, http.StatusOK, "release", title, d.String(), v)
}

func (h *Handler) releaseOf(ctx context.Context, d digest.Digest) (*releaseView, error) {
	cp, _, err := h.log.Latest(ctx)
	if err != nil {
		return nil, err
	}
	v := &releaseView{Digest: d, TreeSize: cp.Size, Checkpoint: string(cp.Note)}
	entries, err := h.st.Lookup(ctx, d, cp.Size, true)
	if err != nil {
		return nil, err
	}
	byPayload := map[digest.Digest][]*store.Entry{}
	described := map[int64]*item.Described{}
	for _, e := range entries {
		v.Entries = append(v.Entries, rowOf(e))
		ds, err := item.Describe(e.Leaf)
		if err != nil {
			continue // rowOf says so in the entries table
		}
		described[e.Index] = ds
		byPayload[e.PayloadDigest] = append(byPayload[e.PayloadDigest], e)
	}
	reports := map[int64]*reportView{}
	for _, e := range entries {
		if ds := described[e.Index]; ds != nil && ds.Kind == item.CompareReport {
			b, err := h.st.CompareReport(ctx, ds.CompareReport)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			rep, err := item.ParseCompareReport(b)
			if err != nil {
				continue
			}
			reports[e.Index] = &reportView{Index: e.Index, Digest: ds.CompareReport, Report: rep}
		}
	}
	usedReport := map[int64]bool{}
	cited := map[int64]bool{}
	names := map[string]bool{}
	rebuildOf := func(e *store.Entry) *rebuildView {
		ds := described[e.Index]
		if ds == nil || ds.Rebuild == nil {
			return nil
		}
		p := ds.Rebuild
		rv := &rebuildView{Index: e.Index, Signers: e.Signers, Recipe: p.Recipe, Source: p.Source.Name(), BuilderID: p.BuilderID, Outputs: p.Outputs}
		if in := p.Input(attest.RoleToolchain); in != nil {
			rv.Toolchain = in.Name
		}
		if in := p.Input(attest.RoleBaseImage); in != nil {
			rv.BaseImage = in.Name
			if dd, ok := in.Digest.Digest(digest.SHA256); ok {
				rv.BaseImage += " (" + dd.String() + ")"
			}
		}
		names[p.Recipe.Name+" "+p.Recipe.Version] = true
		return rv
	}
	findRebuild := func(ref digest.Digest) *rebuildView {
		for _, e := range byPayload[ref] {
			if rv := rebuildOf(e); rv != nil {
				cited[e.Index] = true
				return rv
			}
		}
		v.Missing = append(v.Missing, "rebuild "+ref.String())
		return nil
	}
	usedComparison := map[int64]bool{}
	reportFor := func(c *attest.ComparisonPredicate) *reportView {
		if c.CompareReport == nil {
			return nil
		}
		rd, ok := c.CompareReport.Digest.Digest(digest.SHA256)
		if !ok {
			return nil
		}
		for idx, rep := range reports {
			if rep.Digest == rd {
				usedReport[idx] = true
				return rep
			}
		}
		return nil
	}
	matchReport := func(rebuilt digest.Digest) *reportView {
		for idx, rep := range reports {
			if !usedReport[idx] && rep.Rebuilt.Digest == rebuilt && rep.Shipped.Digest == d {
				usedReport[idx] = true
				return rep
			}
		}
		return nil
	}
	for _, e := range entries {
		ds := described[e.Index]
		if ds == nil || !isSubject(ds, d) {
			continue
		}
		switch {
		case ds.Summary != nil:
			s := ds.Summary
			rb, _ := s.Rebuilt.Digest.Digest(digest.SHA256)
			rv := &rebuilderView{Name: s.Verifier.Display(), Verifier: s.Verifier.ID, Index: e.Index, Signers: e.Signers, Verdict: s.Verdict.String(),
				Normalizers: s.Normalizers, Rebuilt: rb, Time: s.TimeVerified}
			if ref, ok := s.Rebuild.Digest.Digest(digest.SHA256); ok {
				rv.Rebuild = findRebuild(ref)
			}
			for _, r := range s.Reviews {
				if ref, ok := r.Digest.Digest(digest.SHA256); ok && len(byPayload[ref]) == 0 {
					v.Missing = append(v.Missing, "review "+ref.String())
				}
			}
			rv.Report = matchReport(rb)
			if s.Verdict == verdict.Different {
				v.Dissent = append(v.Dissent, rv)
			} else {
				v.Agree = append(v.Agree, rv)
			}
		case ds.VSA != nil:
			s := ds.VSA
			rv := &rebuilderView{Name: signerName(e, s.Verifier), Verifier: s.Verifier, Index: e.Index, Signers: e.Signers,
				Verdict: strings.ToLower(s.Result), Time: s.Time, Levels: s.Levels}
			var comp *item.Described
			for _, in := range s.Inputs {
				found := false
				for _, ce := range byPayload[in] {
					cd := described[ce.Index]
					switch {
					case cd == nil:
					case cd.Comparison != nil && comp == nil:
						comp, found = cd, true
						usedComparison[ce.Index] = true
						rv.ComparisonIndex, rv.HasComparison = ce.Index, true
					case cd.Rebuild != nil && rv.Rebuild == nil:
						rv.Rebuild, found = rebuildOf(ce), true
						cited[ce.Index] = true
					case cd.Review != nil:
						found = true
					}
				}
				if !found {
					v.Missing = append(v.Missing, "input attestation "+in.String())
				}
			}
			dissent := s.Result != attest.ResultPassed
			if comp != nil {
				c := comp.Comparison
				rv.Verdict, rv.Normalizers = c.Verdict.String(), c.Normalizers
				rv.Rebuilt, _ = c.Rebuilt.Digest.Digest(digest.SHA256)
				rv.Report = reportFor(c)
				dissent = dissent || c.Verdict == verdict.Different
			}
			if rv.Report == nil && rv.Rebuilt != "" {
				rv.Report = matchReport(rv.Rebuilt)
			}
			if dissent {
				v.Dissent = append(v.Dissent, rv)
			} else {
				v.Agree = append(v.Agree, rv)
			}
		}
	}
	// Comparisons no VSA here cites speak for themselves.
	for _, e := range entries {
		ds := described[e.Index]
		if ds == nil || ds.Comparison == nil || usedComparison[e.Index] || !isSubject(ds, d) {
			continue
		}
		c := ds.Comparison
		rv := &rebuilderView{Name: signerName(e, ""), Index: e.Index, Signers: e.Signers, Verdict: c.Verdict.String(), Normalizers: c.Normalizers}
		rv.Rebuilt, _ = c.Rebuilt.Digest.Digest(digest.SHA256)
		if ref, ok := c.Rebuild.Digest.Digest(digest.SHA256); ok {
			rv.Rebuild = findRebuild(ref)
		}
		rv.Report = reportFor(c)
		if c.Verdict == verdict.Different {
			v.Dissent = append(v.Dissent, rv)
		} else {
			v.Agree = append(v.Agree, rv)
		}
	}
	for _, e := range entries {
		ds := described[e.Index]
		switch {
		case ds == nil:
		case ds.Review != nil:
			p := ds.Review
			rv := &reviewView{Index: e.Index, Signers: e.Signers, Reviewer: p.Reviewer.Display(), Verdict: p.Verdict.String(),
				Findings: p.Verdict == attest.Findings, Source: p.Source.Name(), ReviewedAt: p.ReviewedAt, Notes: p.Notes, Scope: "everything"}
			if !p.Scope.All {
				rv.Scope = strings.Join(p.Scope.Paths, ", ")
			}
			if p.Report != nil {
				rv.ReportURI, rv.ReportSum = p.Report.URI, p.Report.Digest
			}
			v.Reviews = append(v.Reviews, rv)
		case ds.Rebuild != nil && !cited[e.Index]:
			if rv := rebuildOf(e); rv != nil {
				v.Rebuilds = append(v.Rebuilds, rv)
			}
		}
	}
	for idx, rep := range reports {
		if !usedReport[idx] {
			v.Reports = append(v.Reports, rep)
		}
	}
	sort.Slice(v.Reports, func(i, j int) bool { return v.Reports[i].Index < v.Reports[j].Index })
	for n := range names {
		v.Names = append(v.Names, n)
	}
	sort.Strings(v.Names)
	return v, nil
}

// signerName is how a rebuilder is shown: the name its key was registered
// under, else the verifier it names.
func signerName(e *store.Entry, verifier string) string {
	if len(e.Signers) > 0 {
		return strings.Join(e.Signers, ", ")
	}
	return verifier
}

func isSubject(ds *item.Described, d digest.Digest) bool {
	for _, s := range ds.Subjects {
		if s.Digest == d {
			return true
		}
	}
	return false
}
