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
// of users. So we run a pre-pass with the standard tokenizer that refuses
// duplicate and case-variant keys at every depth, then decode with unknown
// fields refused, then check that every key names a field exactly.
package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode"
)

// MaxDepth bounds nesting so hostile input cannot exhaust the stack.
const MaxDepth = 64

// Check refuses data that is not exactly one JSON value, or that has, in any
// object, two keys that are equal or equal ignoring case.
func Check(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := checkValue(dec, 0, "$"); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

func checkValue(dec *json.Decoder, depth int, path string) error {
	if depth > MaxDepth {
		return fmt.Errorf("%s: nested deeper than %d levels", path, MaxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%s: %w", path, cleanErr(err))
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		seen := map[string]string{} // folded key -> key as written
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return fmt.Errorf("%s: %w", path, cleanErr(err))
			}
			k, ok := kt.(string)
			if !ok {
				return fmt.Errorf("%s: object key is not a string", path)
			}
			fk := foldKey(k)
			if orig, dup := seen[fk]; dup {
				if orig == k {
					return fmt.Errorf("%s: duplicate key %q", path, k)
				}
				return fmt.Errorf("%s: keys %q and %q differ only in case", path, orig, k)
			}
			seen[fk] = k
			if err := checkValue(dec, depth+1, path+"."+k); err != nil {
				return err
			}
		}
	case '[':
		for i := 0; dec.More(); i++ {
			if err := checkValue(dec, depth+1, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	// The closing delimiter.
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("%s: %w", path, cleanErr(err))
	}
	return nil
}

// foldKey maps s to a canonical form under simple Unicode case folding, the
// folding encoding/json uses to match keys (so "K", "k" and U+212A KELVIN
// SIGN all fold to one key): each rune becomes the smallest rune of its
// folding orbit.
func foldKey(s string) string {
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

// Unmarshal decodes data into v (a pointer to a struct, slice or map) after
// Check, refusing unknown fields, trailing data, and keys that name a field
// with other letter case than its json tag.
func Unmarshal(data []byte, v any) error {
	if err := Check(data); err != nil {
		return err
	}
	var tree any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return err
	}
	if err := checkNames(tree, reflect.TypeOf(v), "$", 0); err != nil {
		return err
	}
	dec = json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	return nil
}

var (
	unmarshalerType     = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
	textUnmarshalerType = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

// checkNames walks the decoded tree alongside the Go type and refuses object
// keys that do not exactly equal a field's JSON name. Types with their own
// UnmarshalJSON are responsible for their own strictness.
func checkNames(tree any, t reflect.Type, path string, depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("%s: nested deeper than %d levels", path, MaxDepth)
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
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := tree.(map[string]any)
		if !ok {
			return nil // a type error the decoder reports
		}
		fields := jsonFields(t)
		for k, val := range obj {
			ft, ok := fields[k]
			if !ok {
				return fmt.Errorf("%s: unknown field %q", path, k)
			}
			if err := checkNames(val, ft, path+"."+k, depth+1); err != nil {
				return err
			}
		}
	case reflect.Map:
		obj, ok := tree.(map[string]any)
		if !ok {
			return nil
		}
		for k, val := range obj {
			if err := checkNames(val, t.Elem(), path+"."+k, depth+1); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if reflect.PointerTo(t).Implements(textUnmarshalerType) {
			return nil
		}
		arr, ok := tree.([]any)
		if !ok {
			return nil
		}
		for i, val := range arr {
			if err := checkNames(val, t.Elem(), fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
	}
	return nil
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
