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
// down to the value being read, for messages (made into text only for an
// error); keys holds the keys of the objects being read, innermost last,
// for the duplicate checks. Walkers are pooled with their buffers.
type walker struct {
	dec  jsontext.Decoder
	path []step
	keys []string
}

// step is one step of a path: an object's key, or an array's index.
type step struct {
	key   string
	index int // -1 for a key
}

var walkerPool = sync.Pool{New: func() any { return new(walker) }}

// walkOptions leave duplicates and invalid UTF-8 to this package to judge
// (below), as encoding/json, whose semantics decode afterwards, reads them.
var walkOptions = jsonv2.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))

func walk(data []byte, t reflect.Type) error {
	w := walkerPool.Get().(*walker)
	// From a bytes.Buffer the decoder reads data in place, without a copy.
	w.dec.Reset(bytes.NewBuffer(data), walkOptions)
	err := w.value(shapeOf(t), 0)
	if err == nil {
		if _, rerr := w.dec.ReadToken(); rerr != io.EOF {
			err = errors.New("unexpected data after the JSON value")
		}
	}
	// Nothing of data stays reachable from the pool.
	w.dec.Reset(emptyReader)
	clear(w.path[:cap(w.path)])
	clear(w.keys[:cap(w.keys)])
	w.path, w.keys = w.path[:0], w.keys[:0]
	if cap(w.keys) <= 1024 && cap(w.path) <= 2*MaxDepth {
		walkerPool.Put(w)
	}
	return err
}

var emptyReader = bytes.NewReader(nil)

func (w *walker) where() string {
	var b strings.Builder
	b.WriteString("$")
	for _, p := range w.path {
		if p.index >= 0 {
			b.WriteString("[" + strconv.Itoa(p.index) + "]")
		} else {
			b.WriteString("." + p.key)
		}
	}
	return b.String()
}

func (w *walker) fail(err error) error {
	return fmt.Errorf("%s: %w", w.where(), cleanErr(err))
}

// manyKeys is the number of keys in one object past which duplicates are
// looked up in a map rather than by comparing with each earlier key.
const manyKeys = 16

// value reads one value; sh is the shape of the Go type it decodes into
// (nil when free-form or decoded by its own UnmarshalJSON, whose strictness
// is its own).
func (w *walker) value(sh *shape, depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("%s: nested deeper than %d levels", w.where(), MaxDepth)
	}
	tok, err := w.dec.ReadToken()
	if err != nil {
		return w.fail(err)
	}
	switch tok.Kind() {
	case '{':
		var fields map[string]*shape
		var elem *shape
		if sh != nil {
			fields, elem = sh.fields, sh.mapElem
		}
		start := len(w.keys)
		var seen map[string]string // folded key -> key as written, past manyKeys keys
		for w.dec.PeekKind() != '}' {
			kt, err := w.dec.ReadToken()
			if err != nil {
				return w.fail(err)
			}
			k := decodedKey(kt.String())
			if err := w.checkKey(k, start, &seen); err != nil {
				return err
			}
			vt := elem
			if fields != nil {
				ft, ok := fields[k]
				if !ok {
					return fmt.Errorf("%s: unknown field %q", w.where(), k)
				}
				vt = ft
			}
			w.keys = append(w.keys, k)
			mine := len(w.keys)
			w.path = append(w.path, step{key: k, index: -1})
			if err := w.value(vt, depth+1); err != nil {
				return err
			}
			w.path = w.path[:len(w.path)-1]
			w.keys = w.keys[:mine]
		}
		w.keys = w.keys[:start]
	case '[':
		var elem *shape
		if sh != nil {
			elem = sh.listElem
		}
		for i := 0; w.dec.PeekKind() != ']'; i++ {
			w.path = append(w.path, step{index: i})
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

// checkKey refuses k when the object whose keys so far are w.keys[start:]
// has k already, or a key equal to it ignoring case (simple Unicode case
// folding, as encoding/json matches keys: strings.EqualFold compares
// exactly that, and foldKey maps to it). Past manyKeys keys they are
// looked up in *seen, made then.
func (w *walker) checkKey(k string, start int, seen *map[string]string) error {
	earlier := w.keys[start:]
	if *seen == nil && len(earlier) < manyKeys {
		for _, orig := range earlier {
			if orig == k {
				return fmt.Errorf("%s: duplicate key %q", w.where(), k)
			}
			if strings.EqualFold(orig, k) {
				return fmt.Errorf("%s: keys %q and %q differ only in case", w.where(), orig, k)
			}
		}
		return nil
	}
	if *seen == nil {
		*seen = make(map[string]string, 2*manyKeys)
		for _, orig := range earlier {
			(*seen)[foldKey(orig)] = orig
		}
	}
	fk := foldKey(k)
	if orig, dup := (*seen)[fk]; dup {
		if orig == k {
			return fmt.Errorf("%s: duplicate key %q", w.where(), k)
		}
		return fmt.Errorf("%s: keys %q and %q differ only in case", w.where(), orig, k)
	}
	(*seen)[fk] = k
	return nil
}

// shape is what the walk needs of a Go type a value decodes into: for a
// struct, its fields by exact JSON name; for a map, its values'; for a
// slice or array, its elements'. A nil *shape is a free-form value (or one
// decoded by its own UnmarshalJSON).
type shape struct {
	fields   map[string]*shape
	mapElem  *shape
	listElem *shape
}

var shapes sync.Map // reflect.Type -> *shape (nil for free-form)

// shapeOf is t's shape, computed once a type.
func shapeOf(t reflect.Type) *shape {
	if t == nil {
		return nil
	}
	if sh, ok := shapes.Load(t); ok {
		return sh.(*shape)
	}
	// Shapes are published once whole: a recursive type's shape refers to
	// itself before it is complete.
	building := map[reflect.Type]*shape{}
	sh := buildShape(t, building)
	for bt, bsh := range building {
		shapes.LoadOrStore(bt, bsh)
	}
	return sh
}

// buildShape makes t's shape, recording in building every shape it makes
// (so that a recursive type refers to itself).
func buildShape(t reflect.Type, building map[reflect.Type]*shape) *shape {
	if sh, ok := shapes.Load(t); ok {
		return sh.(*shape)
	}
	if sh, ok := building[t]; ok {
		return sh
	}
	d := decodedAs(t)
	var sh *shape
	building[t] = nil
	if d != nil {
		switch d.Kind() {
		case reflect.Struct:
			sh = &shape{fields: map[string]*shape{}}
			building[t] = sh
			for name, ft := range jsonFields(d) {
				sh.fields[name] = buildShape(ft, building)
			}
		case reflect.Map:
			sh = &shape{}
			building[t] = sh
			sh.mapElem = buildShape(d.Elem(), building)
		case reflect.Slice, reflect.Array:
			if !reflect.PointerTo(d).Implements(textUnmarshalerType) {
				sh = &shape{}
				building[t] = sh
				sh.listElem = buildShape(d.Elem(), building)
			}
		}
	}
	building[t] = sh
	return sh
}

// decodedAs is the type whose keys a value's object must match: t without
// pointers, or nil when the type (or its pointer) decodes itself.
func decodedAs(t reflect.Type) reflect.Type {
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
)

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
