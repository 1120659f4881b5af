package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
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

// wide has a field of each kind whose decoding encoding/json and the json/v2
// prototype's v1 semantics could tell apart.
type wide struct {
	Bytes   []byte            `json:"bytes"`
	Array   [2]byte           `json:"array"`
	Int     int8              `json:"int"`
	Uint    uint16            `json:"uint"`
	Float   float32           `json:"float"`
	Str     string            `json:"str"`
	Quoted  int               `json:"quoted,string"`
	Ptr     *inner            `json:"ptr"`
	Slice   []string          `json:"slice"`
	Map     map[string]int    `json:"map"`
	IntKeys map[int]string    `json:"intKeys"`
	Any     any               `json:"any"`
	Time    time.Time         `json:"time"`
	Raw     json.RawMessage   `json:"raw"`
	Tree    *tree             `json:"tree"`
	Nested  map[string][]byte `json:"nested"`
}

// tree is recursive: its shape refers to itself.
type tree struct {
	Name string  `json:"name"`
	Kids []*tree `json:"kids"`
}

// encodingJSON is how encoding/json reads b with unknown fields refused.
func encodingJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}

// What Unmarshal accepts it reads as encoding/json does: base64 forms,
// nulls, numbers at their limits, bad UTF-8, times, recursive types.
func TestDecodesAsEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{"bytes":"QUJD"}`, `{"bytes":"QUI="}`, `{"bytes":"QUI"}`, `{"bytes":"QU\nI="}`, `{"bytes":"QU\r\nJD"}`,
		`{"bytes":"-_8="}`, `{"bytes":"+/8="}`, `{"bytes":""}`, `{"bytes":null}`, `{"bytes":[1,2]}`, `{"bytes":"QUJD===="}`,
		`{"array":[1,2]}`, `{"array":[1,2,3]}`, `{"array":[1]}`, `{"array":"QUI="}`,
		`{"int":127}`, `{"int":128}`, `{"int":-129}`, `{"int":1.0}`, `{"int":1e2}`, `{"uint":-1}`, `{"uint":65536}`,
		`{"float":1e39}`, `{"float":-0}`, `{"float":3.4e38}`,
		`{"str":null}`, `{"str":"\ud800"}`, "{\"str\":\"\xff\"}", `{"str":"\u0000"}`, `{"str":1}`, `{"str":true}`,
		`{"quoted":"12"}`, `{"quoted":12}`, `{"quoted":"x"}`, `{"quoted":null}`, `{"quoted":"null"}`,
		`{"ptr":null}`, `{"ptr":{}}`, `{"ptr":{"verdict":null}}`, `{"ptr":[]}`,
		`{"slice":null}`, `{"slice":[]}`, `{"slice":[null,"a"]}`, `{"slice":{}}`,
		`{"map":null}`, `{"map":{}}`, `{"map":{"a":null}}`, `{"map":{"a":1.5}}`,
		`{"intKeys":{"1":"a"}}`, `{"intKeys":{"x":"a"}}`, `{"intKeys":{"01":"a"}}`, `{"intKeys":{"-0":"a"}}`,
		`{"any":1}`, `{"any":{"a":[1,"b",null,true]}}`, `{"any":1e400}`,
		`{"time":"2026-12-08T02:00:00Z"}`, `{"time":"2026-12-08T02:00:00.5+01:00"}`, `{"time":"2026-12-08"}`, `{"time":null}`,
		`{"time":"2026-12-08T24:00:00Z"}`, `{"time":"2026-12-08t02:00:00z"}`, `{"time":1}`,
		`{"raw":null}`, `{"raw":[1, 2]}`, `{"raw":"x"}`,
		`{"tree":{"name":"a","kids":[{"name":"b","kids":[null,{"name":"c"}]}]}}`,
		`{"nested":{"a":"QUI=","b":null}}`,
		`null`, `{}`, `[]`, `"x"`,
	} {
		var got, want wide
		err := Unmarshal([]byte(in), &got)
		werr := encodingJSON([]byte(in), &want)
		if (err == nil) != (werr == nil) {
			t.Errorf("%q: Unmarshal: %v; encoding/json: %v", in, err, werr)
			continue
		}
		if err == nil {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%q: (-encoding/json +Unmarshal):\n%s", in, diff)
			}
		}
	}
}

func FuzzUnmarshalAsEncodingJSON(f *testing.F) {
	for _, s := range []string{`{"bytes":"QUI="}`, `{"int":1,"time":"2026-12-08T02:00:00Z"}`, `{"tree":{"kids":[{"name":"x"}]}}`,
		`{"quoted":"1","map":{"a":1},"intKeys":{"2":"b"}}`, `{"any":[{"a":1}],"ptr":{"verdict":"x"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got wide
		if Unmarshal(b, &got) != nil {
			return
		}
		var want wide
		if err := encodingJSON(b, &want); err != nil {
			t.Fatalf("Unmarshal accepted %q that encoding/json refuses: %v", b, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("different readings of %q: %s", b, diff)
		}
	})
}

// Past manyKeys keys in one object, duplicates are found by map as before.
func TestManyKeys(t *testing.T) {
	many := func(extra string) string {
		var b strings.Builder
		b.WriteString(`{"tags":{`)
		for i := range 2 * manyKeys {
			fmt.Fprintf(&b, `"k%d":"v",`, i)
		}
		b.WriteString(extra + `}}`)
		return b.String()
	}
	for _, tt := range []struct{ in, wantErr string }{
		{many(`"x":"1"`), ""},
		{many(`"k3":"1"`), `$.tags: duplicate key "k3"`},
		{many(`"K3":"1"`), `$.tags: keys "k3" and "K3" differ only in case`},
		{many(`"\u212a3":"1"`), `differ only in case`},
		{many(`"x":"1","X":"2"`), `$.tags: keys "x" and "X" differ only in case`},
	} {
		var o outer
		err := Unmarshal([]byte(tt.in), &o)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error %v, want one containing %q", tt.in, err, tt.wantErr)
		}
	}
}

// Paths in messages name keys and indexes at depth; the pooled walkers
// carry nothing from one document to the next.
func TestPaths(t *testing.T) {
	for _, tt := range []struct{ in, wantErr string }{
		{`{"list":[{"verdict":"x"},{"verdict":"y","verdict":"z"}]}`, `$.list[1]: duplicate key "verdict"`},
		{`{"map":{"a":{"verdict":"x"},"b":{"Verdict":"y"}}}`, `$.map.b: unknown field "Verdict"`},
		{`{"raw":[[],[{"a":1,"A":2}]]}`, `$.raw[1][0]: keys "a" and "A" differ only in case`},
		{`{"list":[{"verdict":"x"}]`, `unexpected end of JSON input`},
		{`{"name":"a"}`, ""},
		{`{"tags":{"a":"1"},"map":{"a":{}}}`, ""},
	} {
		var o outer
		err := Unmarshal([]byte(tt.in), &o)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error %v, want one containing %q", tt.in, err, tt.wantErr)
		}
	}
	// A recursive type's unknown fields are found at any depth.
	var tr tree
	err := Unmarshal([]byte(`{"kids":[{"kids":[{"Name":"x"}]}]}`), &tr)
	if err == nil || !strings.Contains(err.Error(), `$.kids[0].kids[0]: unknown field "Name"`) {
		t.Errorf("recursive type: %v", err)
	}
}
