package schemas

import (
	"strings"
	"testing"
)

// Every schema compiles, and each refuses a document that is not even an
// object of its kind.
func TestSchemasCompile(t *testing.T) {
	names := Names()
	if len(names) == 0 {
		t.Fatal("no schemas embedded")
	}
	for _, n := range names {
		if n == "defs" {
			continue
		}
		if err := Validate(n, []byte(`[]`)); err == nil {
			t.Errorf("%s accepts a JSON array", n)
		}
	}
}

func TestValidateNamesProblem(t *testing.T) {
	err := Validate("compare-report", []byte(`{"schemaVersion": 1, "verdict": "same"}`))
	if err == nil || !strings.Contains(err.Error(), "compare-report") {
		t.Fatalf("want an error naming the schema, got %v", err)
	}
	if err := Validate("nope", []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "compare-report") {
		t.Fatalf("unknown schema: want the known names listed, got %v", err)
	}
}
