package fleetweb

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/reprove/reprove/fleet/queue"
	"github.com/reprove/reprove/internal/escape"
)

// The Atom feed of dissent (RFC 4287), what users of rebuilderd and OSS
// Rebuild subscribe to: a release the fleet found different (saying when
// it stopped reproducing: the release before it reproduced), and each
// rebuilder in the log, the fleet's or anyone's, that disagrees about a
// release the fleet rebuilt.

type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Title   string      `xml:"title"`
	ID      string      `xml:"id"`
	Updated string      `xml:"updated"`
	Author  atomPerson  `xml:"author"`
	Links   []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

type atomPerson struct {
	Name string `xml:"name"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Href string `xml:"href,attr"`
	Type string `xml:"type,attr,omitempty"`
}

type atomEntry struct {
	Title   string     `xml:"title"`
	ID      string     `xml:"id"`
	Updated string     `xml:"updated"`
	Links   []atomLink `xml:"link"`
	Summary string     `xml:"summary"`
	updated time.Time
}

// feedJobs is how many of the newest releases the feed looks up in the
// log for rebuilders who disagree.
const feedJobs = 200

func (h *Handler) feed(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := scheme + "://" + r.Host
	// Text from outside stays one visible line: control and bidi
	// characters become escapes (encoding/xml escapes the markup).
	t := escape.Line
	var entries []atomEntry
	dissents, err := h.q.Dissents(ctx, 100)
	if err != nil {
		h.fail(w, err)
		return
	}
	for _, d := range dissents {
		title := fmt.Sprintf("%s %s: different on worker %s", t(d.Release.Name), t(d.Release.Version), t(d.WorkerName))
		if d.Stopped {
			title = fmt.Sprintf("%s %s stopped reproducing (%s reproduced)", t(d.Release.Name), t(d.Release.Version), t(d.Previous))
		}
		entries = append(entries, atomEntry{
			Title: title, ID: fmt.Sprintf("urn:reprove:fleet:job:%d:different", d.ID),
			Links:   []atomLink{{Href: base + fmt.Sprintf("/fleet/jobs/%d", d.ID), Type: "text/html"}},
			Summary: fmt.Sprintf("The fleet rebuilt %s %s (%s, watch list %s) and the result differs from what shipped.", t(d.Release.Name), t(d.Release.Version), t(d.Release.Ecosystem), t(d.Release.Watch)),
			updated: d.Finished,
		})
	}
	jobs, err := h.q.Jobs(ctx, queue.JobFilter{Builds: true, Limit: feedJobs})
	if err != nil {
		h.fail(w, err)
		return
	}
	for _, j := range jobs {
		own := map[int64]bool{}
		if res, err := h.q.Result(ctx, j.ID); err == nil && res.Publication != "" {
			if pub, err := h.q.Publication(ctx, res.Publication); err == nil {
				for _, e := range pub.Entries {
					own[e] = true
				}
			}
		}
		for _, d := range j.Shipped {
			sv, err := h.verdicts(ctx, d)
			if err != nil {
				h.fail(w, err)
				return
			}
			for _, v := range sv.Verdicts {
				if !v.Dissent || (own[v.Index] && j.Outcome == queue.Different) {
					continue
				}
				entries = append(entries, atomEntry{
					Title: fmt.Sprintf("%s disagrees on %s %s: %s", t(v.Rebuilder), t(j.Release.Name), t(j.Release.Version), v.Verdict),
					ID:    fmt.Sprintf("urn:reprove:fleet:log:%d", v.Index),
					Links: []atomLink{{Href: base + fmt.Sprintf("/fleet/jobs/%d", j.ID), Type: "text/html"},
						{Rel: "related", Href: base + "/artifacts/" + d.String(), Type: "text/html"}},
					Summary: fmt.Sprintf("Rebuilder %s signed a verification summary (log entry %d) saying its rebuild of %s %s is %s from the shipped file %s.",
						t(v.Rebuilder), v.Index, t(j.Release.Name), t(j.Release.Version), v.Verdict, d),
					updated: v.Logged,
				})
			}
		}
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].updated.After(entries[j].updated) })
	if len(entries) > 100 {
		entries = entries[:100]
	}
	updated := time.Unix(0, 0).UTC()
	for i := range entries {
		entries[i].Updated = entries[i].updated.UTC().Format(time.RFC3339)
		if entries[i].updated.After(updated) {
			updated = entries[i].updated
		}
	}
	f := atomFeed{
		Title: "reprove fleet: dissent", ID: "urn:reprove:fleet:dissent", Updated: updated.UTC().Format(time.RFC3339),
		Author: atomPerson{Name: "reprove transparency centre"},
		Links: []atomLink{{Rel: "self", Href: base + "/fleet/dissent.atom", Type: "application/atom+xml"},
			{Rel: "alternate", Href: base + "/fleet/", Type: "text/html"}},
		Entries: entries,
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(f); err != nil {
		h.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(strings.TrimSpace(b.String()) + "\n"))
}
