// Package deb reads the two files of a Debian binary package's control
// archive that compare shows by their meaning rather than as text: the
// control file (its fields, each compared as one) and md5sums (the files
// it lists, each linked to that file's own differences).
//
// Both come from untrusted packages. The field syntax is parsed by
// pault.ag/go/debian/control, as reprove's Debian archive client does;
// this package bounds the input and refuses what the syntax does not
// allow, so that a caller can fall back to showing the text.
package deb

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"pault.ag/go/debian/control"
)

// MaxFile bounds a control or md5sums file read into memory.
const MaxFile = 4 << 20

// Field is one field of a control file.
type Field struct {
	Name, Value string
}

// Control returns the fields of a binary package's control file, in the
// order written. A control file is one paragraph; a second one, a field
// given twice or a signed document is an error.
func Control(b []byte) ([]Field, error) {
	if len(b) > MaxFile {
		return nil, fmt.Errorf("read control file: %d bytes is over the %d-byte limit", len(b), MaxFile)
	}
	if bytes.HasPrefix(b, []byte("-----BEGIN PGP")) {
		return nil, errors.New("read control file: a signed document, not a package's control file")
	}
	if !bytes.Contains(b, []byte(":")) {
		return nil, errors.New("read control file: no fields")
	}
	pr, err := control.NewParagraphReader(bytes.NewReader(b), nil)
	if err != nil {
		return nil, fmt.Errorf("read control file: %w", err)
	}
	p, err := pr.Next()
	if err != nil {
		return nil, fmt.Errorf("read control file: %w", err)
	}
	if _, err := pr.Next(); err != io.EOF {
		if err == nil {
			return nil, errors.New("read control file: more than one paragraph")
		}
		return nil, fmt.Errorf("read control file: %w", err)
	}
	seen := map[string]bool{}
	out := make([]Field, 0, len(p.Order))
	for _, k := range p.Order {
		lk := strings.ToLower(k)
		if seen[lk] {
			return nil, fmt.Errorf("read control file: field %q given twice", k)
		}
		seen[lk] = true
		out = append(out, Field{Name: k, Value: strings.TrimRight(p.Values[k], "\n")})
	}
	return out, nil
}

// Sum is one line of md5sums: a file (relative to the root, as dpkg
// writes it) and its MD5 digest in hex.
type Sum struct {
	Path, MD5 string
}

// MD5Sums returns the lines of an md5sums file. Each is 32 hex digits,
// two spaces (or a space and '*') and a path; a path given twice or a line
// of any other shape is an error naming the line.
func MD5Sums(b []byte) ([]Sum, error) {
	if len(b) > MaxFile {
		return nil, fmt.Errorf("read md5sums: %d bytes is over the %d-byte limit", len(b), MaxFile)
	}
	var out []Sum
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), MaxFile)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		if len(line) < 35 || (line[32:34] != "  " && line[32:34] != " *") {
			return nil, fmt.Errorf("read md5sums: line %d: not \"<md5>  <path>\"", n)
		}
		sum, path := line[:32], line[34:]
		if _, err := hex.DecodeString(sum); err != nil {
			return nil, fmt.Errorf("read md5sums: line %d: %q is not an MD5 digest", n, sum)
		}
		if seen[path] {
			return nil, fmt.Errorf("read md5sums: line %d: %q is listed twice", n, path)
		}
		seen[path] = true
		out = append(out, Sum{Path: path, MD5: strings.ToLower(sum)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read md5sums: %w", err)
	}
	return out, nil
}
