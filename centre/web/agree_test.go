package web

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/policy"
	"github.com/reprove/reprove/centre/centretest/fixture"
	"github.com/reprove/reprove/centre/store"
)

var (
	alice, bob             = fixture.MustParty("alice"), fixture.MustParty("bob")
	rebA, rebB, rebC, rebD = fixture.MustParty("A"), fixture.MustParty("B"), fixture.MustParty("C"), fixture.MustParty("D")
)

// account is what a reader says about a release: each rebuilder's side
// (agrees, dissents, or its chain does not close), the builder of the
// rebuild each closed chain rests on, the reviewers of the reviews the
// agreeing chains rest on, and the reviewers who reported findings in the
// rebuilt source.
type account struct {
	Sides    map[string]string
	Builders map[string]string
	RestsOn  []string
	Findings []string
}

// The release page and `reprove verify` read one statement graph: given
// the same statements (an agreeing rebuilder, a dissenting one, one whose
// summary cites a rebuild that is not there, one whose summary cites a
// review that is not there, an approval the summaries rest on, and a
// trusted reviewer's findings filed under the source alone), they say the
// same about which rebuilds and reviews each summary rests on. (The page
// used to link the chain itself: it counted C and D as agreeing, and
// showed no chain as broken.)
func TestPageAgreesWithVerify(t *testing.T) {
	ctx := context.Background()
	says := []fixture.Say{{Rebuilder: rebA}, {Rebuilder: rebB, Different: true}, {Rebuilder: rebC}}
	rel, err := fixture.MakeReleaseWith(ctx, "hello", "1.0", []*fixture.Party{alice}, says, fixture.Options{NoReports: true})
	if err != nil {
		t.Fatal(err)
	}
	// D's summary rests on an approval by bob that is not there.
	relD, err := fixture.MakeReleaseWith(ctx, "hello", "1.0", []*fixture.Party{bob}, []fixture.Say{{Rebuilder: rebD}}, fixture.Options{NoReports: true})
	if err != nil {
		t.Fatal(err)
	}
	signed := map[string][]byte{}
	var order []string
	add := func(name string, env []byte) { signed[name] = env; order = append(order, name) }
	add("review-alice", rel.Reviews[0])
	// An approval of another release's source, logged beside this file.
	old, err := fixture.Review(ctx, alice, "hello", "0.9", "the old one")
	if err != nil {
		t.Fatal(err)
	}
	add("review-old-alice", old)
	findings, err := fixture.Findings(ctx, bob, "hello", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	add("findings-bob", findings)
	for _, s := range says {
		n := s.Rebuilder.Name
		if n != "C" { // C's rebuild is not there: its chain does not close
			add("rebuild-"+n, rel.Rebuilds[n])
		}
		add("comparison-"+n, rel.Comparisons[n])
		add("summary-"+n, rel.Summaries[n])
	}
	add("rebuild-D", relD.Rebuilds["D"])
	add("comparison-D", relD.Comparisons["D"])
	add("summary-D", relD.Summaries["D"])

	now := fixture.Time.Add(60 * 24 * time.Hour)
	page, v := pageAccount(t, rel, signed, order, now)
	verify := verifyAccount(t, rel, signed, order, now)
	if diff := cmp.Diff(verify, page); diff != "" {
		t.Errorf("the page and verify disagree (-verify +page):\n%s", diff)
	}
	// And what they agree on is what the statements say.
	want := account{
		Sides:    map[string]string{"A": "agrees", "B": "dissents", "C": "does not close", "D": "does not close"},
		Builders: map[string]string{"A": "https://A.example/reprove", "B": "https://B.example/reprove"},
		RestsOn:  []string{"alice"},
		Findings: []string{"bob"},
	}
	if diff := cmp.Diff(want, page); diff != "" {
		t.Errorf("page (-want +got):\n%s", diff)
	}
	// The page shows the reviews of the rebuilt source, and no other.
	var shown []string
	for _, r := range v.Reviews {
		shown = append(shown, r.Verdict+" "+r.Source)
	}
	src := fixture.Source("hello", "1.0").Name()
	if diff := cmp.Diff([]string{"approved " + src, "findings " + src}, shown); diff != "" {
		t.Errorf("reviews shown (-want +got):\n%s", diff)
	}
}

// pageAccount reads the statements as the centre's release page does,
// each logged as an entry signed by the party that signed it.
func pageAccount(t *testing.T, rel *fixture.Release, signed map[string][]byte, order []string, now time.Time) (account, *releaseView) {
	t.Helper()
	var entries []*store.Entry
	signer := map[int64]string{}
	for i, name := range order {
		e, err := envelope.Parse(signed[name])
		if err != nil {
			t.Fatal(err)
		}
		who := name[strings.LastIndexByte(name, '-')+1:]
		entries = append(entries, &store.Entry{Index: int64(i), Leaf: signed[name], PayloadDigest: e.PayloadDigest(), Signers: []string{who}})
		signer[int64(i)] = who
	}
	v := readRelease(rel.Digest, entries, now).view()
	a := account{Sides: map[string]string{}, Builders: map[string]string{}}
	for _, side := range []struct {
		name  string
		cards []*rebuilderView
	}{{"agrees", v.Agree}, {"dissents", v.Dissent}, {"does not close", v.Broken}} {
		for _, c := range side.cards {
			a.Sides[c.Name] = side.name
			if side.name == "does not close" {
				continue
			}
			if c.Rebuild != nil {
				a.Builders[c.Name] = c.Rebuild.BuilderID
			}
			if side.name == "agrees" {
				for _, i := range c.Reviews {
					a.RestsOn = append(a.RestsOn, signer[i])
				}
			}
		}
	}
	for _, r := range v.Reviews {
		if r.Findings {
			a.Findings = append(a.Findings, r.Signers...)
		}
	}
	a.RestsOn, a.Findings = uniq(a.RestsOn), uniq(a.Findings)
	return a, v
}

var findingsReason = regexp.MustCompile(`^trusted reviewer (\S+) \(.*\) reported findings`)

// verifyAccount reads the statements as `reprove verify` does, under a
// policy that trusts every signer.
func verifyAccount(t *testing.T, rel *fixture.Release, signed map[string][]byte, order []string, now time.Time) account {
	t.Helper()
	pems := map[string][]byte{}
	var y strings.Builder
	y.WriteString("version: 1\nreviewers:\n  threshold: 1\n  keys:\n")
	for _, p := range []*fixture.Party{alice, bob} {
		pems[p.Name+".pub"] = p.PEM
		fmt.Fprintf(&y, "    - name: %s\n      key: %s.pub\n", p.Name, p.Name)
	}
	y.WriteString("rebuilders:\n  threshold: 1\n  keys:\n")
	for _, p := range []*fixture.Party{rebA, rebB, rebC, rebD} {
		pems[p.Name+".pub"] = p.PEM
		fmt.Fprintf(&y, "    - name: %s\n      key: %s.pub\n", p.Name, p.Name)
	}
	pol, err := policy.Parse([]byte(y.String()), "policy.yaml", func(name string) ([]byte, error) { return pems[name], nil })
	if err != nil {
		t.Fatal(err)
	}
	docs := func(yield func(attest.Document, error) bool) {
		for _, name := range order {
			for _, d := range attest.SplitDocuments(name, signed[name]) {
				if !yield(d, nil) {
					return
				}
			}
		}
	}
	target := &attest.Target{Path: "hello", Digests: attest.DigestSet{"sha256": rel.Digest.Encoded()}}
	res, err := attest.Verify(context.Background(), target, docs, pol, attest.VerifyOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verified {
		t.Errorf("verified despite B's dissent, C's broken chain and bob's findings")
	}
	a := account{Sides: map[string]string{}, Builders: map[string]string{}}
	for _, r := range res.Rebuilders {
		switch r.Outcome {
		case attest.Agrees:
			a.Sides[r.Name] = "agrees"
		case attest.Disagrees:
			a.Sides[r.Name] = "dissents"
		case attest.Broken:
			a.Sides[r.Name] = "does not close"
		default:
			a.Sides[r.Name] = r.Outcome.String()
		}
		if r.BuilderID != "" {
			a.Builders[r.Name] = r.BuilderID
		}
	}
	for _, r := range res.Reviewers {
		a.RestsOn = append(a.RestsOn, r.Name)
	}
	for _, r := range res.Reasons {
		if m := findingsReason.FindStringSubmatch(r); m != nil {
			a.Findings = append(a.Findings, m[1])
		}
	}
	a.RestsOn, a.Findings = uniq(a.RestsOn), uniq(a.Findings)
	return a
}

func uniq(s []string) []string {
	sort.Strings(s)
	var out []string
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}
