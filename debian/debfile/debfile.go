// Package debfile reads the control file of a binary package (.deb), an
// ar archive whose control.tar (plain, gzip, xz or zstd) holds ./control,
// and single files of its data.tar.
// A .deb may come from anywhere (a user's download, for infer), so reading
// is bounded: member and decompressed sizes are limited, and a malformed
// archive is an error naming what is wrong.
//
// The ar container is read by hand: it is a 8-byte magic and 60-byte
// member headers, and no maintained Go library reads it; the tar and the
// compressions are Go's and klauspost's and ulikunitz's readers.
package debfile

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Limits.
const (
	maxControlTar = 64 << 20 // decompressed control.tar
	maxControl    = 4 << 20  // the control file
	maxMembers    = 16
)

// Error is a malformed .deb.
type Error struct {
	What   string
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("read %s: %s", e.What, e.Reason) }

// Control returns the bytes of the control file of the .deb in r (size
// bytes). what names it in errors.
func Control(what string, r io.ReaderAt, size int64) ([]byte, error) {
	fail := func(format string, args ...any) error {
		return &Error{What: what, Reason: fmt.Sprintf(format, args...)}
	}
	name, body, err := member(r, size, "control.tar", fail)
	if err != nil {
		return nil, err
	}
	return controlFrom(what, name, body, fail)
}

// ErrNoFile is returned by DataFile for a file the package does not hold
// (as a regular file).
var ErrNoFile = errors.New("no such file in the package")

// DataFile returns the bytes of the regular file at name (a path such as
// "usr/share/doc/hello/changelog.Debian.amd64.gz") in the .deb's
// data.tar, at most limit bytes of it.
func DataFile(what string, r io.ReaderAt, size int64, name string, limit int64) ([]byte, error) {
	fail := func(format string, args ...any) error {
		return &Error{What: what, Reason: fmt.Sprintf(format, args...)}
	}
	mname, body, err := member(r, size, "data.tar", fail)
	if err != nil {
		return nil, err
	}
	rd, done, err := decompress(mname, body, fail)
	if err != nil {
		return nil, err
	}
	defer done()
	want := path.Clean("/" + name)
	tr := tar.NewReader(rd)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: %s: %w", what, name, ErrNoFile)
		}
		if err != nil {
			return nil, fail("%s: %v", mname, err)
		}
		if path.Clean("/"+h.Name) != want {
			continue
		}
		if h.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("%s: %s is not a regular file: %w", what, name, ErrNoFile)
		}
		if h.Size > limit {
			return nil, fail("%s: %d bytes, more than %d", name, h.Size, limit)
		}
		var b bytes.Buffer
		if _, err := io.CopyN(&b, tr, h.Size); err != nil {
			return nil, fail("%s: %s: %v", mname, name, err)
		}
		return b.Bytes(), nil
	}
}

// member finds the ar member whose name starts with prefix.
func member(r io.ReaderAt, size int64, prefix string, fail func(string, ...any) error) (string, io.Reader, error) {
	magic := make([]byte, 8)
	if _, err := r.ReadAt(magic, 0); err != nil || string(magic) != "!<arch>\n" {
		return "", nil, fail("not a Debian package (no ar header)")
	}
	off := int64(8)
	for i := 0; i < maxMembers && off < size; i++ {
		hdr := make([]byte, 60)
		if _, err := r.ReadAt(hdr, off); err != nil {
			return "", nil, fail("truncated member header at offset %d", off)
		}
		if string(hdr[58:60]) != "`\n" {
			return "", nil, fail("bad member header at offset %d", off)
		}
		name := strings.TrimSuffix(strings.TrimSpace(string(hdr[0:16])), "/")
		msize, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil || msize < 0 || off+60+msize > size {
			return "", nil, fail("member %q: bad size", name)
		}
		body := io.NewSectionReader(r, off+60, msize)
		if i == 0 && name != "debian-binary" {
			return "", nil, fail("first member is %q, not debian-binary", name)
		}
		if strings.HasPrefix(name, prefix) {
			return name, body, nil
		}
		off += 60 + msize + msize%2
	}
	return "", nil, fail("no %s member", prefix)
}

// decompress reads a control.tar or data.tar member by its name's
// compression; done releases the decoder.
func decompress(name string, body io.Reader, fail func(string, ...any) error) (io.Reader, func(), error) {
	switch path.Ext(name) {
	case ".tar":
		return body, func() {}, nil
	case ".gz":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, nil, fail("%s: %v", name, err)
		}
		return zr, func() {}, nil
	case ".xz":
		zr, err := xz.NewReader(body)
		if err != nil {
			return nil, nil, fail("%s: %v", name, err)
		}
		return zr, func() {}, nil
	case ".zst":
		zr, err := zstd.NewReader(body, zstd.WithDecoderMaxMemory(maxControlTar), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, fail("%s: %v", name, err)
		}
		return zr, zr.Close, nil
	}
	return nil, nil, fail("unknown compression of member %q", name)
}

func controlFrom(what, name string, body io.Reader, fail func(string, ...any) error) ([]byte, error) {
	if name != "control.tar" && name != "control.tar.gz" && name != "control.tar.xz" && name != "control.tar.zst" {
		return nil, fail("unknown control member %q", name)
	}
	rd, done, err := decompress(name, body, fail)
	if err != nil {
		return nil, err
	}
	defer done()
	tr := tar.NewReader(io.LimitReader(rd, maxControlTar))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fail("%s holds no control file", name)
		}
		if err != nil {
			return nil, fail("%s: %v", name, err)
		}
		if path.Clean("/"+h.Name) != "/control" || h.Typeflag != tar.TypeReg {
			continue
		}
		if h.Size > maxControl {
			return nil, fail("control file of %d bytes", h.Size)
		}
		var b bytes.Buffer
		if _, err := io.CopyN(&b, tr, h.Size); err != nil {
			return nil, fail("%s: control: %v", name, err)
		}
		return b.Bytes(), nil
	}
}
