package attest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const sha = "12c8dfe60ea362709f22ae5c13cd3d11dbea0519d86f15b6b99b7d0d91550c3d"

func TestParseStatement(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    *Statement
		wantErr string
	}{
		{name: "v1", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` + sha + `"}}],"predicateType":"x","predicate":{"k":1}}`,
			want: &Statement{Type: StatementV1, Subject: []Subject{{Name: "a", Digest: DigestSet{"sha256": sha}}}, PredicateType: "x", Predicate: json.RawMessage(`{"k":1}`)}},
		{name: "v0.1 as cosign writes it", in: `{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"x","subject":[{"name":"a","digest":{"sha256":"` + sha + `"}}],"predicate":{}}`,
			want: &Statement{Type: StatementV01, Subject: []Subject{{Name: "a", Digest: DigestSet{"sha256": sha}}}, PredicateType: "x", Predicate: json.RawMessage(`{}`)}},
		{name: "unknown statement type", in: `{"_type":"https://in-toto.io/Statement/v2","subject":[{"digest":{"sha256":"` + sha + `"}}],"predicateType":"x","predicate":{}}`, wantErr: "_type is"},
		{name: "proto field name", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"` + sha + `"}}],"predicate_type":"x","predicate":{}}`, wantErr: `unknown field "predicate_type"`},
		{name: "no subject", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x","predicate":{}}`, wantErr: "subject"},
		{name: "no predicate", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"` + sha + `"}}],"predicateType":"x"}`, wantErr: "predicate"},
		{name: "short sha256", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"abc"}}],"predicateType":"x","predicate":{}}`, wantErr: "digest"},
		{name: "upper-case hex", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"` + strings.ToUpper(sha) + `"}}],"predicateType":"x","predicate":{}}`, wantErr: "lower-case hex"},
		{name: "sha1 only", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha1":"` + sha[:40] + `"}}],"predicateType":"x","predicate":{}}`, wantErr: "no sha256-class digest"},
		{name: "sha1 git commit only", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"gitCommit":"` + sha[:40] + `"}}],"predicateType":"x","predicate":{}}`, wantErr: "no sha256-class digest"},
		{name: "duplicate digest", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"` + sha + `","sha256":"` + sha + `"}}],"predicateType":"x","predicate":{}}`, wantErr: "duplicate key"},
		{name: "case-variant predicateType", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"` + sha + `"}}],"predicateType":"x","PredicateType":"y","predicate":{}}`, wantErr: "differ only in case"},
		{name: "predicate not an object", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"` + sha + `"}}],"predicateType":"x","predicate":[1]}`, wantErr: "parse statement"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStatement([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestMatchSets(t *testing.T) {
	tree := strings.Repeat("a", 64)
	tests := []struct {
		name string
		a, b DigestSet
		want bool
	}{
		{"same tree", DigestSet{KeyReproveTree: tree}, DigestSet{KeyReproveTree: tree, "gitCommit": sha[:40]}, true},
		{"commit only (sha1) is not enough", DigestSet{"gitCommit": sha[:40]}, DigestSet{"gitCommit": sha[:40], KeyReproveTree: tree}, false},
		{"shared digest differs", DigestSet{KeyReproveTree: tree, "gitCommit": sha[:40]}, DigestSet{KeyReproveTree: tree, "gitCommit": strings.Repeat("b", 40)}, false},
		{"nothing shared", DigestSet{"sha256": sha}, DigestSet{KeyReproveTree: tree}, false},
		{"sha256 git commit", DigestSet{"gitCommit": sha}, DigestSet{"gitCommit": sha}, true},
	}
	for _, tt := range tests {
		if got, why := matchSets(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: matchSets = %v (%s), want %v", tt.name, got, why, tt.want)
		}
	}
}

// FuzzParseStatement feeds arbitrary bytes to the statement parser and the
// predicate parsers behind it: none may panic, and whatever is accepted has
// valid, strong subject digests.
func FuzzParseStatement(f *testing.F) {
	for _, name := range []string{"review.json", "rebuild.json", "summary.json"} {
		b, err := readGolden(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"x","subject":[{"name":"a","digest":{"sha256":"` + sha + `"}}],"predicate":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseStatement(b)
		if err != nil {
			return
		}
		for _, s := range st.Subject {
			if err := s.Digest.Validate(); err != nil {
				t.Fatalf("accepted subject with bad digests: %v", err)
			}
		}
		switch st.PredicateType {
		case ReviewPredicateType:
			if p, err := parseReview(st); err == nil {
				if p.Validate() != nil {
					t.Fatal("accepted an invalid review")
				}
			}
		case ProvenancePredicateType:
			if info, err := parseProvenance(st); err == nil {
				if info.Source.Validate() != nil && info.Source.DigestSet().Validate() != nil {
					t.Fatal("accepted a provenance with a bad source")
				}
			}
		case SummaryPredicateType:
			if p, err := parseSummary(st); err == nil {
				if p.Validate() != nil {
					t.Fatal("accepted an invalid summary")
				}
			}
		}
	})
}
