package recipes

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestErrorCauses: callers can branch on the cause of each located error.
func TestErrorCauses(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"unknown", "schema: 1\nbogus: 1\n", ErrUnknownField},
		{"duplicate", "schema: 1\nschema: 1\n", ErrDuplicateKey},
		{"type", "schema: [1]\n", ErrWrongType},
		{"syntax", "schema: [1\n", ErrSyntax},
		{"schema", "schema: 9\n", ErrSchema},
		{"required", "schema: 1\n", ErrRequired},
		{"weak", "schema: 1\nsource: {dir: {path: x, tree: 'md5:d41d8cd98f00b204e9800998ecf8427e'}}\n", ErrWeakDigest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("r.yaml", []byte(tt.in))
			if !errors.Is(err, tt.want) {
				t.Errorf("Parse(%q) = %v; want an error wrapping %v", tt.in, err, tt.want)
			}
		})
	}
}

// TestValidateInCode: a recipe built in code (as infer does) is checked by
// the same rules, with field paths but no file positions.
func TestValidateInCode(t *testing.T) {
	r := &Recipe{
		Schema:  SchemaVersion,
		Name:    "x",
		Version: "1",
		Source:  Source{Git: &GitSource{URL: "https://example.com/x", Commit: "0123456789abcdef0123456789abcdef01234567"}},
		Steps:   []Step{{Run: []string{"go", "build"}}},
		Outputs: []Output{{Path: "x"}},
	}
	err := r.Validate()
	var got []string
	var es Errors
	var e *Error
	switch {
	case errors.As(err, &es):
		for _, e := range es {
			got = append(got, e.Field)
		}
	case errors.As(err, &e):
		got = []string{e.Field}
		if e.Line != 0 || e.File != "" {
			t.Errorf("error of an in-code recipe has a position: %v", e)
		}
	}
	if diff := cmp.Diff([]string{"source.git.tree"}, got); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	r.Source.Git.Tree = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	// Text that is not UTF-8 would lose bytes in the canonical JSON, so
	// that two recipes would share a digest: refused.
	r.Env = map[string]string{"A": "\xff"}
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "env.A: not valid UTF-8") {
		t.Errorf("Validate with invalid UTF-8 = %v", err)
	}
	r.Env = nil
	if err := r.Validate(); err != nil {
		t.Errorf("Validate after fix: %v", err)
	}
	if _, err := r.Digest(); err != nil {
		t.Errorf("Digest: %v", err)
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "a.yaml", Line: 3, Column: 5, Field: "name", Err: ErrRequired}, "a.yaml:3:5: name: required"},
		{Error{File: "a.yaml", Field: "name", Err: ErrRequired}, "a.yaml: name: required"},
		{Error{Line: 2, Field: "name", Err: ErrRequired}, "line 2: name: required"},
		{Error{Field: "name", Err: ErrRequired}, "name: required"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
