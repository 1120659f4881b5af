package attest

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
)

// graphOf puts the fixture's statements named in a graph about the
// shipped file, each signed by "signer".
func graphOf(t *testing.T, f *fixture, names ...string) *Graph {
	t.Helper()
	g := NewGraph(DigestSet{"sha256": digest.FromBytes(shippedBytes).Encoded()}, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	for _, n := range names {
		addTo(t, g, n, f.envs[n])
	}
	return g
}

func addTo(t *testing.T, g *Graph, name string, env []byte) {
	t.Helper()
	for _, d := range SplitDocuments(name, env) {
		if d.Err != nil {
			t.Fatal(d.Err)
		}
		st, err := ParseStatement(d.Envelope.Payload)
		if err != nil {
			t.Fatal(err)
		}
		g.Add(name, d.Envelope.PayloadDigest(), st, []string{"signer"})
	}
}

// A chain that does not close for want of its rebuild closes once the
// rebuild is added (Follow is cached, and Add forgets the cache); merged
// with a graph that holds the rebuild, it closes too. The chain rests on
// the reviews of the rebuilt source, which ReviewsOf finds.
func TestGraphFollow(t *testing.T) {
	forFormats(t, func(t *testing.T) {
		f := newFixture(t, identicalA)
		var names []string
		for _, n := range f.order {
			if n != "rebuild-rebuilderA" {
				names = append(names, n)
			}
		}
		g := graphOf(t, f, names...)
		sums := g.Summaries()
		if len(sums) != 1 {
			t.Fatalf("%d summaries, want 1", len(sums))
		}
		ch := g.Follow(sums[0])
		if ch.Err == nil || !strings.Contains(ch.Err.Error(), "is not among the attestations given") || len(ch.Missing) != 1 || ch.Missing[0].What != "rebuild" && ch.Missing[0].What != "input attestation" {
			t.Fatalf("without its rebuild: err %v, missing %v", ch.Err, ch.Missing)
		}
		merged := g.Merge(graphOf(t, f, "rebuild-rebuilderA"))
		addTo(t, g, "rebuild-rebuilderA", f.envs["rebuild-rebuilderA"])
		for name, g := range map[string]*Graph{"added": g, "merged": merged} {
			ch := g.Follow(g.Summaries()[0])
			if ch.Err != nil || ch.Rebuild == nil || ch.Provenance == nil {
				t.Fatalf("%s: the rebuild is there: err %v", name, ch.Err)
			}
			var rests, ofSource []string
			for _, r := range ch.Reviews {
				rests = append(rests, r.Source)
			}
			for _, r := range g.ReviewsOf(ch.Provenance.Source) {
				ofSource = append(ofSource, r.Source)
			}
			if diff := cmp.Diff(ofSource, rests); diff != "" {
				t.Errorf("%s: the reviews it rests on are not those of its source (-of source +rests on):\n%s", name, diff)
			}
			if len(rests) == 0 {
				t.Errorf("%s: rests on no review", name)
			}
			if len(g.ReviewsOf(Source{URI: "https://example.com/other.git", Archive: digest.FromString("other")})) != 0 {
				t.Errorf("%s: reviews found for a source nobody reviewed", name)
			}
		}
	})
}
