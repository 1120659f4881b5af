package recipes

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/reprove/reprove/internal/strictyaml"
)

// MaxSize bounds a recipe file. Real recipes are a few kilobytes; the bound
// keeps a hostile file from costing more than a moment to reject.
const MaxSize = 1 << 20

// Parse decodes and validates one recipe from YAML (or JSON, which is YAML).
// name is what errors call the input, usually its file name.
//
// Decoding is strict (internal/strictyaml, as for trust policies): unknown
// fields, duplicate keys, values of the wrong type (an integer written
// other than in decimal: 0x1, 017, 1e0, 1.5, "1"), anchors and aliases,
// custom tags and a second document are errors.
// All problems found are returned together (as Errors when there are
// several), each naming name, line, column and field.
func Parse(name string, data []byte) (*Recipe, error) {
	return parse(name, data)
}

// Decode decodes a recipe strictly without validating it: for `reprove
// lock`, which may lock an image before the rest of the recipe is
// complete.
func Decode(name string, data []byte) (*Recipe, error) {
	r, errs := decode(name, data)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return r, nil
}

func parse(name string, data []byte) (*Recipe, error) {
	r, errs := decode(name, data)
	if r == nil {
		return nil, errs.Err()
	}
	// Validate even when decoding found problems, so that one run reports
	// everything; but leave out what follows from a decoding problem (an
	// unknown "shel" key makes its step lack a shell): any validation error
	// on the same field, or on one enclosing or enclosed by it.
	decoded := slices.Clone(errs)
	v := &validator{errorList: errorList{doc: r.doc}}
	v.recipe(r)
	for _, e := range v.errs {
		if !slices.ContainsFunc(decoded, func(d *Error) bool { return related(d.Field, e.Field) }) {
			errs = append(errs, e)
		}
	}
	if err := errs.Err(); err != nil {
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

// ParseIn is Parse for a recipe whose relative paths (dir and archive
// sources, shipped files) are relative to baseDir, as if it had been
// loaded from a file there: a recipe carried as bytes (in a queued job)
// keeps the meaning it had where it was read. An empty baseDir is Parse.
func ParseIn(name, baseDir string, data []byte) (*Recipe, error) {
	r, err := Parse(name, data)
	if err != nil {
		return nil, err
	}
	if baseDir != "" {
		if !filepath.IsAbs(baseDir) {
			return nil, fmt.Errorf("parse recipe %s: base directory %q is not absolute", name, baseDir)
		}
		r.baseDir = filepath.Clean(baseDir)
	}
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

// decode maps the text onto a Recipe through internal/strictyaml, the
// decoder of every file a user writes, so that a recipe and a trust policy
// are held to the same rules. It returns a nil Recipe when the text is not
// one YAML document; otherwise the Recipe holds whatever could be decoded,
// and errs what could not.
func decode(name string, data []byte) (*Recipe, Errors) {
	r := &Recipe{file: name}
	doc, errs := strictyaml.Decode(name, data, MaxSize, r)
	if doc == nil {
		return nil, errs
	}
	r.doc = doc
	return r, errs
}
