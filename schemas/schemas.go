// Package schemas holds the JSON Schema (draft 2020-12) of every JSON
// document reprove writes: each --json output and each file it leaves
// behind. The .schema.json files beside this one are the published
// contract; tests of the packages that write a document validate real
// outputs against its schema with Validate.
//
// The convention every document follows: keys are lowerCamelCase, and the
// top level carries an integer "schemaVersion" that changes when a field's
// meaning or name does (in-toto statements are the exception: their format
// is in-toto's).
//
// Validation is github.com/google/jsonschema-go's, which does its work when
// a schema is first used. (The validator reprove used before compiled
// every draft's meta-schemas in a package initialiser, 18 ms at every start
// of every reprove command, `reprove verify` included.) Formats are
// annotations in draft 2020-12; where a document's meaning rests on one
// (an RFC 3339 time, an absolute URI), its schema says so with a pattern
// too, which every validator asserts.
package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/google/jsonschema-go/jsonschema"
)

//go:embed *.schema.json
var files embed.FS

const base = "https://reprove.dev/schemas/"

var (
	once     sync.Once
	compiled map[string]*jsonschema.Resolved
	compErr  error
)

// Names lists the documents that have a schema (the file names without
// ".schema.json"), sorted.
func Names() []string {
	ents, _ := fs.ReadDir(files, ".")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".schema.json"))
	}
	sort.Strings(out)
	return out
}

// load reads the schema called name.
func load(name string) (*jsonschema.Schema, error) {
	b, err := files.ReadFile(name + ".schema.json")
	if err != nil {
		return nil, err
	}
	var s jsonschema.Schema
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	return &s, nil
}

func compileAll() {
	loader := func(u *url.URL) (*jsonschema.Schema, error) {
		name, ok := strings.CutPrefix(u.String(), base)
		if !ok || !strings.HasSuffix(name, ".schema.json") {
			return nil, fmt.Errorf("schema %s is not one of reprove's", u)
		}
		return load(strings.TrimSuffix(name, ".schema.json"))
	}
	compiled = map[string]*jsonschema.Resolved{}
	for _, n := range Names() {
		s, err := load(n)
		if err != nil {
			compErr = err
			return
		}
		r, err := s.Resolve(&jsonschema.ResolveOptions{BaseURI: base + n + ".schema.json", Loader: loader})
		if err != nil {
			compErr = fmt.Errorf("compile schema %s: %w", n, err)
			return
		}
		compiled[n] = r
	}
}

// Validate checks doc (one JSON document) against the schema called name
// (for example "compare-report").
func Validate(name string, doc []byte) error {
	once.Do(compileAll)
	if compErr != nil {
		return compErr
	}
	s, ok := compiled[name]
	if !ok {
		return fmt.Errorf("no schema named %q (have: %s)", name, strings.Join(Names(), ", "))
	}
	// Numbers decode as float64, which the validator reads (a json.Number
	// it takes for a string).
	var v any
	dec := json.NewDecoder(bytes.NewReader(doc))
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("%s: not JSON: %w", name, err)
	}
	if dec.More() {
		return fmt.Errorf("%s: not one JSON document: data after the first value", name)
	}
	if err := s.Validate(v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
