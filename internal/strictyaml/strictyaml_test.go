package strictyaml

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type inner struct {
	N    *int   `yaml:"n"`
	Flag bool   `yaml:"flag"`
	S    string `yaml:"s"`
}

type doc struct {
	Version *int     `yaml:"version"`
	Inner   *inner   `yaml:"inner"`
	List    []inner  `yaml:"list"`
	Names   []string `yaml:"names"`
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // the error, "" for none
	}{
		{"good", "version: 1\ninner: {n: -3, flag: true, s: x}\nlist:\n  - n: 0\nnames: [a, 1.10]\n", ""},
		{"fraction", "version: 1.5\n", "f.yaml:1:1: version: wrong type: want an integer written in decimal, got a number (1.5)"},
		{"hex", "version: 0x1\n", "f.yaml:1:1: version: wrong type: want an integer written in decimal, got a number (0x1)"},
		{"exponent", "version: 1e0\n", "f.yaml:1:1: version: wrong type: want an integer written in decimal, got a number (1e0)"},
		{"leading zero", "version: 01\n", "f.yaml:1:1: version: wrong type: want an integer written in decimal, got a number (01)"},
		{"huge", "version: 99999999999999999999\n", "f.yaml:1:1: version: wrong type: want an integer written in decimal, got a number (99999999999999999999)"},
		{"unknown", "inner:\n  m: 1\n", `f.yaml:2:3: inner.m: unknown field "m" (known here: n, flag, s)`},
		{"duplicate", "version: 1\nversion: 1\n", `f.yaml:2:1: version: duplicate key "version" (first at line 1)`},
		{"yes is not a boolean", "inner: {flag: yes}\n", `f.yaml:1:9: inner.flag: wrong type: want true or false, got "yes"`},
		{"list for a mapping", "inner: [1]\n", "f.yaml:1:1: inner: wrong type: want a mapping, got a list"},
		{"anchor", "inner: &a {n: 1}\n", "f.yaml:1:1: inner: anchors (&a) are not allowed"},
		{"alias", "names: [a]\nlist:\n  - *x\n", "f.yaml: syntax error: unknown anchor 'x' referenced"},
		{"merge", "inner:\n  <<: {n: 1}\n", "f.yaml:2:3: inner.<<: merge keys (<<) are not allowed"},
		{"custom tag", "names: [!foo a]\n", "f.yaml:1:9: names[0]: custom tag !foo is not allowed"},
		{"two errors in order", "inner: {n: x}\nversion: y\n", "f.yaml:1:9: inner.n: wrong type: want an integer written in decimal, got \"x\"\nf.yaml:2:1: version: wrong type: want an integer written in decimal, got \"y\""},
		{"syntax", "version: [\n", "f.yaml:1: syntax error: did not find expected node content"},
		{"second document", "version: 1\n---\nversion: 2\n", "f.yaml:2:1: the file holds one YAML document; a second one starts here"},
		{"empty", "", "f.yaml: required: the file is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d doc
			_, errs := Decode("f.yaml", []byte(tt.in), 1<<20, &d)
			got := ""
			if err := errs.Err(); err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCauses(t *testing.T) {
	var d doc
	_, errs := Decode("f.yaml", []byte("version: x\nother: 1\n"), 1<<20, &d)
	err := errs.Err()
	if !errors.Is(err, ErrWrongType) || !errors.Is(err, ErrUnknownField) {
		t.Errorf("%v does not carry both causes", err)
	}
	if _, errs := Decode("f.yaml", make([]byte, 10), 5, &d); len(errs) != 1 {
		t.Errorf("oversize input: %v", errs)
	}
}
