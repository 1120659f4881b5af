package attest

import (
	"testing"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/compare/verdict"
)

func TestReadPredicates(t *testing.T) {
	f := newFixture(t, rebuilderSay{key: "rebuilderA", verdict: verdict.Identical})
	st := func(name string) *Statement {
		e, err := envelope.Parse(f.envs[name])
		if err != nil {
			t.Fatal(err)
		}
		s, err := ParseStatement(e.Payload)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	rv, err := ReadReview(st("review-reviewer1"))
	if err != nil || rv.Reviewer.Name != "reviewer1" {
		t.Errorf("review: %+v %v", rv, err)
	}
	sum, err := ReadSummary(st("summary-rebuilderA"))
	if err != nil || len(sum.Reviews) != 2 || sum.Rebuild.PredicateType != ProvenancePredicateType {
		t.Errorf("summary: %+v %v", sum, err)
	}
	ins, err := ReadProvenanceInputs(st("rebuild-rebuilderA"))
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]string{}
	for _, in := range ins {
		roles[in.Role] = in.Name
	}
	if roles[RoleToolchain] != "golang.org/toolchain@v0.0.1-go1.23.5.linux-amd64" || roles[RoleBaseImage] != "reprove.local/debian:bookworm" || roles[RoleSource] == "" {
		t.Errorf("inputs: %+v", roles)
	}
	if _, err := ReadReview(st("summary-rebuilderA")); err == nil {
		t.Error("a summary read as a review")
	}
	if _, err := ReadSummary(st("review-reviewer1")); err == nil {
		t.Error("a review read as a summary")
	}
	if _, err := ReadProvenanceInputs(st("review-reviewer1")); err == nil {
		t.Error("a review read as provenance")
	}
}

func TestReadVSAAndComparison(t *testing.T) {
	fixtureVSA = true
	defer func() { fixtureVSA = false }()
	f := newFixture(t, rebuilderSay{key: "rebuilderA", verdict: verdict.Different})
	st := func(name string) *Statement {
		e, _ := envelope.Parse(f.envs[name])
		s, err := ParseStatement(e.Payload)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	v, err := ReadVSA(st("summary-rebuilderA"))
	if err != nil || v.Result != ResultFailed || len(v.Inputs) != 4 {
		t.Errorf("VSA: %+v %v", v, err)
	}
	c, err := ReadComparison(st("comparison-rebuilderA"))
	if err != nil || c.Verdict != verdict.Different || c.CompareReport == nil {
		t.Errorf("comparison: %+v %v", c, err)
	}
	if _, err := ReadVSA(st("comparison-rebuilderA")); err == nil {
		t.Error("a comparison read as a VSA")
	}
	if _, err := ReadComparison(st("summary-rebuilderA")); err == nil {
		t.Error("a VSA read as a comparison")
	}
}
