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
	Version *int              `yaml:"version"`
	Inner   *inner            `yaml:"inner"`
	List    []inner           `yaml:"list"`
	Names   []string          `yaml:"names"`
	Env     map[string]string `yaml:"env"`
	CPUs    float64           `yaml:"cpus"`
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
		{"huge", "version: 99999999999999999999\n", "f.yaml:1:1: version: wrong type: want an integer in range, got a number (99999999999999999999)"},
		{"octal of YAML 1.1", "version: 017\n", "f.yaml:1:1: version: wrong type: want an integer written in decimal, got a number (017)"},
		{"underscores", "version: 1_000\n", "f.yaml:1:1: version: wrong type: want an integer written in decimal, got a number (1_000)"},
		{"plus", "version: +1\n", "f.yaml:1:1: version: wrong type: want an integer written in decimal, got a number (+1)"},
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
		{"map", "env: {A: x, B: 1.10, \"1\": y}\n", ""},
		{"map duplicate", "env:\n  A: x\n  A: y\n", `f.yaml:3:3: env.A: duplicate key "A" (first at line 2)`},
		{"map value of a wrong type", "env:\n  A: [x]\n", "f.yaml:2:3: env.A: wrong type: want a string, got a list"},
		{"map merge", "env:\n  <<: {A: x}\n", "f.yaml:2:3: env.<<: merge keys (<<) are not allowed"},
		{"map as list", "env: [A]\n", "f.yaml:1:1: env: wrong type: want a mapping, got a list"},
		{"number", "cpus: 1.5\n", ""},
		{"number integer", "cpus: 2\n", ""},
		{"number exponent", "cpus: 1e3\n", "f.yaml:1:1: cpus: wrong type: want a number written in decimal, got a number (1e3)"},
		{"number without integer part", "cpus: .5\n", "f.yaml:1:1: cpus: wrong type: want a number written in decimal, got a number (.5)"},
		{"number nan", "cpus: .nan\n", "f.yaml:1:1: cpus: wrong type: want a number written in decimal, got a number (.nan)"},
		{"number hex", "cpus: 0x2\n", "f.yaml:1:1: cpus: wrong type: want a number written in decimal, got a number (0x2)"},
		{"number quoted", "cpus: \"2\"\n", `f.yaml:1:1: cpus: wrong type: want a number written in decimal, got "2"`},
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

// TestDecodeValues: what decodes cleanly lands in the struct as written.
func TestDecodeValues(t *testing.T) {
	var d doc
	in := "version: 3\ninner: {n: -2, flag: true, s: 1.10}\nnames: [a, \"0x1\"]\nenv: {A: \"1\", B: 017}\ncpus: 0.25\n"
	if _, errs := Decode("f.yaml", []byte(in), 1<<20, &d); errs.Err() != nil {
		t.Fatal(errs.Err())
	}
	n3, n2 := 3, -2
	want := doc{Version: &n3, Inner: &inner{N: &n2, Flag: true, S: "1.10"}, Names: []string{"a", "0x1"},
		Env: map[string]string{"A": "1", "B": "017"}, CPUs: 0.25}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
}
