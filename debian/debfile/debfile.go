// Package debfile reads the control file of a binary package (.deb): an
// ar archive whose control.tar (plain, gzip, xz or zstd) holds ./control.
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
	magic := make([]byte, 8)
	if _, err := r.ReadAt(magic, 0); err != nil || string(magic) != "!<arch>\n" {
		return nil, fail("not a Debian package (no ar header)")
	}
	off := int64(8)
	for i := 0; i < maxMembers && off < size; i++ {
		hdr := make([]byte, 60)
		if _, err := r.ReadAt(hdr, off); err != nil {
			return nil, fail("truncated member header at offset %d", off)
		}
		if string(hdr[58:60]) != "`\n" {
			return nil, fail("bad member header at offset %d", off)
		}
		name := strings.TrimSuffix(strings.TrimSpace(string(hdr[0:16])), "/")
		msize, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil || msize < 0 || off+60+msize > size {
			return nil, fail("member %q: bad size", name)
		}
		body := io.NewSectionReader(r, off+60, msize)
		if i == 0 && name != "debian-binary" {
			return nil, fail("first member is %q, not debian-binary", name)
		}
		if strings.HasPrefix(name, "control.tar") {
			return controlFrom(what, name, body, fail)
		}
		off += 60 + msize + msize%2
	}
	return nil, fail("no control.tar member")
}

func controlFrom(what, name string, body io.Reader, fail func(string, ...any) error) ([]byte, error) {
	var rd io.Reader
	switch name {
	case "control.tar":
		rd = body
	case "control.tar.gz":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, fail("%s: %v", name, err)
		}
		rd = zr
	case "control.tar.xz":
		zr, err := xz.NewReader(body)
		if err != nil {
			return nil, fail("%s: %v", name, err)
		}
		rd = zr
	case "control.tar.zst":
		zr, err := zstd.NewReader(body, zstd.WithDecoderMaxMemory(maxControlTar), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fail("%s: %v", name, err)
		}
		defer zr.Close()
		rd = zr
	default:
		return nil, fail("unknown control member %q", name)
	}
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
