// Package strictyaml decodes the YAML files users write (recipes and trust
// policies) onto Go structs by their yaml tags, so that every user-written
// file is held to one strictness.
//
// Strict means: unknown keys (listed with the keys known there), duplicate
// keys, values of the wrong YAML type, integers written as anything but
// plain decimal (1.9999, 1.5, 0x1, 0o1, 017, 1_000, +1, 1e0 and "1" are
// refused where an integer is wanted), numbers written as anything but
// plain decimal (1e3, .5, .inf, .nan), anchors, aliases, merge keys, custom
// tags and a second document are all errors. Every problem found is
// returned, each naming the file, line, column and field path
// ("rebuilders.keys[1].name").
//
// Fields may be strings (and named string types), booleans, int, int64,
// float64, structs, pointers, slices and maps with string keys.
//
// Written by hand on yaml.v3's node tree rather than with its Decode
// because that stops at the first problem, names no field path, does not
// see duplicate keys when decoding into structs of pointers, and accepts
// 0x1 (and, as YAML 1.1 did, 017 as octal 15) for an int. Errors point at
// the key of the offending field.
package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/reprove/reprove/internal/lazyre"
)

// Causes, for callers that branch on the kind of problem.
var (
	ErrUnknownField = errors.New("unknown field")
	ErrDuplicateKey = errors.New("duplicate key")
	ErrWrongType    = errors.New("wrong type")
	ErrRequired     = errors.New("required")
	ErrSyntax       = errors.New("syntax error")
)

// Error is one located problem.
type Error struct {
	File   string
	Line   int
	Column int
	Field  string
	Err    error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
			if e.Column > 0 {
				fmt.Fprintf(&b, ":%d", e.Column)
			}
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errors is every problem found in one file, in file order.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Unwrap lets errors.Is and errors.As look at each problem.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Err returns nil, the one problem, or all of them sorted by position.
func (es Errors) Err() error {
	switch len(es) {
	case 0:
		return nil
	case 1:
		return es[0]
	}
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Column < es[j].Column
	})
	return es
}

// Pos is a 1-based line and column.
type Pos struct{ Line, Column int }

// Doc is a decoded file: where each field was written, for errors found
// after decoding (a missing key, a bad value).
type Doc struct {
	File string
	pos  map[string]Pos
}

// Locate makes an *Error for the field at path, placed where the field was
// written or, when absent, where its nearest enclosing field was. A nil Doc
// (a value built in code rather than decoded) gives the field path alone.
func (d *Doc) Locate(path string, err error) *Error {
	if d == nil {
		return &Error{Field: path, Err: err}
	}
	p := d.lookup(path)
	return &Error{File: d.File, Line: p.Line, Column: p.Column, Field: path, Err: err}
}

// Has reports whether the field at path was written in the file.
func (d *Doc) Has(path string) bool {
	if d == nil {
		return false
	}
	_, ok := d.pos[path]
	return ok
}

func (d *Doc) lookup(path string) Pos {
	for path != "" {
		if p, ok := d.pos[path]; ok {
			return p
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return d.pos[""]
}

// yamlLine picks the line out of yaml's syntax errors, which are plain
// strings ("yaml: line 3: did not find expected key").
var yamlLine = lazyre.New(`^yaml: line (\d+): (.*)$`)

// decimal is the only spelling of an integer accepted, and decimalNumber
// of a number (a float64 field): digits, then optionally a point and more
// digits; no sign but minus, no leading zeros, no exponent, no .inf or .nan.
var (
	decimal       = lazyre.New(`^-?(0|[1-9][0-9]*)$`)
	decimalNumber = lazyre.New(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?$`)
)

// Decode decodes data (at most max bytes) onto v, a pointer to a struct.
// It returns the document's positions (nil when the text is not one YAML
// document) and every problem found.
func Decode(name string, data []byte, max int, v any) (*Doc, Errors) {
	doc := &Doc{File: name, pos: map[string]Pos{}}
	d := &decoder{doc: doc}
	if len(data) > max {
		d.at("", fmt.Errorf("larger than %d bytes", max))
		return nil, d.errs
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			d.at("", fmt.Errorf("%w: the file is empty", ErrRequired))
		} else {
			d.errs = append(d.errs, syntaxError(name, err))
		}
		return nil, d.errs
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.errs = append(d.errs, syntaxError(name, err))
		return nil, d.errs
	default:
		d.errs = append(d.errs, &Error{File: name, Line: extra.Line, Column: extra.Column,
			Err: errors.New("the file holds one YAML document; a second one starts here")})
		return nil, d.errs
	}
	n := &root
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	doc.pos[""] = Pos{n.Line, n.Column}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		panic("strictyaml: Decode needs a pointer to a struct")
	}
	d.value(n, rv.Elem(), "")
	return doc, d.errs
}

func syntaxError(name string, err error) *Error {
	msg := err.Error()
	if m := yamlLine().FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: name, Line: line, Err: fmt.Errorf("%w: %s", ErrSyntax, m[2])}
	}
	return &Error{File: name, Err: fmt.Errorf("%w: %s", ErrSyntax, strings.TrimPrefix(msg, "yaml: "))}
}

type decoder struct {
	doc  *Doc
	errs Errors
}

func (d *decoder) at(path string, err error) { d.errs = append(d.errs, d.doc.Locate(path, err)) }

func (d *decoder) atPos(path string, p Pos, err error) {
	d.errs = append(d.errs, &Error{File: d.doc.File, Line: p.Line, Column: p.Column, Field: path, Err: err})
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean (" + n.Value + ")"
		case "!!int", "!!float":
			return "a number (" + n.Value + ")"
		case "!!str":
			return strconv.Quote(n.Value)
		}
		return n.ShortTag() + " " + strconv.Quote(n.Value)
	}
	return "nothing"
}

func (d *decoder) wrong(n *yaml.Node, path, want string) {
	d.at(path, fmt.Errorf("%w: want %s, got %s", ErrWrongType, want, kindName(n)))
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if _, ok := d.doc.pos[path]; !ok {
		d.doc.pos[path] = Pos{n.Line, n.Column}
	}
	switch {
	case n.Kind == yaml.AliasNode:
		d.at(path, fmt.Errorf("aliases (*%s) are not allowed: write the value out", n.Value))
		return
	case n.Anchor != "":
		d.at(path, fmt.Errorf("anchors (&%s) are not allowed", n.Anchor))
		return
	case strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!"):
		d.at(path, fmt.Errorf("custom tag %s is not allowed", n.Tag))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			return
		}
		e := reflect.New(v.Type().Elem())
		before := len(d.errs)
		d.value(n, e.Elem(), path)
		if len(d.errs) == before || v.Type().Elem().Kind() == reflect.Struct {
			// A scalar is set only when it decoded cleanly, so a value of
			// the wrong type reads as absent rather than as a zero that
			// later checks would report a second time.
			v.Set(e)
		}
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Slice:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.wrong(n, path, "a list")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.doc.pos[p] = Pos{c.Line, c.Column}
			d.value(c, s.Index(i), p)
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!binary" {
			d.wrong(n, path, "a string")
			return
		}
		if isNull(n) {
			return
		}
		// A timestamp or a number keeps its text, as the user wrote it.
		v.SetString(n.Value)
	case reflect.Bool:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || (n.Value != "true" && n.Value != "false") {
			d.wrong(n, path, "true or false")
			return
		}
		v.SetBool(n.Value == "true")
	case reflect.Int, reflect.Int64:
		if isNull(n) {
			return
		}
		// A decimal integer too large for int64 resolves as !!float.
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") || !decimal().MatchString(n.Value) {
			d.wrong(n, path, "an integer written in decimal")
			return
		}
		i, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil || v.OverflowInt(i) {
			d.wrong(n, path, "an integer in range")
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") || !decimalNumber().MatchString(n.Value) {
			d.wrong(n, path, "a number written in decimal")
			return
		}
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			d.wrong(n, path, "a number in range")
			return
		}
		v.SetFloat(f)
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			panic(fmt.Sprintf("strictyaml: decoder does not handle %s (keys must be strings)", v.Type()))
		}
		d.mapping(n, v, path)
	default:
		// Only reached if a field of a new type is added without teaching
		// the decoder about it.
		panic(fmt.Sprintf("strictyaml: decoder does not handle %s", v.Type()))
	}
}

// Fields lists the fields of struct type t that the decoder knows, by yaml
// name in declaration order, with each one's index; a caller walking a
// decoded value (to check it further) names fields as errors do.
func Fields(t reflect.Type) (names []string, index map[string]int) {
	index = map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if !f.IsExported() || tag == "-" || tag == "" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		names = append(names, name)
		index[name] = i
	}
	return names, index
}

// Join appends a key to a field path as errors name it ("source" + "git" is
// "source.git").
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// keys walks the entries of a mapping node, refusing keys that are not
// scalars, merge keys and duplicates, and records where each key was
// written before each is called with it.
func (d *decoder) keys(n *yaml.Node, path string, each func(key string, at Pos, val *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		at := Pos{k.Line, k.Column}
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!null" {
			d.atPos(path, at, fmt.Errorf("%w: want a string key, got %s", ErrWrongType, kindName(k)))
			continue
		}
		if k.ShortTag() == "!!merge" {
			d.atPos(Join(path, "<<"), at, errors.New("merge keys (<<) are not allowed"))
			continue
		}
		p := Join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.atPos(p, at, fmt.Errorf("%w %q (first at line %d)", ErrDuplicateKey, k.Value, first))
			continue
		}
		seen[k.Value] = k.Line
		d.doc.pos[p] = at
		each(k.Value, at, val)
	}
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.wrong(n, path, "a mapping")
		return
	}
	names, index := Fields(v.Type())
	d.keys(n, path, func(key string, at Pos, val *yaml.Node) {
		fi, ok := index[key]
		if !ok {
			d.atPos(Join(path, key), at, fmt.Errorf("%w %q (known here: %s)", ErrUnknownField, key, strings.Join(names, ", ")))
			return
		}
		d.value(val, v.Field(fi), Join(path, key))
	})
}

// mapping decodes a mapping with keys of the user's choosing (a recipe's
// env) onto a map with string keys; a key keeps its text as written.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.wrong(n, path, "a mapping")
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	d.keys(n, path, func(key string, _ Pos, val *yaml.Node) {
		e := reflect.New(v.Type().Elem()).Elem()
		d.value(val, e, Join(path, key))
		m.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), e)
	})
	v.Set(m)
}
