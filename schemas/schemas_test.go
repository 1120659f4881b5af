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

// What a document's meaning rests on is asserted, formats included (as
// patterns: formats are annotations in draft 2020-12).
func TestValidateAsserts(t *testing.T) {
	good := `{"schemaVersion":1,"version":"v1.2.3","goVersion":"go1.26.8","platform":"linux/amd64","vcsTime":"2026-11-01T09:30:00Z"}`
	if err := Validate("version", []byte(good)); err != nil {
		t.Fatalf("a valid document: %v", err)
	}
	for _, c := range []struct{ name, doc, want string }{
		{"not a time", strings.Replace(good, "2026-11-01T09:30:00Z", "yesterday", 1), "vcsTime"},
		{"a time without its zone", strings.Replace(good, "09:30:00Z", "09:30:00", 1), "vcsTime"},
		{"a float version", strings.Replace(good, `"schemaVersion":1`, `"schemaVersion":1.5`, 1), "schemaVersion"},
		{"an unknown field", strings.Replace(good, `{`, `{"extra":1,`, 1), "extra"},
		{"two documents", good + good, "not one JSON document"},
	} {
		if err := Validate("version", []byte(c.doc)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", c.name, err, c.want)
		}
	}
	pub := `{"schemaVersion":1,"server":"relative/path"}`
	if err := Validate("centre-monitor", []byte(pub)); err == nil || !strings.Contains(err.Error(), "server") {
		t.Errorf("a relative URI: %v", err)
	}
}
