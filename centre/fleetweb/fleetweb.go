// Package fleetweb is the fleet's dashboard, pages of the transparency
// centre under /fleet/, rendered on the server from the fleet's queue
// (fleet/queue) and the centre's log:
//
//   - /fleet/: per ecosystem and watch list, how many releases are
//     identical, equivalent, different, failed or pending, and how many
//     finished each day; the workers and their heartbeats; the newest
//     dissent.
//   - /fleet/releases?ecosystem=…&watch=…&outcome=…: a group's releases.
//   - /fleet/jobs/N: one release's job: every rebuilder's verdict on the
//     shipped files (from the log, the fleet's and any other's), the job's
//     log, result and recipe, its attestations' log entries, and its
//     attempts. /fleet/jobs/N/log.txt, result.json and recipe.json are the
//     raw documents.
//   - /fleet/queue: pending, running (which worker, in which phase, since
//     when), done and failed jobs.
//   - /fleet/dissent.atom: an Atom feed of dissent: a release the fleet
//     found different (and whether the one before it reproduced, so that
//     it stopped reproducing), or any rebuilder in the log who disagrees.
//
// Pages need no JavaScript. Every string that came from outside (release
// names, versions, worker names, logs, errors, recipes, attestation
// contents) is escaped by html/template and, besides, shown through
// internal/escape (control and bidi characters become visible escapes)
// inside a <bdi> element, so it can neither reorder nor restyle the text
// around it; long tokens wrap.
package fleetweb

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/centre/merklelog"
	"github.com/reprove/reprove/centre/store"
	"github.com/reprove/reprove/centre/web"
	"github.com/reprove/reprove/fleet/queue"
	"github.com/reprove/reprove/internal/escape"
)

//go:embed templates/*.html
var templateFiles embed.FS

// untrusted shows a string from outside: escaped for the page by
// html/template's own function, with control and format characters made
// visible (internal/escape), isolated from the text around it.
func untrusted(s string) template.HTML {
	return template.HTML("<bdi>" + template.HTMLEscapeString(escape.Line(s)) + "</bdi>")
}

// untrustedLines is untrusted for text whose line breaks are meant (a
// log, a document).
func untrustedLines(s string) template.HTML {
	return template.HTML("<bdi>" + template.HTMLEscapeString(escape.Lines(s)) + "</bdi>")
}

var funcs = template.FuncMap{
	"u":     untrusted,
	"lines": untrustedLines,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"ago": func(now, t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return now.Sub(t).Round(time.Second).String() + " ago"
	},
	"day":      func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"job":      func(id int64) string { return "/fleet/jobs/" + strconv.FormatInt(id, 10) },
	"entry":    func(i int64) string { return "/entries/" + strconv.FormatInt(i, 10) },
	"artifact": func(d digest.Digest) string { return "/artifacts/" + d.String() },
	"releases": func(g queue.Group, o queue.Outcome) string {
		v := url.Values{"ecosystem": {g.Ecosystem}, "watch": {g.Watch}}
		if o != "" {
			v.Set("outcome", string(o))
		}
		return "/fleet/releases?" + v.Encode()
	},
	"count":    func(c queue.Counts, o queue.Outcome) int { return c.By[o] },
	"dcount":   func(d queue.Day, o queue.Outcome) int { return d.By[o] },
	"outcomes": func() []queue.Outcome { return queue.Outcomes },
	"pct": func(n, total int) string {
		if total == 0 {
			return "0"
		}
		return strconv.FormatFloat(float64(n)*100/float64(total), 'f', 1, 64)
	},
	"dissent": func(o queue.Outcome) bool { return o == queue.Different || o == queue.Failed },
	"minus1":  func(n int) int { return n - 1 },
}

// pages are parsed on first use, not at start-up: every reprove command
// links the dashboard, and `reprove verify` should not pay for it.
var pages = sync.OnceValue(func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, p := range []string{"overview", "releases", "job", "queue", "error"} {
		out[p] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/"+p+".html"))
	}
	return out
})

// Handler serves the dashboard.
type Handler struct {
	q     *queue.Queue
	log   *merklelog.Log
	clock func() time.Time
	mux   *http.ServeMux
}

// New makes the dashboard of a fleet's queue beside a centre's log.
func New(q *queue.Queue, l *merklelog.Log, clock func() time.Time) *Handler {
	if clock == nil {
		clock = time.Now
	}
	pages() // a broken template stops the server at its start, as centre/web's do
	h := &Handler{q: q, log: l, clock: clock, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /fleet/{$}", h.overview)
	h.mux.HandleFunc("GET /fleet/releases", h.releases)
	h.mux.HandleFunc("GET /fleet/jobs/{id}", h.job)
	h.mux.HandleFunc("GET /fleet/jobs/{id}/{doc}", h.document)
	h.mux.HandleFunc("GET /fleet/queue", h.queuePage)
	h.mux.HandleFunc("GET /fleet/dissent.atom", h.feed)
	h.mux.HandleFunc("/fleet/", func(w http.ResponseWriter, r *http.Request) {
		h.errorPage(w, http.StatusNotFound, "No such page", "There is nothing at "+r.URL.Path+".")
	})
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	web.SetPageHeaders(w.Header())
	h.mux.ServeHTTP(w, r)
}

type page struct {
	Title string
	Now   time.Time
	Body  any
}

func (h *Handler) render(w http.ResponseWriter, status int, name, title string, body any) {
	var b bytes.Buffer
	if err := pages()[name].Execute(&b, page{Title: title, Now: h.clock(), Body: body}); err != nil {
		http.Error(w, "render page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

type errorView struct{ Title, Message string }

func (h *Handler) errorPage(w http.ResponseWriter, status int, title, msg string) {
	h.render(w, status, "error", title, errorView{title, msg})
}

func (h *Handler) fail(w http.ResponseWriter, err error) {
	h.errorPage(w, http.StatusInternalServerError, "Something went wrong", err.Error())
}

// --- the overview ---

type overviewView struct {
	Groups  []queue.Counts
	Days    []groupDays
	Workers []workerView
	Dissent []queue.Dissent
	Lease   time.Duration
}

type groupDays struct {
	queue.Group
	Days []queue.Day
	Max  int
}

type workerView struct {
	queue.WorkerInfo
	Running []queue.JobView
	Stale   bool
}

// rateDays is how many days of history the overview shows.
const rateDays = 14

func (h *Handler) overview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var v overviewView
	var err error
	if v.Groups, err = h.q.Overview(ctx); err != nil {
		h.fail(w, err)
		return
	}
	days, err := h.q.Rate(ctx, rateDays)
	if err != nil {
		h.fail(w, err)
		return
	}
	v.Days = byGroup(days)
	if v.Workers, err = h.workers(ctx); err != nil {
		h.fail(w, err)
		return
	}
	if v.Dissent, err = h.q.Dissents(ctx, 10); err != nil {
		h.fail(w, err)
		return
	}
	h.render(w, http.StatusOK, "overview", "Rebuilds", v)
}

func byGroup(days []queue.Day) []groupDays {
	idx := map[queue.Group]int{}
	var out []groupDays
	for _, d := range days {
		i, ok := idx[d.Group]
		if !ok {
			i = len(out)
			idx[d.Group] = i
			out = append(out, groupDays{Group: d.Group})
		}
		out[i].Days = append(out[i].Days, d)
		total := 0
		for _, n := range d.By {
			total += n
		}
		out[i].Max = max(out[i].Max, total)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Ecosystem+"\x00"+out[i].Watch < out[j].Ecosystem+"\x00"+out[j].Watch
	})
	return out
}

// staleAfter is how old a heartbeat may be before the dashboard calls the
// worker silent (the lease is the worker's; this is only for people).
const staleAfter = time.Minute

func (h *Handler) workers(ctx context.Context) ([]workerView, error) {
	ws, err := h.q.Workers(ctx)
	if err != nil {
		return nil, err
	}
	running, err := h.q.Running(ctx)
	if err != nil {
		return nil, err
	}
	now := h.clock()
	var out []workerView
	for _, wi := range ws {
		v := workerView{WorkerInfo: wi, Stale: wi.State == queue.WorkerRunning && now.Sub(wi.Heartbeat) > staleAfter}
		for _, j := range running {
			if j.Worker == wi.ID {
				v.Running = append(v.Running, j)
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// --- a group's releases ---

type releasesView struct {
	Group   queue.Group
	Outcome queue.Outcome
	Jobs    []queue.JobView
	Next    string
}

func (h *Handler) releases(w http.ResponseWriter, r *http.Request) {
	qv := r.URL.Query()
	f := queue.JobFilter{Builds: true, Ecosystem: qv.Get("ecosystem"), Watch: qv.Get("watch"), Limit: 100}
	if o := qv.Get("outcome"); o != "" {
		if !queue.Outcome(o).Valid() {
			h.errorPage(w, http.StatusBadRequest, "Bad outcome", "An outcome is one of identical, equivalent, different, failed, pending, rebuilt.")
			return
		}
		f.Outcome = queue.Outcome(o)
	}
	if b := qv.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			h.errorPage(w, http.StatusBadRequest, "Bad page", "before is a job number.")
			return
		}
		f.Before = n
	}
	jobs, err := h.q.Jobs(r.Context(), f)
	if err != nil {
		h.fail(w, err)
		return
	}
	v := releasesView{Group: queue.Group{Ecosystem: f.Ecosystem, Watch: f.Watch}, Outcome: f.Outcome, Jobs: jobs}
	if len(jobs) == f.Limit {
		nv := url.Values{}
		for k, vs := range qv {
			nv[k] = vs
		}
		nv.Set("before", strconv.FormatInt(jobs[len(jobs)-1].ID, 10))
		v.Next = "/fleet/releases?" + nv.Encode()
	}
	h.render(w, http.StatusOK, "releases", "Releases", v)
}

// --- one job ---

type jobView struct {
	Job       queue.JobView
	Result    *queue.Result
	Recipe    string
	ResultDoc string
	Log       string
	// Verdicts are every rebuilder's, from the log, per shipped file.
	Shipped      []shippedView
	Publication  *queue.Publication
	Publishes    []queue.JobView
	Attestations []attestationView
}

type shippedView struct {
	Digest   digest.Digest
	Verdicts []verdictView
	Agree    int
	Dissent  int
}

type verdictView struct {
	Rebuilder   string
	Verdict     string
	Normalizers []string
	Index       int64
	Logged      time.Time
	Dissent     bool
}

type attestationView struct {
	Kind string
}

func (h *Handler) jobID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	n, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || n <= 0 {
		h.errorPage(w, http.StatusBadRequest, "Bad job number", "A job is named by its number.")
		return 0, false
	}
	return n, true
}

func (h *Handler) job(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, ok := h.jobID(w, r)
	if !ok {
		return
	}
	jobs, err := h.q.Jobs(ctx, queue.JobFilter{IDs: []int64{id}})
	if err != nil {
		h.fail(w, err)
		return
	}
	if len(jobs) == 0 {
		h.errorPage(w, http.StatusNotFound, "No such job", fmt.Sprintf("The queue has no job %d.", id))
		return
	}
	v := jobView{Job: jobs[0]}
	res, err := h.q.Result(ctx, id)
	switch {
	case errors.Is(err, queue.ErrNotFound):
	case err != nil:
		h.fail(w, err)
		return
	default:
		v.Result = res
		v.Recipe, v.ResultDoc, v.Log = indent(res.Recipe), indent(res.ResultJSON), string(res.Log)
		if res.Publication != "" {
			if v.Publication, err = h.q.Publication(ctx, res.Publication); err != nil && !errors.Is(err, queue.ErrNotFound) {
				h.fail(w, err)
				return
			}
		}
		v.Attestations = attestations(res)
	}
	for _, d := range v.Job.Shipped {
		sv, err := h.verdicts(ctx, d)
		if err != nil {
			h.fail(w, err)
			return
		}
		v.Shipped = append(v.Shipped, sv)
	}
	all, err := h.q.Jobs(ctx, queue.JobFilter{Limit: 1000, Before: 0, Name: v.Job.Release.Name, Ecosystem: v.Job.Release.Ecosystem, Watch: v.Job.Release.Watch})
	if err != nil {
		h.fail(w, err)
		return
	}
	for _, j := range all {
		if j.Kind == queue.KindPublish && j.Parent == id {
			v.Publishes = append(v.Publishes, j)
		}
	}
	h.render(w, http.StatusOK, "job", v.Job.Release.Name+" "+v.Job.Release.Version, v)
}

// verdicts reads every rebuilder's verdict on a shipped file from the log:
// the comparisons (and earlier summaries) whose subject it is.
func (h *Handler) verdicts(ctx context.Context, d digest.Digest) (shippedView, error) {
	sv := shippedView{Digest: d}
	cp, _, err := h.log.Latest(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return sv, nil
	}
	if err != nil {
		return sv, err
	}
	es, err := h.log.Store().Lookup(ctx, d, cp.Size, false)
	if err != nil {
		return sv, err
	}
	for _, e := range es {
		desc, err := item.Describe(e.Leaf)
		if err != nil {
			continue
		}
		vv := verdictView{Rebuilder: strings.Join(e.Signers, ", "), Index: e.Index, Logged: e.LoggedAt}
		switch {
		case desc.Comparison != nil:
			vv.Verdict, vv.Normalizers = desc.Comparison.Verdict.String(), desc.Comparison.Normalizers
		case desc.Summary != nil:
			vv.Verdict, vv.Normalizers = desc.Summary.Verdict.String(), desc.Summary.Normalizers
		default:
			continue
		}
		if !about(desc, d) {
			continue
		}
		vv.Dissent = vv.Verdict == string(queue.Different)
		if vv.Dissent {
			sv.Dissent++
		} else {
			sv.Agree++
		}
		sv.Verdicts = append(sv.Verdicts, vv)
	}
	return sv, nil
}

func about(desc *item.Described, d digest.Digest) bool {
	for _, s := range desc.Subjects {
		if s.Digest == d {
			return true
		}
	}
	return false
}

// attestations lists a result's attestations by kind, in order.
func attestations(res *queue.Result) []attestationView {
	var out []attestationView
	for _, a := range res.Attestations {
		av := attestationView{Kind: "unreadable"}
		if it, err := item.Describe(a); err == nil {
			av.Kind = it.Kind.String()
		}
		out = append(out, av)
	}
	return out
}

func indent(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return string(b)
	}
	return out.String()
}

// document serves a job's log, result.json or recipe.json as it is
// stored.
func (h *Handler) document(w http.ResponseWriter, r *http.Request) {
	id, ok := h.jobID(w, r)
	if !ok {
		return
	}
	res, err := h.q.Result(r.Context(), id)
	if errors.Is(err, queue.ErrNotFound) {
		h.errorPage(w, http.StatusNotFound, "No result", fmt.Sprintf("Job %d has no result yet.", id))
		return
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	var body []byte
	ctype := "application/json"
	switch r.PathValue("doc") {
	case "log.txt":
		body, ctype = res.Log, "text/plain; charset=utf-8"
	case "result.json":
		body = res.ResultJSON
	case "recipe.json":
		body = res.Recipe
	default:
		h.errorPage(w, http.StatusNotFound, "No such document", "A job has log.txt, result.json and recipe.json.")
		return
	}
	if len(body) == 0 {
		h.errorPage(w, http.StatusNotFound, "Empty", fmt.Sprintf("Job %d has no %s.", id, r.PathValue("doc")))
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf("inline; filename=job-%d-%s", id, r.PathValue("doc")))
	w.Write(body)
}

// --- the queue ---

type queueView struct {
	Running, Pending, Done, Failed []queue.JobView
}

func (h *Handler) queuePage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	running, err := h.q.Running(ctx)
	if err != nil {
		h.fail(w, err)
		return
	}
	jobs, err := h.q.Jobs(ctx, queue.JobFilter{Limit: 300})
	if err != nil {
		h.fail(w, err)
		return
	}
	v := queueView{Running: running}
	isRunning := map[int64]bool{}
	for _, j := range running {
		isRunning[j.ID] = true
	}
	for _, j := range jobs {
		switch {
		case isRunning[j.ID]:
		case j.Outcome == queue.Failed || (j.Outcome == queue.Pending && (j.State == "discarded" || j.State == "cancelled")):
			v.Failed = append(v.Failed, j)
		case j.Outcome != queue.Pending || j.State == "completed" || j.State == "removed":
			v.Done = append(v.Done, j)
		default:
			v.Pending = append(v.Pending, j)
		}
	}
	h.render(w, http.StatusOK, "queue", "Queue", v)
}
