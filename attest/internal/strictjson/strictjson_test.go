package strictjson

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
)

type inner struct {
	Verdict string `json:"verdict"`
}

type outer struct {
	Name  string            `json:"name"`
	Inner inner             `json:"inner"`
	List  []inner           `json:"list"`
	Map   map[string]inner  `json:"map"`
	Raw   json.RawMessage   `json:"raw"`
	Tags  map[string]string `json:"tags"`
	Skip  string            `json:"-"`
}

func TestUnmarshal(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    outer
		wantErr string
	}{
		{name: "ok", in: `{"name":"a","inner":{"verdict":"identical"},"list":[{"verdict":"x"}],"map":{"K":{"verdict":"y"}},"raw":{"Any":1,"b":2},"tags":{"A":"1","b":"2"}}`,
			want: outer{Name: "a", Inner: inner{"identical"}, List: []inner{{"x"}}, Map: map[string]inner{"K": {"y"}}, Raw: json.RawMessage(`{"Any":1,"b":2}`), Tags: map[string]string{"A": "1", "b": "2"}}},
		{name: "duplicate key", in: `{"name":"a","name":"b"}`, wantErr: `$: duplicate key "name"`},
		{name: "nested duplicate", in: `{"inner":{"verdict":"different","verdict":"identical"}}`, wantErr: `$.inner: duplicate key "verdict"`},
		{name: "case variant pair", in: `{"inner":{"verdict":"different","Verdict":"identical"}}`, wantErr: `differ only in case`},
		{name: "kelvin sign folds to k", in: `{"tags":{"k":"1","\u212a":"2"}}`, wantErr: `differ only in case`},
		{name: "case variant alone", in: `{"Name":"a"}`, wantErr: `$: unknown field "Name"`},
		{name: "nested case variant alone", in: `{"list":[{"VERDICT":"x"}]}`, wantErr: `$.list[0]: unknown field "VERDICT"`},
		{name: "unknown field", in: `{"name":"a","extra":1}`, wantErr: `unknown field "extra"`},
		{name: "dash field is unknown", in: `{"Skip":"x"}`, wantErr: `unknown field "Skip"`},
		{name: "trailing data", in: `{"name":"a"} {}`, wantErr: "unexpected data after the JSON value"},
		{name: "truncated", in: `{"name":"a"`, wantErr: "unexpected end of JSON input"},
		{name: "case variants inside free-form data", in: `{"raw":{"Any":1,"any":2}}`, wantErr: `$.raw: keys "Any" and "any" differ only in case`},
		{name: "duplicate inside raw", in: `{"raw":{"a":1,"a":2}}`, wantErr: `$.raw: duplicate key "a"`},
		{name: "too deep", in: strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2), wantErr: "nested deeper"},
		{name: "wrong type", in: `{"name":1}`, wantErr: "cannot unmarshal number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got outer
			err := Unmarshal([]byte(tt.in), &got)
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

func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"A":2}`, `{"a":{"b":[1,{"c":null}]}}`, `[`, `{"\u212a":1,"k":2}`, `"x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Check(b)
		if err == nil && !json.Valid(b) {
			t.Fatalf("Check accepted invalid JSON %q", b)
		}
		var o outer
		if Unmarshal(b, &o) == nil {
			// Whatever Unmarshal accepts, encoding/json reads the same way.
			var o2 outer
			if err := json.Unmarshal(b, &o2); err != nil {
				t.Fatalf("Unmarshal accepted %q that encoding/json refuses: %v", b, err)
			}
			if diff := cmp.Diff(o2, o); diff != "" {
				t.Fatalf("different readings of %q: %s", b, diff)
			}
		}
	})
}

// The fast path for ASCII keys folds as the general one does.
func TestFoldKeyASCII(t *testing.T) {
	for c := 0; c < 128; c++ {
		s := string(rune(c))
		var min rune = rune(c)
		for f := unicode.SimpleFold(rune(c)); f != rune(c); f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		if got := foldKey(s); got != string(min) {
			t.Errorf("foldKey(%q) = %q, want %q", s, got, string(min))
		}
	}
	if foldKey("\u212a") != foldKey("k") || foldKey("\u017f") != foldKey("s") {
		t.Error("KELVIN SIGN or LONG S folds apart from k or s")
	}
}

// Keys that are not UTF-8 are read as encoding/json reads them, so two it
// would take for one are duplicates.
func TestInvalidUTF8Keys(t *testing.T) {
	if err := Check([]byte("{\"\xff\":1,\"\xfe\":2}")); err == nil || !strings.Contains(err.Error(), "duplicate key") {
		t.Errorf("two keys encoding/json reads as one: %v", err)
	}
}
