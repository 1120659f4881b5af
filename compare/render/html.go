package render

import (
	"bufio"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/reprove/reprove/compare/report"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/internal/english"
)

// view is a node as the page shows it.
type view struct {
	ID       string
	Path     string // for the filter: names from the top, lower case
	Open     bool
	N        *report.Node
	Tag      string
	Class    string // of the tag: accepted, unallowed, fixed
	Lines    []string
	LinesCut int
	Kids     []*view
	Cut      int // differences under children not shown
	// SeeID is the element of the node this one refers to (report.Node.See).
	SeeID string
}

type indexEntry struct {
	ID, Path, Tag, Summary string
}

type page struct {
	R       *report.Report
	Explain string
	Root    *view
	Index   []indexEntry
	// IndexCut counts causes left out of the index.
	IndexCut int
	Cut      cut
	// ids maps report node IDs to the elements that show them.
	ids  map[string]string
	refs []*view // views whose node refers to another
}

// HTML writes r as one self-contained page (inline style, a small inline
// script for the filter box, no external resources) that reads in any
// browser, with scripts or without. An index of the causes (changed
// members, functions, strings) comes first; causes are open, what follows
// from them is folded.
func (o Options) HTML(w io.Writer, r *report.Report) error {
	pg := &page{R: r, Explain: explain(r), ids: map[string]string{}}
	if r.Differences != nil {
		id := 0
		pg.Root = o.build(r.Differences, 0, "", false, &id, pg)
	}
	for _, v := range pg.refs {
		v.SeeID = pg.ids[v.N.See] // "" when the target was cut: no link
	}
	bw := bufio.NewWriter(w)
	if err := pageTmpl.Execute(bw, pg); err != nil {
		return err
	}
	return bw.Flush()
}

// counts reports whether n holds a difference no allowed normalizer
// accepts.
func counts(n *report.Node) bool {
	if n.Leaf() && !n.Accepted {
		return true
	}
	for _, c := range n.Children {
		if counts(c) {
			return true
		}
	}
	return false
}

func (o Options) build(n *report.Node, depth int, path string, effect bool, id *int, pg *page) *view {
	*id++
	effect = effect || n.Effect
	p := n.Name
	if path != "" {
		p = path + " / " + n.Name
	}
	if depth == 0 {
		p = ""
	}
	v := &view{ID: fmt.Sprintf("d%d", *id), Path: strings.ToLower(p), N: n, Tag: Tag(n),
		Open: depth == 0 || (!effect && counts(n))}
	if n.ID != "" {
		pg.ids[n.ID] = v.ID
	}
	if n.See != "" {
		pg.refs = append(pg.refs, v)
	}
	switch {
	case n.Accepted:
		v.Class = "accepted"
	case n.Normalizer != "":
		v.Class = "unallowed"
	default:
		v.Class = "fixed"
	}
	if n.Leaf() && !effect && !n.Accepted {
		if o.MaxEntries <= 0 || len(pg.Index) < o.MaxEntries {
			pg.Index = append(pg.Index, indexEntry{ID: v.ID, Path: p, Tag: v.Tag, Summary: n.Summary})
		} else {
			pg.IndexCut++
		}
	}
	v.Lines = n.Lines
	if o.MaxLines > 0 && len(v.Lines) > o.MaxLines {
		v.LinesCut = len(v.Lines) - o.MaxLines
		v.Lines = v.Lines[:o.MaxLines]
		pg.Cut.Lines += v.LinesCut
	}
	kids := n.Children
	if o.MaxEntries > 0 && len(kids) > o.MaxEntries {
		for _, k := range kids[o.MaxEntries:] {
			v.Cut += leaves(k)
		}
		pg.Cut.Diffs += v.Cut
		kids = kids[:o.MaxEntries]
	}
	for _, k := range kids {
		v.Kids = append(v.Kids, o.build(k, depth+1, p, effect, id, pg))
	}
	return v
}

// explain is the sentence under the verdict badge.
func explain(r *report.Report) string {
	switch r.Verdict {
	case verdict.Identical:
		return "The two files have the same digest: they are bit for bit the same."
	case verdict.Equivalent:
		return "The files differ only in ways the allowed normalizers accept (" + strings.Join(r.Normalizers, ", ") + "); every such difference is listed below."
	}
	return "The files differ. The causes come first; what follows from them (code and data that only moved, section bytes) is folded below them."
}

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"join":   func(s []string) string { return strings.Join(s, ", ") },
	"plural": func(n int, one string) string { return english.Count(n, one) },
	"lineClass": func(l string) string {
		switch {
		case strings.HasPrefix(l, "+"):
			return "add"
		case strings.HasPrefix(l, "-"):
			return "del"
		case strings.HasPrefix(l, "@@"):
			return "hunk"
		}
		return ""
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>reprove compare: {{.R.Verdict}}</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#1d2330;background:#fff}
h1{font-size:1.5em;margin:.2em 0 .6em}h2{font-size:1.15em;margin:1.4em 0 .4em}
.verdict{display:inline-block;padding:.15em .6em;border-radius:.3em;color:#fff;font-weight:600;letter-spacing:.02em}
.identical{background:#1a7f37}.equivalent{background:#0969da}.different{background:#cf222e}
table.sides{border-collapse:collapse;margin:.5em 0 1em}
table.sides td,table.sides th{padding:.25em .8em .25em 0;text-align:left;vertical-align:top}
code,pre,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:13px}
.digest{word-break:break-all}
.note{background:#f6f8fa;border-left:4px solid #0969da;padding:.5em .8em;margin:.6em 0}
nav ol{margin:.3em 0;padding-left:1.6em}nav li{margin:.1em 0}
nav a{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
details{margin:.15em 0 .15em 1.1em}
summary{cursor:pointer;padding:.1em 0}
.leaf{margin:.15em 0 .15em 1.1em;padding:.1em 0}
.name{font-weight:600}
.kind{display:inline-block;font-size:12px;padding:0 .45em;border-radius:1em;background:#eaeef2;color:#424a53;margin-left:.4em}
.kind.accepted{background:#ddf4ff;color:#0550ae}.kind.fixed{background:#ffebe9;color:#a40e26}.kind.unallowed{background:#fff8c5;color:#7d4e00}
.kind.effect{background:#eaeef2;color:#57606a}
.vals{margin-left:.4em}
.old{background:#ffebe9;padding:0 .2em}.new{background:#dafbe1;padding:0 .2em}
pre{background:#f6f8fa;padding:.5em .7em;overflow-x:auto;margin:.3em 0 .3em 1.1em;border-radius:.3em}
pre span{display:block;white-space:pre}pre .add{background:#dafbe1}pre .del{background:#ffebe9}pre .hunk{color:#6e7781}
.cut{color:#6e7781;font-style:italic;margin-left:1.1em}
#filter{margin:.8em 0}#filter input{font:inherit;padding:.2em .5em;width:24em;max-width:80%}
:target>summary,.leaf:target{background:#fff8c5}
footer{margin-top:2em;color:#6e7781;font-size:13px}
</style></head><body>
<h1>reprove compare <span class="verdict {{.R.Verdict}}">{{.R.Verdict}}</span></h1>
<p>{{.Explain}}</p>
<table class="sides">
<tr><th></th><th>path</th><th>size</th><th>format</th><th>digest</th></tr>
<tr><th>rebuilt</th><td class="mono">{{.R.Rebuilt.Path}}</td><td>{{.R.Rebuilt.Size}}</td><td>{{.R.Rebuilt.Format}}</td><td class="mono digest">{{.R.Rebuilt.Digest}}</td></tr>
<tr><th>shipped</th><td class="mono">{{.R.Shipped.Path}}</td><td>{{.R.Shipped.Size}}</td><td>{{.R.Shipped.Format}}</td><td class="mono digest">{{.R.Shipped.Digest}}</td></tr>
</table>
<p>Allowed normalizers: {{if .R.Allowed}}<code>{{join .R.Allowed}}</code>{{else}}none{{end}}.
{{if ne (print .R.Verdict) "identical"}}{{plural .R.Counts.Differences "difference"}}, {{.R.Counts.Accepted}} accepted by allowed normalizers; {{plural .R.Counts.Causes "cause"}}.{{if or .Cut.Diffs .Cut.Lines}} Not shown here: {{.Cut}} (the JSON report holds everything).{{end}}{{end}}</p>
{{if .R.Suggested}}<div class="note">Every difference is covered by a known normalizer: allowing <code>{{join .R.Suggested}}</code> would make this <b>equivalent</b>.</div>{{end}}
{{range .R.Notes}}<div class="note">{{.}}</div>{{end}}
{{if .Index}}<nav id="index"><h2>Causes</h2><ol>{{range .Index}}<li><a href="#{{.ID}}">{{.Path}}</a><span class="kind fixed">{{.Tag}}</span>{{if .Summary}} — {{.Summary}}{{end}}</li>
{{end}}</ol>{{if .IndexCut}}<div class="cut">… {{plural .IndexCut "more cause"}} not listed here</div>{{end}}</nav>{{end}}
{{with .Root}}<h2>Differences</h2>
<div id="filter" hidden><input type="search" id="q" placeholder="Filter by name (function, member, section)…" aria-label="filter"> <span id="qn"></span></div>
<div id="tree">{{template "node" .}}</div>{{end}}
<footer>Report schema version {{.R.SchemaVersion}}. Generated by reprove.</footer>
<script>
(function(){
var box=document.getElementById("filter");if(!box)return;box.hidden=false;
var q=document.getElementById("q"),qn=document.getElementById("qn");
var all=[].slice.call(document.querySelectorAll("#tree [data-path]"));
all.forEach(function(e){if(e.tagName=="DETAILS")e.dataset.open=e.open?"1":""});
q.addEventListener("input",function(){
var s=q.value.trim().toLowerCase(),n=0;
all.forEach(function(e){e.hidden=s!=""&&e.dataset.path.indexOf(s)<0;if(e.tagName=="DETAILS")e.open=e.dataset.open=="1"});
if(s!="")all.forEach(function(e){if(!e.hidden){n++;for(var p=e.parentElement;p&&p.id!="tree";p=p.parentElement){if(p.tagName=="DETAILS"){p.hidden=false;p.open=true}}}});
qn.textContent=s==""?"":n+" matching";
});
})();
</script>
</body></html>
{{define "body"}}<span class="name">{{.N.Name}}</span>{{if .Tag}}<span class="kind {{if .N.Effect}}effect{{else}}{{.Class}}{{end}}">{{.Tag}}</span>{{end}}{{if .N.Summary}} — {{.N.Summary}}{{end}}{{if .SeeID}} (<a href="#{{.SeeID}}">see its differences</a>){{end}}{{if or .N.Rebuilt .N.Shipped}}<span class="vals mono"><span class="old">{{.N.Rebuilt}}</span> → <span class="new">{{.N.Shipped}}</span></span>{{end}}{{end}}
{{define "lines"}}{{if .Lines}}<pre>{{range .Lines}}<span class="{{lineClass .}}">{{.}}</span>{{end}}{{if .LinesCut}}<span class="hunk">… {{plural .LinesCut "more line"}} not shown</span>{{end}}{{if .N.LinesOmitted}}<span class="hunk">… {{plural .N.LinesOmitted "more line"}} not recorded</span>{{end}}</pre>{{end}}{{end}}
{{define "node"}}{{if .Kids}}<details id="{{.ID}}" data-path="{{.Path}}"{{if .Open}} open{{end}}><summary>{{template "body" .}}</summary>
{{template "lines" .}}{{range .Kids}}{{template "node" .}}{{end}}{{if .Cut}}<div class="cut">… {{plural .Cut "more difference"}} not shown (the JSON report holds them)</div>{{end}}</details>
{{else}}<div class="leaf" id="{{.ID}}" data-path="{{.Path}}">{{template "body" .}}{{template "lines" .}}</div>
{{end}}{{end}}`))
