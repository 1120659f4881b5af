package web

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
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
	Digest digest.Digest
	// Title is the shipped file's most-attested name: the name that the
	// most distinct signers give the file as a subject (claims, not
	// facts); TitleClaimants are who claim it, OtherNames the rest.
	Title          string
	TitleClaimants []string
	OtherNames     []string
	// Names are "name version" of the rebuilds' recipes.
	Names      []string
	TreeSize   int64
	Checkpoint string
	// Agree and Dissent are the rebuilders' verdicts, side by side;
	// Broken are those whose chain does not close.
	Agree, Dissent, Broken []*rebuilderView
	Reviews                []*reviewView
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
	// Reviews are the entries of the reviews the chain rests on.
	Reviews []int64
	Report  *reportView
	// Problem is why the chain does not close ("" when it does).
	Problem string
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
	if v.Title != "" {
		title = v.Title
	}
	h.render(w, http.StatusOK, "release", title, d.String(), v)
}

// releaseOf reads what the log holds for file d into a page. The chains
// (summary → comparison → rebuild → reviews) are attest's statement
// graph's (attest.Graph.Follow, the links `reprove verify` follows too):
// the page renders them and decides nothing of its own about what a
// summary rests on.
func (h *Handler) releaseOf(ctx context.Context, d digest.Digest) (*releaseView, error) {
	cp, _, err := h.log.Latest(ctx)
	if err != nil {
		return nil, err
	}
	entries, err := h.st.Lookup(ctx, d, cp.Size, true)
	if err != nil {
		return nil, err
	}
	r := readRelease(d, entries, h.clock())
	if err := r.readReports(ctx, h.st); err != nil {
		return nil, err
	}
	r.v.TreeSize, r.v.Checkpoint = cp.Size, string(cp.Note)
	return r.view(), nil
}

// release is the graph of what the log holds for one file, with the log's
// entries beside its statements, while a page of it is made.
type release struct {
	v *releaseView
	g *attest.Graph
	// first and described are, by payload digest, the first entry that
	// carries a statement and what it says; byIndex is each entry's.
	first     map[digest.Digest]*store.Entry
	described map[digest.Digest]*item.Described
	byIndex   map[int64]*item.Described
	entries   []*store.Entry
	// reports are the logged compare reports, by entry; usedReport those
	// a rebuilder's card shows.
	reports    []*reportView
	usedReport map[int64]bool
	// cited are the rebuilds a chain rests on; names the recipes shown.
	cited map[digest.Digest]bool
	names map[string]bool
}

// readRelease puts entries in a graph of statements about d, as of now.
// Every statement the log holds was signed by a registered key when it
// was logged: its signers are the names those keys are registered by.
func readRelease(d digest.Digest, entries []*store.Entry, now time.Time) *release {
	r := &release{v: &releaseView{Digest: d}, g: attest.NewGraph(attest.DigestSet{"sha256": d.Encoded()}, now),
		first: map[digest.Digest]*store.Entry{}, described: map[digest.Digest]*item.Described{}, byIndex: map[int64]*item.Described{},
		entries: entries, usedReport: map[int64]bool{}, cited: map[digest.Digest]bool{}, names: map[string]bool{}}
	for _, e := range entries {
		r.v.Entries = append(r.v.Entries, rowOf(e))
		ds, err := item.Describe(e.Leaf)
		if err != nil {
			continue // rowOf says so in the entries table
		}
		r.byIndex[e.Index] = ds
		if ds.Statement == nil {
			continue
		}
		if r.first[e.PayloadDigest] == nil {
			r.first[e.PayloadDigest], r.described[e.PayloadDigest] = e, ds
		}
		r.g.Add("entry "+strconv.FormatInt(e.Index, 10), e.PayloadDigest, ds.Statement, e.Signers)
	}
	return r
}

// readReports reads the compare reports among the entries.
func (r *release) readReports(ctx context.Context, st store.Store) error {
	for _, e := range r.entries {
		ds := r.byIndex[e.Index]
		if ds == nil || ds.Kind != item.CompareReport {
			continue
		}
		b, err := st.CompareReport(ctx, ds.CompareReport)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		rep, err := item.ParseCompareReport(b)
		if err != nil {
			continue
		}
		r.reports = append(r.reports, &reportView{Index: e.Index, Digest: ds.CompareReport, Report: rep})
	}
	return nil
}

// view renders the graph: each summary about the file (and each
// comparison no summary cites) followed along its chain, the rebuilds no
// chain rests on, and the reviews of the sources the chains' rebuilds
// name.
func (r *release) view() *releaseView {
	v := r.v
	var sources []attest.Source
	for _, n := range append(r.g.Summaries(), r.g.UncitedComparisons()...) {
		ch := r.g.Follow(n)
		rv := r.rebuilder(ch)
		switch {
		case ch.Err != nil:
			v.Broken = append(v.Broken, rv)
		case ch.Dissents():
			v.Dissent = append(v.Dissent, rv)
		default:
			v.Agree = append(v.Agree, rv)
		}
		if ch.Provenance != nil {
			sources = append(sources, ch.Provenance.Source)
		}
	}
	for _, n := range r.g.Nodes() {
		if n.Read() && n.Statement.PredicateType == attest.ProvenancePredicateType && !r.cited[n.Digest] {
			if rv := r.rebuild(n); rv != nil {
				v.Rebuilds = append(v.Rebuilds, rv)
			}
		}
	}
	v.Reviews = r.reviewsOf(sources)
	for _, rep := range r.reports {
		if !r.usedReport[rep.Index] {
			v.Reports = append(v.Reports, rep)
		}
	}
	for n := range r.names {
		v.Names = append(v.Names, n)
	}
	sort.Strings(v.Names)
	v.Title, v.TitleClaimants, v.OtherNames = titleOf(r.entries, r.byIndex, v.Digest)
	return v
}

// rebuilder renders one chain: what its head says, the rebuild and the
// reviews it rests on, its compare report, and why it does not close.
func (r *release) rebuilder(ch *attest.Chain) *rebuilderView {
	head := ch.Head()
	rv := &rebuilderView{Name: strings.Join(head.Signers, ", "), Verifier: ch.Verifier.ID, Index: r.first[head.Digest].Index, Signers: head.Signers,
		Normalizers: ch.Normalizers, Rebuilt: ch.Rebuilt, Time: ch.Time, Levels: ch.Levels}
	if ch.Summary != nil && ch.Summary.Statement.PredicateType == attest.SummaryPredicateType {
		rv.Name = ch.Verifier.Display() // reprove's earlier summary names its verifier
	} else if rv.Name == "" {
		rv.Name = ch.Verifier.ID
	}
	var unknown verdict.Verdict
	if rv.Verdict = strings.ToLower(ch.Result); ch.Verdict != unknown {
		rv.Verdict = ch.Verdict.String()
	}
	if ch.Summary != nil && ch.Comparison != nil {
		rv.ComparisonIndex, rv.HasComparison = r.first[ch.Comparison.Digest].Index, true
	}
	if ch.Rebuild != nil {
		r.cited[ch.Rebuild.Digest] = true
		rv.Rebuild = r.rebuild(ch.Rebuild)
	}
	for _, n := range ch.Reviews {
		rv.Reviews = append(rv.Reviews, r.first[n.Digest].Index)
	}
	rv.Report = r.reportFor(ch)
	if ch.Err != nil {
		rv.Problem = ch.Err.Error()
	}
	for _, m := range ch.Missing {
		r.v.Missing = append(r.v.Missing, m.What+" "+m.Digest.String())
	}
	return rv
}

// reportFor is the compare report a chain's comparison names, else (for a
// summary) the first one left of its rebuilt file against this one.
func (r *release) reportFor(ch *attest.Chain) *reportView {
	for _, rep := range r.reports {
		match := rep.Digest == ch.CompareReport
		if ch.CompareReport == "" && ch.Summary != nil {
			match = !r.usedReport[rep.Index] && ch.Rebuilt != "" && rep.Rebuilt.Digest == ch.Rebuilt && rep.Shipped.Digest == r.v.Digest
		}
		if match {
			r.usedReport[rep.Index] = true
			return rep
		}
	}
	return nil
}

// rebuild renders a rebuild statement.
func (r *release) rebuild(n *attest.Node) *rebuildView {
	ds := r.described[n.Digest]
	if ds == nil || ds.Rebuild == nil {
		return nil
	}
	p := ds.Rebuild
	rv := &rebuildView{Index: r.first[n.Digest].Index, Signers: n.Signers, Recipe: p.Recipe, Source: p.Source.Name(), BuilderID: p.BuilderID, Outputs: p.Outputs}
	if in := p.Input(attest.RoleToolchain); in != nil {
		rv.Toolchain = in.Name
	}
	if in := p.Input(attest.RoleBaseImage); in != nil {
		rv.BaseImage = in.Name
		if dd, ok := in.Digest.Digest(digest.SHA256); ok {
			rv.BaseImage += " (" + dd.String() + ")"
		}
	}
	r.names[p.Recipe.Name+" "+p.Recipe.Version] = true
	return rv
}

// reviewsOf renders the reviews of the sources the chains' rebuilds name
// (attest.Graph.ReviewsOf), in log order: a review of other source,
// however it came to be logged beside this file, says nothing about it.
func (r *release) reviewsOf(sources []attest.Source) []*reviewView {
	seen := map[digest.Digest]bool{}
	var out []*reviewView
	for _, src := range sources {
		for _, n := range r.g.ReviewsOf(src) {
			if seen[n.Digest] {
				continue
			}
			seen[n.Digest] = true
			p := r.described[n.Digest].Review
			if p == nil {
				continue
			}
			rv := &reviewView{Index: r.first[n.Digest].Index, Signers: n.Signers, Reviewer: p.Reviewer.Display(), Verdict: p.Verdict.String(),
				Findings: p.Verdict == attest.Findings, Source: p.Source.Name(), ReviewedAt: p.ReviewedAt, Notes: p.Notes, Scope: "everything"}
			if !p.Scope.All {
				rv.Scope = strings.Join(p.Scope.Paths, ", ")
			}
			if p.Report != nil {
				rv.ReportURI, rv.ReportSum = p.Report.URI, p.Report.Digest
			}
			out = append(out, rv)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

// titleOf picks the name the most distinct signers give file d as a
// subject of what they signed (a tie goes to the name that sorts first);
// it returns who claims it and the other names claimed. A name in a
// rebuild's recipe, or a subject of something else, names nothing here.
func titleOf(entries []*store.Entry, described map[int64]*item.Described, d digest.Digest) (title string, claimants, others []string) {
	by := map[string]map[string]bool{}
	for _, e := range entries {
		ds := described[e.Index]
		if ds == nil || ds.Kind == item.CompareReport {
			continue
		}
		for _, sj := range ds.Subjects {
			if sj.Digest != d || sj.Name == "" {
				continue
			}
			if by[sj.Name] == nil {
				by[sj.Name] = map[string]bool{}
			}
			for _, s := range e.Signers {
				by[sj.Name][s] = true
			}
		}
	}
	var names []string
	for n := range by {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if len(by[names[i]]) != len(by[names[j]]) {
			return len(by[names[i]]) > len(by[names[j]])
		}
		return names[i] < names[j]
	})
	if len(names) == 0 {
		return "", nil, nil
	}
	for s := range by[names[0]] {
		claimants = append(claimants, s)
	}
	sort.Strings(claimants)
	return names[0], claimants, names[1:]
}
