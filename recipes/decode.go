package recipes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxSize bounds a recipe file. Real recipes are a few kilobytes; the bound
// keeps a hostile file from costing more than a moment to reject.
const MaxSize = 1 << 20

// Parse decodes and validates one recipe from YAML (or JSON, which is YAML).
// name is what errors call the input, usually its file name.
//
// Decoding is strict: unknown fields, duplicate keys, values of the wrong
// type, anchors and aliases, custom tags and a second document are errors.
// All problems found are returned together (as Errors when there are
// several), each naming name, line, column and field.
func Parse(name string, data []byte) (*Recipe, error) {
	r, errs := decode(name, data)
	if r == nil {
		return nil, errs.err()
	}
	// Validate even when decoding found problems, so that one run reports
	// everything; but leave out what follows from a decoding problem (an
	// unknown "shel" key makes its step lack a shell): any validation error
	// on the same field, or on one enclosing or enclosed by it.
	decoded := slices.Clone(errs.errs)
	v := &validator{errorList{file: name, pos: r.pos}}
	v.recipe(r)
	for _, e := range v.errs {
		if !slices.ContainsFunc(decoded, func(d *Error) bool { return related(d.Field, e.Field) }) {
			errs.errs = append(errs.errs, e)
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return r, nil
}

// related reports whether one field path is the other or encloses it.
func related(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	return a == b || a == "" || strings.HasPrefix(b, a) && (b[len(a)] == '.' || b[len(a)] == '[')
}

// Load reads, decodes and validates the recipe at path. Relative paths in
// the recipe (dir and archive sources, shipped files) are relative to the
// directory holding the file; see BaseDir and ResolvePath.
func Load(ctx context.Context, path string) (*Recipe, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load recipe %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load recipe: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("load recipe: %w", err)
	}
	r, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("load recipe: %w", err)
	}
	r.baseDir = filepath.Dir(abs)
	return r, nil
}

// BaseDir is the directory of the file the recipe was loaded from, or ""
// when it was parsed from bytes.
func (r *Recipe) BaseDir() string { return r.baseDir }

// ResolvePath turns a local path written in the recipe into one usable by
// the caller: absolute paths are kept, relative ones are taken relative to
// BaseDir (or to the working directory when BaseDir is "").
func (r *Recipe) ResolvePath(p string) string {
	if filepath.IsAbs(p) || r.baseDir == "" {
		return filepath.Clean(p)
	}
	return filepath.Join(r.baseDir, p)
}

// File is the name the recipe was parsed under ("" when built in code).
func (r *Recipe) File() string { return r.file }

// yamlLine picks the line out of yaml's own syntax errors, which are plain
// strings ("yaml: line 3: did not find expected key"); the library exposes
// no structured position for them.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decode maps the text onto a Recipe. It returns a nil Recipe when the
// text is not one YAML document; otherwise the Recipe holds whatever could
// be decoded, and errs what could not.
func decode(name string, data []byte) (*Recipe, *errorList) {
	errs := &errorList{file: name, pos: positions{}}
	if len(data) > MaxSize {
		errs.at("", fmt.Errorf("recipe is larger than %d bytes", MaxSize))
		return nil, errs
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			errs.at("", fmt.Errorf("%w: empty recipe", ErrRequired))
		} else {
			errs.errs = append(errs.errs, syntaxError(name, err))
		}
		return nil, errs
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		errs.errs = append(errs.errs, syntaxError(name, err))
		return nil, errs
	default:
		errs.errs = append(errs.errs, &Error{File: name, Line: extra.Line, Column: extra.Column,
			Err: errors.New("a recipe file holds one YAML document; a second one starts here")})
		return nil, errs
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	r := &Recipe{file: name}
	d := decoder{errorList: errs}
	d.value(root, reflect.ValueOf(r).Elem(), "")
	r.pos = errs.pos
	return r, errs
}

func syntaxError(name string, err error) *Error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: name, Line: line, Err: fmt.Errorf("%w: %s", ErrSyntax, m[2])}
	}
	return &Error{File: name, Err: fmt.Errorf("%w: %s", ErrSyntax, strings.TrimPrefix(msg, "yaml: "))}
}

// decoder maps a yaml.Node tree onto the recipe types by their yaml tags.
//
// Written by hand rather than with yaml's own Decode because that stops at
// the first problem, does not see duplicate keys when decoding into structs
// of pointers, and names neither the field path nor the file; a recipe's
// errors must name all three.
type decoder struct {
	*errorList
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

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if _, ok := d.pos[path]; !ok {
		d.pos[path] = pos{n.Line, n.Column}
	}
	if n.Kind == yaml.AliasNode {
		d.atf(path, "aliases (*%s) are not allowed in recipes: write the value out", n.Value)
		return
	}
	if n.Anchor != "" {
		d.atf(path, "anchors (&%s) are not allowed in recipes", n.Anchor)
		return
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		d.atf(path, "custom tag %s is not allowed in recipes", n.Tag)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			return
		}
		e := reflect.New(v.Type().Elem())
		d.value(n, e.Elem(), path)
		v.Set(e)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Map:
		d.mapping(n, v, path)
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
			d.pos[p] = pos{c.Line, c.Column}
			d.value(c, s.Index(i), p)
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.wrong(n, path, "a string")
			return
		}
		switch n.ShortTag() {
		case "!!null":
			return
		case "!!binary":
			d.wrong(n, path, "a string")
			return
		}
		// Numbers and booleans keep their text ("version: 1.10" is
		// "1.10"), as a user writing them means.
		v.SetString(n.Value)
	case reflect.Int, reflect.Int64:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			d.wrong(n, path, "an integer")
			return
		}
		var i int64
		if err := n.Decode(&i); err != nil || v.OverflowInt(i) {
			d.wrong(n, path, "an integer in range")
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
			d.wrong(n, path, "a number")
			return
		}
		var f float64
		if err := n.Decode(&f); err != nil {
			d.wrong(n, path, "a number")
			return
		}
		v.SetFloat(f)
	default:
		// Only reached if a field of a new type is added to Recipe
		// without teaching the decoder about it.
		panic(fmt.Sprintf("recipes: decoder does not handle %s", v.Type()))
	}
}

// fieldsOf lists a struct type's fields by yaml name, in declaration order.
func fieldsOf(t reflect.Type) (names []string, index map[string]int) {
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

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) keys(n *yaml.Node, path string, each func(key string, k, val *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		at := pos{k.Line, k.Column}
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!null" {
			d.atPos(path, at, fmt.Errorf("%w: want a string key, got %s", ErrWrongType, kindName(k)))
			continue
		}
		if k.ShortTag() == "!!merge" {
			d.atPos(join(path, "<<"), at, errors.New("merge keys (<<) are not allowed in recipes"))
			continue
		}
		p := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.atPos(p, at, fmt.Errorf("%w %q (first at line %d)", ErrDuplicateKey, k.Value, first))
			continue
		}
		seen[k.Value] = k.Line
		d.pos[p] = pos{k.Line, k.Column}
		each(k.Value, k, val)
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
	names, index := fieldsOf(v.Type())
	d.keys(n, path, func(key string, k, val *yaml.Node) {
		i, ok := index[key]
		if !ok {
			d.at(join(path, key), fmt.Errorf("%w %q (known here: %s)", ErrUnknownField, key, strings.Join(names, ", ")))
			return
		}
		d.value(val, v.Field(i), join(path, key))
	})
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.wrong(n, path, "a mapping")
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	d.keys(n, path, func(key string, k, val *yaml.Node) {
		e := reflect.New(v.Type().Elem()).Elem()
		d.value(val, e, join(path, key))
		m.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), e)
	})
	v.Set(m)
}
