package recipes

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error is one problem with a recipe, located as precisely as the input
// allows: the file, the line and column of the offending key or value
// (zero when the recipe was not read from text, or the field is absent),
// and the field's path ("source.git.commit", "steps[2].run[0]").
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
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errors is every problem found in one recipe, in file order. It is returned
// by Parse and Validate when there is more than one, so that a user fixes a
// recipe in one pass rather than one error at a time.
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

// Sentinel causes, for callers that branch on the kind of problem.
var (
	// ErrUnknownField: a key the format does not define (often a typo).
	ErrUnknownField = errors.New("unknown field")
	// ErrDuplicateKey: the same key twice in one mapping.
	ErrDuplicateKey = errors.New("duplicate key")
	// ErrWrongType: a value of the wrong YAML kind or type.
	ErrWrongType = errors.New("wrong type")
	// ErrRequired: a field that must be set is missing or empty.
	ErrRequired = errors.New("required")
	// ErrWeakDigest: a pin that uses md5 or sha1.
	ErrWeakDigest = errors.New("weak digest")
	// ErrSchema: a schema version this reprove does not read.
	ErrSchema = errors.New("unsupported schema version")
	// ErrSyntax: the text is not YAML.
	ErrSyntax = errors.New("syntax error")
)

// errorList collects located problems while decoding or validating.
type errorList struct {
	file string
	pos  positions
	errs Errors
}

// at records a problem with the field at path; the location is that of the
// field itself or, when it is absent, of the nearest enclosing field present.
func (l *errorList) at(path string, err error) {
	p := l.pos.lookup(path)
	l.errs = append(l.errs, &Error{File: l.file, Line: p.line, Column: p.col, Field: path, Err: err})
}

// atPos records a problem at an explicit position.
func (l *errorList) atPos(path string, p pos, err error) {
	l.errs = append(l.errs, &Error{File: l.file, Line: p.line, Column: p.col, Field: path, Err: err})
}

func (l *errorList) atf(path string, format string, args ...any) {
	l.at(path, fmt.Errorf(format, args...))
}

// err returns nil, the single problem, or all of them sorted by position.
func (l *errorList) err() error {
	switch len(l.errs) {
	case 0:
		return nil
	case 1:
		return l.errs[0]
	}
	sort.SliceStable(l.errs, func(i, j int) bool {
		a, b := l.errs[i], l.errs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return l.errs
}

// pos is a 1-based line and column in the recipe's text.
type pos struct{ line, col int }

// positions maps a field path to where it was written.
type positions map[string]pos

// lookup returns the position of path, or of its nearest ancestor present
// ("steps[1].run" falls back to "steps[1]", then "steps").
func (ps positions) lookup(path string) pos {
	for path != "" {
		if p, ok := ps[path]; ok {
			return p
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return ps[""]
}

// Locate wraps err as an *Error at the field path of r ("normalizers[1]",
// "outputs[0].shipped.digest"), with the file, line and column where that
// field was written. Callers that check a recipe against something outside
// it (a normalizer registry, a fetched file's digest) use it so that their
// errors point into the recipe too.
func (r *Recipe) Locate(field string, err error) *Error {
	p := r.pos.lookup(field)
	return &Error{File: r.file, Line: p.line, Column: p.col, Field: field, Err: err}
}
