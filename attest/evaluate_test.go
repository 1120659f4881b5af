package attest

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/compare/verdict"
)

// Table tests of the evaluator's phases, one function per phase. The tamper
// suite (verify_test.go) covers them end to end.

func testEvaluator(t *testing.T, f *fixture, policyYAML string) *evaluator {
	t.Helper()
	ds := DigestSet{"sha256": digest.FromBytes(shippedBytes).Encoded()}
	e, err := newEvaluator(context.Background(), &Target{Path: "hello", Digests: ds}, mustPolicy(t, policyYAML), testNow)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestPhaseCheckPolicy(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		extra string
		ndocs int
		want  []string
	}{
		{"valid", "", 3, nil},
		{"no documents", "", 0, []string{"no attestations were given"}},
		{"expired", "expires: 2026-11-19T00:00:00Z\n", 3, []string{"the policy expired on 2026-11-19T00:00:00Z"}},
		{"not yet expired", "expires: 2026-11-21T00:00:00Z\n", 3, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := testEvaluator(t, f, f.policyYAML(1, 1, tt.extra))
			e.checkPolicy(tt.ndocs)
			if diff := cmp.Diff(tt.want, e.res.Reasons); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPhaseIndexSigners(t *testing.T) {
	f := newFixture(t, identicalA)
	stranger := f.signedBy(t, "summary-rebuilderA", "stranger")
	e0, _ := envelope.Parse(f.envs["review-reviewer1"])
	cosigned, err := addSignature(context.Background(), e0, f.k.signers["reviewer2"])
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		docs      map[string][]byte
		order     []string
		extra     string
		wantNodes int
		// wantSigners: node source → number of reviewer and rebuilder keys.
		wantSigners map[string][2]int
		wantReasons []string
		wantNotes   []string
	}{
		{
			name: "each document a node", order: []string{"review-reviewer1", "rebuild-rebuilderA", "summary-rebuilderA"},
			wantNodes:   3,
			wantSigners: map[string][2]int{"review-reviewer1": {1, 0}, "rebuild-rebuilderA": {0, 1}, "summary-rebuilderA": {0, 1}},
		},
		{
			name: "same statement twice is one node with both signers", order: []string{"review-reviewer1", "cosigned"},
			docs:        map[string][]byte{"cosigned": cosigned},
			wantNodes:   1,
			wantSigners: map[string][2]int{"review-reviewer1": {2, 0}},
		},
		{
			name: "untrusted signer is a note", order: []string{"stranger"}, docs: map[string][]byte{"stranger": stranger},
			wantNodes:   1,
			wantSigners: map[string][2]int{"stranger": {0, 0}},
			wantNotes:   []string{"attestation stranger (verification summary) is signed by no key the policy trusts; ignored"},
		},
		{
			name: "unparsable envelope is a reason", order: []string{"bad"}, docs: map[string][]byte{"bad": []byte(`{"payloadType":1}`)},
			wantReasons: []string{"attestation bad: parse envelope: json: cannot unmarshal number into Go struct field wireEnvelope.payloadType of type string"},
		},
		{
			name: "expired key is a reason and does not count", order: []string{"summary-rebuilderA"},
			extra:       "expired-A",
			wantNodes:   1,
			wantSigners: map[string][2]int{"summary-rebuilderA": {0, 0}},
			wantReasons: []string{"attestation summary-rebuilderA: the signature by A has expired (the policy trusts that key until 2026-11-15T00:00:00Z)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := f.policyYAML(1, 1, "")
			if tt.extra == "expired-A" {
				y = strings.Replace(y, "    - name: A\n", "    - name: A\n      expires: 2026-11-15T00:00:00Z\n", 1)
			}
			e := testEvaluator(t, f, y)
			var docs []Document
			for _, n := range tt.order {
				b := f.envs[n]
				if tt.docs[n] != nil {
					b = tt.docs[n]
				}
				docs = append(docs, SplitDocuments(n, b)...)
			}
			if err := indexAll(e, docs); err != nil {
				t.Fatal(err)
			}
			if len(e.nodes) != tt.wantNodes || len(e.g.Nodes()) != tt.wantNodes {
				t.Errorf("%d nodes (%d in the graph), want %d", len(e.nodes), len(e.g.Nodes()), tt.wantNodes)
			}
			got := map[string][2]int{}
			for _, n := range e.nodes {
				got[n.Source] = [2]int{len(n.reviewers), len(n.rebuilders)}
			}
			if tt.wantSigners == nil {
				tt.wantSigners = map[string][2]int{}
			}
			if diff := cmp.Diff(tt.wantSigners, got); diff != "" {
				t.Errorf("signers (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantReasons, e.res.Reasons); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantNotes, e.res.Notes); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPhaseGatherSummaries(t *testing.T) {
	tests := []struct {
		name     string
		says     []rebuilderSay
		drop     []string
		other    bool // add a summary made for another file
		want     []string
		wantNote string
	}{
		{name: "identical agrees", says: []rebuilderSay{identicalA}, want: []string{"A=agrees"}},
		{name: "different disagrees", says: []rebuilderSay{differentC}, want: []string{"C=disagrees"}},
		{name: "equivalent under an unlisted normalizer", says: []rebuilderSay{{key: "rebuilderB", verdict: verdict.Equivalent, normalizers: []string{"archive-mtime"}}},
			want: []string{"B=not-accepted"}},
		{name: "no rebuild: broken", says: []rebuilderSay{identicalA}, drop: []string{"rebuild-rebuilderA"}, want: []string{"A=broken"}},
		{name: "another file's summary: a note", other: true, want: nil, wantNote: "is a verification summary for another file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.says...)
			if tt.other {
				o := newFixtureFor(t, []byte("another\n"), identicalB)
				for _, n := range o.order {
					f.add("other-"+n, o.envs[n])
				}
			}
			for _, d := range tt.drop {
				f.drop(d)
			}
			e := testEvaluator(t, f, f.policyYAML(1, 1, ""))
			if err := indexAll(e, f.docs()); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, fp := range sortedKeys(e.gatherSummaries()) {
				k, _ := e.pol.Rebuilders.Lookup(fp)
				for _, s := range e.gatherSummaries()[fp] {
					got = append(got, k.Name+"="+s.outcome.Outcome.String())
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("says (-want +got):\n%s", diff)
			}
			if tt.wantNote != "" && (len(e.res.Notes) == 0 || !strings.Contains(strings.Join(e.res.Notes, "\n"), tt.wantNote)) {
				t.Errorf("notes %q lack %q", e.res.Notes, tt.wantNote)
			}
		})
	}
}

func TestPhaseWorstSay(t *testing.T) {
	s := func(o Outcome) say { return say{outcome: RebuilderResult{Outcome: o}} }
	tests := []struct {
		name       string
		says       []say
		want       Outcome
		wantDetail string
	}{
		{"one agrees", []say{s(Agrees)}, Agrees, ""},
		{"broken beats agrees", []say{s(Agrees), s(Broken)}, Broken, ""},
		{"disagrees beats not accepted", []say{s(NotAccepted), s(Disagrees)}, Disagrees, ""},
		{"agree and disagree contradicts", []say{s(Agrees), s(Disagrees)}, Disagrees, "it also signed an agreeing summary: it contradicts itself"},
		{"not accepted beats agrees", []say{s(Agrees), s(NotAccepted)}, NotAccepted, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := worstSay(tt.says)
			if got.outcome.Outcome != tt.want || got.outcome.Detail != tt.wantDetail {
				t.Errorf("worst = %s %q, want %s %q", got.outcome.Outcome, got.outcome.Detail, tt.want, tt.wantDetail)
			}
		})
	}
}

func TestPhaseReduce(t *testing.T) {
	fp := func(n string) digest.Digest { return digest.FromString(n) }
	agree := func(name string) say {
		return say{outcome: RebuilderResult{Name: name, Key: fp(name), Outcome: Agrees, Verdict: verdict.Identical}}
	}
	disagree := func(name string) say {
		return say{outcome: RebuilderResult{Name: name, Key: fp(name), Outcome: Disagrees, Verdict: verdict.Different}}
	}
	tests := []struct {
		name        string
		extra       string
		threshold   int
		perKey      map[digest.Digest][]say
		wantAgree   int
		wantReasons []string
	}{
		{"two agree", "", 2, map[digest.Digest][]say{fp("A"): {agree("A")}, fp("B"): {agree("B")}}, 2, nil},
		{"one short", "", 2, map[digest.Digest][]say{fp("A"): {agree("A")}}, 1,
			[]string{"reproduced by 1 of 3 trusted rebuilders; the policy needs 2"}},
		{"dissent fails", "", 1, map[digest.Digest][]say{fp("A"): {agree("A")}, fp("C"): {disagree("C")}}, 1,
			[]string{"trusted rebuilder C disagrees: different"}},
		{"dissent reported", "dissent: report\n", 1, map[digest.Digest][]say{fp("A"): {agree("A")}, fp("C"): {disagree("C")}}, 1, nil},
		// C's key fingerprint sorts before B's: reasons go by name.
		{"reasons by rebuilder name", "", 1, map[digest.Digest][]say{fp("C"): {disagree("C")}, fp("B"): {disagree("B")}}, 0,
			[]string{"trusted rebuilder B disagrees: different", "trusted rebuilder C disagrees: different",
				"reproduced by 0 of 3 trusted rebuilders; the policy needs 1"}},
		{"one key counts once", "", 2, map[digest.Digest][]say{fp("A"): {agree("A"), agree("A")}}, 1,
			[]string{"reproduced by 1 of 3 trusted rebuilders; the policy needs 2"}},
	}
	f := newFixture(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := testEvaluator(t, f, f.policyYAML(1, tt.threshold, tt.extra))
			got := e.reduce(tt.perKey)
			if len(got) != tt.wantAgree {
				t.Errorf("%d agreeing, want %d", len(got), tt.wantAgree)
			}
			if diff := cmp.Diff(tt.wantReasons, e.res.Reasons); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPhaseCheckIdentities(t *testing.T) {
	src := testSource()
	other := testSource()
	other.Tree = digest.FromString("another tree")
	prov := func(name, version string, s Source) say {
		return say{prov: &ProvenanceInfo{Recipe: RecipeRef{Name: name, Version: version}, Source: s}}
	}
	tests := []struct {
		name        string
		agreeing    []say
		wantName    string
		wantReasons []string
	}{
		{"none", nil, "", nil},
		{"same", []say{prov("hello", "1.0", src), prov("hello", "1.0", src)}, "hello", nil},
		{"other version", []say{prov("hello", "1.0", src), prov("hello", "1.1", src)}, "hello",
			[]string{"trusted rebuilders disagree on what the file is: hello 1.0 and hello 1.1"}},
		{"other source", []say{prov("hello", "1.0", src), prov("hello", "1.0", other)}, "hello",
			[]string{"trusted rebuilders built from different sources (https://example.com/hello.git@0123456789abcdef0123456789abcdef01234567 and https://example.com/hello.git@0123456789abcdef0123456789abcdef01234567): reproveTree differs (" +
				src.Tree.Encoded() + " vs " + other.Tree.Encoded() + ")"}},
	}
	f := newFixture(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := testEvaluator(t, f, f.policyYAML(1, 1, ""))
			e.checkIdentities(tt.agreeing)
			if e.res.Name != tt.wantName {
				t.Errorf("name %q, want %q", e.res.Name, tt.wantName)
			}
			if diff := cmp.Diff(tt.wantReasons, e.res.Reasons); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPhaseCountReviews(t *testing.T) {
	tests := []struct {
		name          string
		threshold     int
		findings      bool
		wantApprovers int
		wantReason    string
	}{
		{"both approve", 2, false, 2, ""},
		{"threshold one", 1, false, 2, ""},
		{"findings fail", 1, true, 1, "trusted reviewer reviewer2 (reviewer2) reported findings in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, identicalA)
			if tt.findings {
				f.replaceReview(t, "reviewer2", func(p *ReviewPredicate) { p.Verdict = Findings })
			}
			e := testEvaluator(t, f, f.policyYAML(tt.threshold, 1, ""))
			if err := indexAll(e, f.docs()); err != nil {
				t.Fatal(err)
			}
			agreeing := e.reduce(e.gatherSummaries())
			e.checkIdentities(agreeing)
			got := e.countReviews(agreeing)
			if len(got) != tt.wantApprovers {
				t.Errorf("%d approvers, want %d", len(got), tt.wantApprovers)
			}
			if tt.wantReason == "" && len(e.res.Reasons) > 0 {
				t.Errorf("reasons: %q", e.res.Reasons)
			}
			if tt.wantReason != "" && !strings.Contains(strings.Join(e.res.Reasons, "\n"), tt.wantReason) {
				t.Errorf("reasons %q lack %q", e.res.Reasons, tt.wantReason)
			}
		})
	}
}

func TestPhaseDecide(t *testing.T) {
	f := newFixture(t)
	one := map[digest.Digest]bool{digest.FromString("r"): true}
	tests := []struct {
		name      string
		agreeing  int
		approvers map[digest.Digest]bool
		reasons   []string
		want      bool
	}{
		{"all met", 1, one, nil, true},
		{"a reason", 1, one, []string{"something"}, false},
		// Below: no phase gave a reason, yet a count is short; decide
		// still refuses and says so.
		{"no rebuilder", 0, one, nil, false},
		{"no approver", 1, nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := testEvaluator(t, f, f.policyYAML(1, 1, ""))
			e.res.Reasons = tt.reasons
			e.decide(make([]say, tt.agreeing), tt.approvers)
			if e.res.Verified != tt.want {
				t.Errorf("verified %v, want %v", e.res.Verified, tt.want)
			}
			if !e.res.Verified && len(e.res.Reasons) == 0 {
				t.Error("refused without a reason")
			}
		})
	}
}

// indexAll is phase 1 for a list of documents.
func indexAll(e *evaluator, docs []Document) error {
	for _, d := range docs {
		if err := e.index(d); err != nil {
			return err
		}
	}
	return nil
}
