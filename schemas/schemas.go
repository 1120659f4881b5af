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
package schemas

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed *.schema.json
var files embed.FS

const base = "https://reprove.dev/schemas/"

var (
	once     sync.Once
	compiled map[string]*jsonschema.Schema
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

func compileAll() {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	names := Names()
	for _, n := range names {
		b, err := files.ReadFile(n + ".schema.json")
		if err != nil {
			compErr = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			compErr = fmt.Errorf("schema %s: %w", n, err)
			return
		}
		if err := c.AddResource(base+n+".schema.json", doc); err != nil {
			compErr = fmt.Errorf("schema %s: %w", n, err)
			return
		}
	}
	compiled = map[string]*jsonschema.Schema{}
	for _, n := range names {
		s, err := c.Compile(base + n + ".schema.json")
		if err != nil {
			compErr = fmt.Errorf("compile schema %s: %w", n, err)
			return
		}
		compiled[n] = s
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
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("%s: not JSON: %w", name, err)
	}
	if err := s.Validate(v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// Schema returns the text of the schema called name.
func Schema(name string) ([]byte, error) {
	return files.ReadFile(name + ".schema.json")
}
