// Package web renders the transparency centre's pages on the server with
// html/template: a search by digest or by name and version, a release page
// for each shipped file, an entry page for each leaf, and the log's page.
// The pages are self-contained (inline style, no scripts, no fonts or
// images from elsewhere) and work without JavaScript: search is a plain
// GET form.
package web

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/centre/merklelog"
	"github.com/reprove/reprove/centre/store"
	"github.com/reprove/reprove/compare/render"
	"github.com/reprove/reprove/compare/report"
	"github.com/reprove/reprove/internal/escape"
	"github.com/reprove/reprove/internal/lazyre"
)

//go:embed templates/*.html
var templateFiles embed.FS

var funcs = template.FuncMap{
	"short": func(d digest.Digest) string {
		s := d.String()
		if i := strings.IndexByte(s, ':'); i >= 0 && len(s) > i+13 {
			return s[:i+13] + "…"
		}
		return s
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"day":  func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"join": strings.Join,
	"artifact": func(d digest.Digest) string {
		return "/artifacts/" + d.String()
	},
	"entry": func(i int64) string { return "/entries/" + strconv.FormatInt(i, 10) },
	"tree":  treeOf,
	"u":     untrusted,
	"us":    untrustedList,
}

// untrusted shows a string that came from outside (an attestation, a
// registered name, a compare report) on a page: HTML-escaped, with control
// and bidi characters written visibly as escapes (internal/escape, the
// terminal's escaper), and bidi-isolated in a <bdi>, so that a
// right-to-left override or a right-to-left script cannot reorder what is
// around it ("gnp.exe" shown as "exe.png").
func untrusted(v any) template.HTML {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case fmt.Stringer:
		s = x.String()
	default:
		s = fmt.Sprint(x)
	}
	return template.HTML("<bdi>" + template.HTMLEscapeString(escape.Line(s)) + "</bdi>")
}

// untrustedList is untrusted for each of ss, joined by ", ".
func untrustedList(ss []string) template.HTML {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(untrusted(s))
	}
	return template.HTML(strings.Join(parts, ", "))
}

// treeNode carries a compare report's node and its depth into the
// recursive "node" template (the first levels render open).
type treeNode struct {
	N        *report.Node
	Depth    int
	Children []*treeNode
}

func treeOf(n *report.Node) *treeNode { return treeAt(n, 0) }

func treeAt(n *report.Node, depth int) *treeNode {
	if n == nil {
		return nil
	}
	t := &treeNode{N: n, Depth: depth}
	for _, c := range n.Children {
		t.Children = append(t.Children, treeAt(c, depth+1))
	}
	return t
}

// pages are the templates, parsed when the first Handler is made rather
// than in a package initialiser: every reprove command links this package,
// and `reprove verify` should not pay for a centre's pages at start-up.
var pages = sync.OnceValue(func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, p := range []string{"home", "search", "release", "entry", "log", "error"} {
		t := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/parts.html", "templates/"+p+".html"))
		out[p] = t
	}
	return out
})

// Handler serves the pages.
type Handler struct {
	log   *merklelog.Log
	st    store.Store
	clock func() time.Time
	mux   *http.ServeMux
}

// New makes the pages' handler for a log.
func New(l *merklelog.Log, clock func() time.Time) *Handler {
	pages() // a broken template stops the server at its start
	h := &Handler{log: l, st: l.Store(), clock: clock, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /{$}", h.home)
	h.mux.HandleFunc("GET /search", h.search)
	h.mux.HandleFunc("GET /artifacts/{digest}", h.release)
	h.mux.HandleFunc("GET /entries/{index}", h.entry)
	h.mux.HandleFunc("GET /log", h.logPage)
	h.mux.HandleFunc("GET /reports/{digest}", h.report)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.errorPage(w, http.StatusNotFound, "No such page", "There is nothing at "+r.URL.Path+".")
	})
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	SetPageHeaders(w.Header())
	h.mux.ServeHTTP(w, r)
}

// SetPageHeaders sets the security headers of every page the centre
// serves (the log's and the fleet's): self-contained pages, so nothing may
// load from anywhere, not even from the centre, no script runs, and no
// other site may frame them.
func SetPageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

type page struct {
	Title string
	Query string
	Body  any
}

func (h *Handler) render(w http.ResponseWriter, status int, name, title, query string, body any) {
	var b bytes.Buffer
	if err := pages()[name].Execute(&b, page{Title: escape.Line(title), Query: query, Body: body}); err != nil {
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
	h.render(w, status, "error", title, "", errorView{title, msg})
}

func (h *Handler) fail(w http.ResponseWriter, err error) {
	h.errorPage(w, http.StatusInternalServerError, "Something went wrong", err.Error())
}

// --- home and search ---

type homeView struct {
	TreeSize int64
	Recent   []entryRow
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	cp, _, err := h.log.Latest(r.Context())
	if err != nil {
		h.fail(w, err)
		return
	}
	recent, err := h.recent(r.Context(), 10)
	if err != nil {
		h.fail(w, err)
		return
	}
	h.render(w, http.StatusOK, "home", "reprove transparency centre", "", homeView{TreeSize: cp.Size, Recent: recent})
}

var hex64 = lazyre.New(`^[0-9a-f]{64}$`)

// digestQuery reads a search that is a digest: sha256:HEX or bare HEX.
func digestQuery(q string) (digest.Digest, bool) {
	q = strings.ToLower(strings.TrimSpace(q))
	q = strings.TrimPrefix(q, "sha256:")
	if !hex64().MatchString(q) {
		return "", false
	}
	return digest.NewDigestFromEncoded(digest.SHA256, q), true
}

// nameQuery splits "name version" or "name@version".
func nameQuery(q string) (name, version string) {
	q = strings.TrimSpace(q)
	if n, v, ok := strings.Cut(q, "@"); ok {
		return strings.TrimSpace(n), strings.TrimSpace(v)
	}
	f := strings.Fields(q)
	switch len(f) {
	case 0:
		return "", ""
	case 1:
		return f[0], ""
	}
	return strings.Join(f[:len(f)-1], " "), f[len(f)-1]
}

type searchView struct {
	Name, Version string
	Results       []store.Release
}

func (h *Handler) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	if d, ok := digestQuery(q); ok {
		http.Redirect(w, r, "/artifacts/"+d.String(), http.StatusSeeOther)
		return
	}
	name, version := nameQuery(q)
	v := searchView{Name: name, Version: version}
	if name != "" {
		var err error
		v.Results, err = h.st.Search(r.Context(), name, version, 100)
		if err != nil {
			h.fail(w, err)
			return
		}
		if len(v.Results) == 0 && version != "" {
			// "name with spaces" rather than "name version"?
			v.Results, err = h.st.Search(r.Context(), strings.TrimSpace(q), "", 100)
			if err != nil {
				h.fail(w, err)
				return
			}
			if len(v.Results) > 0 {
				v.Name, v.Version = strings.TrimSpace(q), ""
			}
		}
	}
	h.render(w, http.StatusOK, "search", "Search: "+q, q, v)
}

// --- the log ---

type entryRow struct {
	Index    int64
	Kind     string
	What     string
	Signers  []string
	LoggedAt time.Time
	Subjects []item.Subject
}

func (h *Handler) recent(ctx context.Context, n int) ([]entryRow, error) {
	es, err := h.st.Recent(ctx, n)
	if err != nil {
		return nil, err
	}
	var rows []entryRow
	for _, e := range es {
		rows = append(rows, rowOf(e))
	}
	return rows, nil
}

func rowOf(e *store.Entry) entryRow {
	row := entryRow{Index: e.Index, Kind: e.Kind.String(), Signers: e.Signers, LoggedAt: e.LoggedAt}
	d, err := item.Describe(e.Leaf)
	if err != nil {
		row.What = "unreadable leaf: " + err.Error()
		return row
	}
	row.What = d.Line()
	row.Subjects = d.Subjects
	return row
}

type logView struct {
	Origin      string
	VerifierKey string
	TreeSize    int64
	Checkpoint  string
	SignedAt    time.Time
	Recent      []entryRow
}

func (h *Handler) logPage(w http.ResponseWriter, r *http.Request) {
	cp, _, err := h.log.Latest(r.Context())
	if err != nil {
		h.fail(w, err)
		return
	}
	recent, err := h.recent(r.Context(), 50)
	if err != nil {
		h.fail(w, err)
		return
	}
	h.render(w, http.StatusOK, "log", "The log", "", logView{Origin: h.log.Origin(), VerifierKey: h.log.VerifierKey(),
		TreeSize: cp.Size, Checkpoint: string(cp.Note), SignedAt: cp.At, Recent: recent})
}

type entryView struct {
	entryRow
	PayloadDigest digest.Digest
	TreeSize      int64
	Statement     string
	Leaf          string
}

func (h *Handler) entry(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.ParseInt(r.PathValue("index"), 10, 64)
	if err != nil || n < 0 {
		h.errorPage(w, http.StatusBadRequest, "Bad entry number", "An entry is named by its index in the log, a number.")
		return
	}
	e, err := h.st.Entry(r.Context(), n)
	if errors.Is(err, store.ErrNotFound) {
		h.errorPage(w, http.StatusNotFound, "No such entry", fmt.Sprintf("The log has no entry %d.", n))
		return
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	cp, _, err := h.log.Latest(r.Context())
	if err != nil {
		h.fail(w, err)
		return
	}
	v := entryView{entryRow: rowOf(e), PayloadDigest: e.PayloadDigest, TreeSize: cp.Size, Leaf: indent(e.Leaf)}
	var env struct {
		Payload []byte `json:"payload"`
	}
	if json.Unmarshal(e.Leaf, &env) == nil && len(env.Payload) > 0 {
		v.Statement = indent(env.Payload)
	}
	h.render(w, http.StatusOK, "entry", fmt.Sprintf("Entry %d", n), "", v)
}

func indent(b []byte) string {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return string(b)
	}
	return out.String()
}

func (h *Handler) report(w http.ResponseWriter, r *http.Request) {
	d, err := digest.Parse(r.PathValue("digest"))
	if err != nil {
		h.errorPage(w, http.StatusBadRequest, "Bad digest", "A compare report is named by its sha256 digest.")
		return
	}
	b, err := h.st.CompareReport(r.Context(), d)
	if errors.Is(err, store.ErrNotFound) {
		h.errorPage(w, http.StatusNotFound, "No such report", "The log holds no compare report "+d.String()+".")
		return
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	rep, err := item.ParseCompareReport(b)
	if err != nil {
		h.fail(w, err)
		return
	}
	// compare's own renderer: the same page `reprove compare --html` writes.
	var out bytes.Buffer
	if err := render.HTML(&out, rep); err != nil {
		h.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(out.Bytes())
}
