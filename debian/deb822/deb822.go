// Package deb822 reads the control-file formats of the Debian archive:
// the paragraphs of Packages and Sources indexes, a source package's .dsc,
// a .buildinfo and the control file of a .deb. All of them arrive from
// outside (a mirror, a snapshot archive, a file a user names), so reading
// is bounded and strict: a field given twice, a required field missing, a
// checksum that is not one, or a file name that could leave its directory
// is an error naming the paragraph and the field.
//
// The line syntax (fields, continuation lines, paragraphs) is parsed by
// pault.ag/go/debian/control, and versions and relationship fields by its
// version and dependency packages; this package adds the limits and the
// checks, and the typed records reprove needs.
package deb822

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"pault.ag/go/debian/control"
)

// Limits of what one document may hold.
const (
	// MaxDocument bounds a small document (.dsc, .buildinfo, control).
	MaxDocument = 4 << 20
	// MaxIndex bounds an uncompressed Packages or Sources index (bookworm's
	// main/binary-amd64/Packages is about 50 MB).
	MaxIndex = 512 << 20
	// MaxField bounds one field's value.
	MaxField = 1 << 20
)

// ErrTooLarge is returned when a document or field is over its limit.
var ErrTooLarge = errors.New("too large")

// Paragraph is one paragraph: its fields in order, keys as written.
type Paragraph struct {
	// Index counts paragraphs from 1, for errors.
	Index  int
	fields map[string]string // by lower-case key
	keys   []string          // as written, in order
}

// Get returns the value of a field (keys are case-insensitive, as in
// Debian Policy 5.1) and whether it is present.
func (p *Paragraph) Get(key string) (string, bool) {
	v, ok := p.fields[strings.ToLower(key)]
	return v, ok
}

// Value returns a field's value, or "".
func (p *Paragraph) Value(key string) string {
	v, _ := p.Get(key)
	return v
}

// FieldError is a problem with one field of one paragraph.
type FieldError struct {
	// What names the document ("Packages", "hello_2.10-3.dsc").
	What string
	// Paragraph counts from 1; Name is the paragraph's package, if known.
	Paragraph int
	Name      string
	Field     string
	Err       error
}

func (e *FieldError) Error() string {
	where := fmt.Sprintf("%s: paragraph %d", e.What, e.Paragraph)
	if e.Name != "" {
		where += " (" + strconv.Quote(e.Name) + ")"
	}
	if e.Field != "" {
		where += ": " + e.Field
	}
	return where + ": " + e.Err.Error()
}

func (e *FieldError) Unwrap() error { return e.Err }

// limitedReader fails, rather than stops, at its limit, so that a
// document cut at the limit is never read as a shorter valid one.
type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			return 0, ErrTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// Reader reads paragraphs one at a time.
type Reader struct {
	what string
	pr   *control.ParagraphReader
	n    int
}

// NewReader reads the paragraphs of r, at most limit bytes in all. what
// names the document in errors. The document must not be signed:
// clearsigned documents are opened with Clearsigned (or verified with
// archive.Verify) first.
func NewReader(what string, r io.Reader, limit int64) (*Reader, error) {
	lr := &limitedReader{r: r, left: limit}
	// A nil keyring: the library then strips an OpenPGP armour without
	// checking it. Refuse armour here, so that a signature is never
	// taken as checked by accident.
	br := &peekReader{r: lr}
	head, err := br.peek(15)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if bytes.HasPrefix(head, []byte("-----BEGIN PGP ")) {
		return nil, fmt.Errorf("read %s: the document is OpenPGP-signed; open it with Clearsigned or verify it first", what)
	}
	pr, err := control.NewParagraphReader(br, nil)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	return &Reader{what: what, pr: pr}, nil
}

// peekReader lets NewReader look at the first bytes and then hand every
// byte on.
type peekReader struct {
	r   io.Reader
	buf []byte
}

func (p *peekReader) peek(n int) ([]byte, error) {
	for len(p.buf) < n {
		b := make([]byte, n-len(p.buf))
		m, err := p.r.Read(b)
		p.buf = append(p.buf, b[:m]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return p.buf, nil
}

func (p *peekReader) Read(b []byte) (int, error) {
	if len(p.buf) > 0 {
		n := copy(b, p.buf)
		p.buf = p.buf[n:]
		return n, nil
	}
	return p.r.Read(b)
}

// Next returns the next paragraph, or io.EOF after the last.
func (r *Reader) Next() (*Paragraph, error) {
	raw, err := r.pr.Next()
	if err == io.EOF {
		return nil, io.EOF
	}
	r.n++
	if err != nil {
		return nil, &FieldError{What: r.what, Paragraph: r.n, Err: err}
	}
	p := &Paragraph{Index: r.n, fields: make(map[string]string, len(raw.Order))}
	for _, k := range raw.Order {
		lk := strings.ToLower(k)
		if _, dup := p.fields[lk]; dup {
			return nil, &FieldError{What: r.what, Paragraph: r.n, Name: raw.Values["Package"] + raw.Values["Source"], Field: k, Err: errors.New("the field is given twice")}
		}
		if k == "" || strings.IndexFunc(k, func(c rune) bool { return c <= ' ' || c > '~' }) >= 0 {
			return nil, &FieldError{What: r.what, Paragraph: r.n, Field: strconv.Quote(k), Err: errors.New("not a field name")}
		}
		v := raw.Values[k]
		if len(v) > MaxField {
			return nil, &FieldError{What: r.what, Paragraph: r.n, Field: k, Err: ErrTooLarge}
		}
		p.fields[lk] = v
		p.keys = append(p.keys, k)
	}
	return p, nil
}

// All reads every paragraph.
func (r *Reader) All() ([]*Paragraph, error) {
	var out []*Paragraph
	for {
		p, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
}

// require returns a required field's value, or an error naming it.
func require(what string, p *Paragraph, name, key string) (string, error) {
	v, ok := p.Get(key)
	if !ok || strings.TrimSpace(v) == "" {
		return "", &FieldError{What: what, Paragraph: p.Index, Name: name, Field: key, Err: errors.New("missing")}
	}
	return strings.TrimSpace(v), nil
}
