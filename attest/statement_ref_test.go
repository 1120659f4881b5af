package attest

import (
	"fmt"
	"strings"
	"testing"

	ita1 "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/reprove/reprove/attest/internal/strictjson"
)

// parseStatementByProtojson is how ParseStatement read a statement before
// it stopped decoding the predicate with protojson: the reference its
// acceptance must match.
func parseStatementByProtojson(b []byte) error {
	var w wireStatement
	if err := strictjson.Unmarshal(b, &w); err != nil {
		return err
	}
	if w.Type != StatementV1 && w.Type != StatementV01 {
		return fmt.Errorf("_type is %q", w.Type)
	}
	var st ita1.Statement
	if err := (protojson.UnmarshalOptions{}).Unmarshal(b, &st); err != nil {
		return err
	}
	if err := st.Validate(); err != nil {
		return err
	}
	if len(st.GetSubject()) > MaxSubjects {
		return fmt.Errorf("%d subjects", len(st.GetSubject()))
	}
	for _, rd := range st.GetSubject() {
		if err := DigestSet(rd.GetDigest()).Validate(); err != nil {
			return err
		}
	}
	return nil
}

var statementSeeds = []string{
	`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"` + strings.Repeat("ab", 32) + `"}}],"predicateType":"t","predicate":{}}`,
	`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"` + strings.Repeat("ab", 32) + `"},"content":"YWJj","annotations":{"a":1}}],"predicateType":"t","predicate":{"k":[1,"2",null]}}`,
	`{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"digest":{"sha256":"` + strings.Repeat("ab", 32) + `"},"content":"YWJ"}],"predicateType":"t","predicate":null}`,
	`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"` + strings.Repeat("ab", 32) + `"},"content":"-_8"}],"predicateType":"t","predicate":[]}`,
	`{"_type":"https://in-toto.io/Statement/v1","subject":[{"uri":"u","digest":{"sha256":"` + strings.Repeat("ab", 32) + `"},"annotations":"x"}],"predicateType":"t","predicate":{}}`,
	`{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"t","predicate":{}}`,
	"{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"name\":\"\xff\",\"digest\":{\"sha256\":\"" + strings.Repeat("ab", 32) + "\"}}],\"predicateType\":\"t\",\"predicate\":{}}",
}

func TestParseStatementAsProtojson(t *testing.T) {
	for _, s := range statementSeeds {
		_, got := ParseStatement([]byte(s))
		want := parseStatementByProtojson([]byte(s))
		if (got == nil) != (want == nil) {
			t.Errorf("%q: ParseStatement %v, by protojson %v", s, got, want)
		}
	}
}

// ParseStatement accepts exactly what it accepted when protojson decoded
// the whole statement.
func FuzzParseStatementAsProtojson(f *testing.F) {
	for _, s := range statementSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, got := ParseStatement(b)
		want := parseStatementByProtojson(b)
		if (got == nil) != (want == nil) {
			t.Fatalf("%q: ParseStatement %v, by protojson %v", b, got, want)
		}
	})
}
