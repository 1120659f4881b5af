package recipes

import (
	"errors"
	"fmt"

	"github.com/reprove/reprove/internal/strictyaml"
)

// Error is one problem with a recipe, located as precisely as the input
// allows: the file, the line and column of the offending key or value
// (zero when the recipe was not read from text, or the field is absent),
// and the field's path ("source.git.commit", "steps[2].run[0]"). It prints
// as "file:line:col: field: problem".
//
// It is the error of every file a user writes (recipes and trust
// policies are decoded by one strict decoder, internal/strictyaml).
type Error = strictyaml.Error

// Errors is every problem found in one recipe, in file order. It is returned
// by Parse and Validate when there is more than one, so that a user fixes a
// recipe in one pass rather than one error at a time.
type Errors = strictyaml.Errors

// Sentinel causes, for callers that branch on the kind of problem.
var (
	// ErrUnknownField: a key the format does not define (often a typo).
	ErrUnknownField = strictyaml.ErrUnknownField
	// ErrDuplicateKey: the same key twice in one mapping.
	ErrDuplicateKey = strictyaml.ErrDuplicateKey
	// ErrWrongType: a value of the wrong YAML kind or type (an integer
	// must be written in decimal: 0x1, 017 or 1e0 is refused).
	ErrWrongType = strictyaml.ErrWrongType
	// ErrRequired: a field that must be set is missing or empty.
	ErrRequired = strictyaml.ErrRequired
	// ErrWeakDigest: a pin that uses md5 or sha1.
	ErrWeakDigest = errors.New("weak digest")
	// ErrSchema: a schema version this reprove does not read.
	ErrSchema = errors.New("unsupported schema version")
	// ErrSyntax: the text is not YAML.
	ErrSyntax = strictyaml.ErrSyntax
)

// errorList collects located problems while validating; doc says where
// each field was written (nil for a recipe built in code).
type errorList struct {
	doc  *strictyaml.Doc
	errs Errors
}

// at records a problem with the field at path; the location is that of the
// field itself or, when it is absent, of the nearest enclosing field present.
func (l *errorList) at(path string, err error) {
	l.errs = append(l.errs, l.doc.Locate(path, err))
}

func (l *errorList) atf(path string, format string, args ...any) {
	l.at(path, fmt.Errorf(format, args...))
}

// Locate wraps err as an *Error at the field path of r ("normalizers[1]",
// "outputs[0].shipped.digest"), with the file, line and column where that
// field was written. Callers that check a recipe against something outside
// it (a normalizer registry, a fetched file's digest) use it so that their
// errors point into the recipe too.
func (r *Recipe) Locate(field string, err error) *Error {
	return r.doc.Locate(field, err)
}
