package recipes

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the parser. It must never panic; every
// error must be located in the named file; and whatever it accepts must
// have a canonical form that parses back to the same digest.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/valid", "testdata/invalid", "catalogue"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.*"))
		for _, p := range files {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("{schema: 1, steps: [{run: [1, 2.5, true, null]}]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse("fuzz.yaml", data)
		if err != nil {
			if r != nil {
				t.Fatal("Parse returned both a recipe and an error")
			}
			var es Errors
			var e *Error
			switch {
			case errors.As(err, &es):
				for _, e := range es {
					if e.File != "fuzz.yaml" {
						t.Fatalf("error %q does not name the file", e)
					}
				}
			case errors.As(err, &e):
				if e.File != "fuzz.yaml" {
					t.Fatalf("error %q does not name the file", e)
				}
			default:
				t.Fatalf("error %q is not a located *Error", err)
			}
			return
		}
		c, err := r.Canonical()
		if err != nil {
			t.Fatalf("valid recipe has no canonical form: %v", err)
		}
		r2, err := Parse("canonical", c)
		if err != nil {
			t.Fatalf("canonical form %s does not parse: %v", c, err)
		}
		c2, err := r2.Canonical()
		if err != nil || string(c2) != string(c) {
			t.Fatalf("canonical form is not stable:\n%s\n%s", c, c2)
		}
	})
}

// FuzzParseSize: sizes come from flags and recipes. ParseSize never
// panics, accepts only positive sizes, and what it accepts FormatSize
// writes back to the same number.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"4GiB", "1.5 gib", "65536", "0.5KiB", "4GB", "1..5MiB", "9223372036854775807", "99999999999999999999TiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			return
		}
		if n <= 0 {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
		back, err := ParseSize(FormatSize(n))
		if err != nil || back != n {
			t.Fatalf("ParseSize(FormatSize(%d)) = %d, %v", n, back, err)
		}
	})
}
