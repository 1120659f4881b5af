// Package strictjson decodes untrusted JSON (DSSE envelopes, in-toto
// statements, predicates) without the leniencies of encoding/json.
//
// Why this exists by hand: encoding/json (v1) matches object keys to struct
// fields case-insensitively and silently keeps the last of duplicate keys.
// For signed documents that is dangerous: two parsers can read different
// values from the same signed bytes ({"verdict":"different",
// "Verdict":"identical"} reads as "identical" here and "different"
// elsewhere). The strict decoder of encoding/json/v2 would do this job, but
// in Go 1.26 it is still behind GOEXPERIMENT=jsonv2, which we cannot require
// of users. So one pass over the tokens (with jsontext, the tokenizer of the
// json/v2 prototype, github.com/go-json-experiment/json, which reads tokens
// without allocating for each) refuses duplicate and case-variant keys at
// every depth and, walking the Go type alongside, every key that does not
// name a field exactly; then encoding/json decodes with unknown fields
// refused.
package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// MaxDepth bounds nesting so hostile input cannot exhaust the stack.
const MaxDepth = 64

// Check refuses data that is not exactly one JSON value, or that has, in any
// object, two keys that are equal or equal ignoring case.
func Check(data []byte) error {
	return walk(data, nil)
}

// Unmarshal decodes data into v (a pointer to a struct, slice or map) after
// the checks of Check, refusing unknown fields, trailing data, and keys that
// name a field with other letter case than its json tag.
func Unmarshal(data []byte, v any) error {
	if err := walk(data, reflect.TypeOf(v)); err != nil {
		return err
	}
	return jsonv2.Unmarshal(data, v, decodeOptions)
}

// decodeOptions decode as encoding/json does with unknown fields refused
// (the walk has refused everything else this package refuses): the json/v2
// prototype's v1 semantics, which read the value in one pass where
// encoding/json scans it whole before decoding.
var decodeOptions = jsonv2.JoinOptions(jsonv1.DefaultOptionsV1(), jsonv2.RejectUnknownMembers(true))

// walker reads one JSON value's tokens. path holds the keys and indexes
// down to the value being read, for messages (built only for an error).
type walker struct {
	dec  *jsontext.Decoder
	path []string
}

func walk(data []byte, t reflect.Type) error {
	// Duplicates and invalid UTF-8 are this package's to judge (below), as
	// encoding/json, which decodes afterwards, reads them.
	w := &walker{dec: jsontext.NewDecoder(bytes.NewReader(data), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))}
	if err := w.value(t, 0); err != nil {
		return err
	}
	if _, err := w.dec.ReadToken(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

func (w *walker) where() string {
	var b strings.Builder
	b.WriteString("$")
	for _, p := range w.path {
		if strings.HasPrefix(p, "[") {
			b.WriteString(p)
		} else {
			b.WriteString("." + p)
		}
	}
	return b.String()
}

func (w *walker) fail(err error) error {
	return fmt.Errorf("%s: %w", w.where(), cleanErr(err))
}

// value reads one value; t is the Go type it decodes into (nil when free-form
// or decoded by its own UnmarshalJSON, whose strictness is its own).
func (w *walker) value(t reflect.Type, depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("%s: nested deeper than %d levels", w.where(), MaxDepth)
	}
	tok, err := w.dec.ReadToken()
	if err != nil {
		return w.fail(err)
	}
	t = decodedAs(t)
	switch tok.Kind() {
	case '{':
		var fields map[string]reflect.Type
		var elem reflect.Type
		if t != nil {
			switch t.Kind() {
			case reflect.Struct:
				fields = jsonFieldsOf(t)
			case reflect.Map:
				elem = t.Elem()
			}
		}
		seen := map[string]string{} // folded key -> key as written
		for w.dec.PeekKind() != '}' {
			kt, err := w.dec.ReadToken()
			if err != nil {
				return w.fail(err)
			}
			k := decodedKey(kt.String())
			fk := foldKey(k)
			if orig, dup := seen[fk]; dup {
				if orig == k {
					return fmt.Errorf("%s: duplicate key %q", w.where(), k)
				}
				return fmt.Errorf("%s: keys %q and %q differ only in case", w.where(), orig, k)
			}
			seen[fk] = k
			vt := elem
			if fields != nil {
				ft, ok := fields[k]
				if !ok {
					return fmt.Errorf("%s: unknown field %q", w.where(), k)
				}
				vt = ft
			}
			w.path = append(w.path, k)
			if err := w.value(vt, depth+1); err != nil {
				return err
			}
			w.path = w.path[:len(w.path)-1]
		}
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && !reflect.PointerTo(t).Implements(textUnmarshalerType) {
			elem = t.Elem()
		}
		for i := 0; w.dec.PeekKind() != ']'; i++ {
			w.path = append(w.path, "["+strconv.Itoa(i)+"]")
			if err := w.value(elem, depth+1); err != nil {
				return err
			}
			w.path = w.path[:len(w.path)-1]
		}
	default:
		return nil
	}
	// The closing delimiter.
	if _, err := w.dec.ReadToken(); err != nil {
		return w.fail(err)
	}
	return nil
}

// decodedAs is the type whose keys a value's object must match: t without
// pointers, or nil when the type (or its pointer) decodes itself.
func decodedAs(t reflect.Type) reflect.Type {
	if t == nil {
		return nil
	}
	for t.Kind() == reflect.Pointer {
		if t.Implements(unmarshalerType) {
			return nil
		}
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || t.Implements(unmarshalerType) {
		return nil
	}
	return t
}

// decodedKey is a key as encoding/json reads it: each byte that is not
// part of valid UTF-8 becomes U+FFFD, so that two keys it would read as one
// are caught as duplicates here.
func decodedKey(k string) string {
	if utf8.ValidString(k) {
		return k
	}
	var b strings.Builder
	for _, r := range k {
		b.WriteRune(r)
	}
	return b.String()
}

// foldKey maps s to a canonical form under simple Unicode case folding, the
// folding encoding/json uses to match keys (so "K", "k" and U+212A KELVIN
// SIGN all fold to one key): each rune becomes the smallest rune of its
// folding orbit.
func foldKey(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		// The smallest rune of an ASCII letter's orbit is its upper case
		// (k and s fold with KELVIN SIGN and LONG S too, which are larger).
		return strings.ToUpper(s)
	}
	var b strings.Builder
	for _, r := range s {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}

func cleanErr(err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("unexpected end of JSON input")
	}
	return err
}

var (
	unmarshalerType     = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
	textUnmarshalerType = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
	fieldsCache         sync.Map // reflect.Type -> map[string]reflect.Type
)

// jsonFieldsOf is jsonFields, computed once a type.
func jsonFieldsOf(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldsCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := jsonFields(t)
	fieldsCache.Store(t, m)
	return m
}

// jsonFields maps the exact JSON names of t's exported fields to their types.
// Embedded structs are not used in attest's types and are refused loudly
// rather than half-supported.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Anonymous {
			panic("strictjson: embedded struct fields are not supported: " + t.String())
		}
		name := f.Name
		if tag, ok := f.Tag.Lookup("json"); ok {
			n, _, _ := strings.Cut(tag, ",")
			if n == "-" {
				continue
			}
			if n != "" {
				name = n
			}
		}
		m[name] = f.Type
	}
	return m
}
