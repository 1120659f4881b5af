package infer

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/opencontainers/go-digest"
)

// ExtractMember copies the regular file member (a clean relative path,
// such as package/bin/esbuild) out of the archive at archivePath (tar,
// gzip-compressed tar such as an npm .tgz, or zip) into dst, and returns
// the member's digest. Reading is bounded by lim.MaxSize for the member and
// four times that for everything decompressed, so a hostile archive cannot
// make it work without end.
//
// Written with Go's archive/tar, archive/zip and compress/gzip rather than
// compare's readers because it needs one member of three formats, not a
// structural comparison.
func ExtractMember(ctx context.Context, archivePath, member, dst string, lim Limits) (digest.Digest, error) {
	f, err := os.Open(archivePath)
	if err != nil {
		return "", fmt.Errorf("extract %s: %w", member, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("extract %s: %w", member, err)
	}
	out, err := os.Create(dst)
	if err != nil {
		return "", fmt.Errorf("extract %s: %w", member, err)
	}
	d, err := extract(ctx, f, st.Size(), member, out, lim)
	if cerr := out.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return "", fmt.Errorf("extract %s from %s: %w", member, archivePath, err)
	}
	return d, nil
}

// ErrNoMember is returned when the archive has no such regular file.
var ErrNoMember = errors.New("no such regular file in the archive")

func extract(ctx context.Context, ra io.ReaderAt, size int64, member string, w io.Writer, lim Limits) (digest.Digest, error) {
	if member == "" || path.Clean(member) != member || path.IsAbs(member) || member == ".." || bytes.HasPrefix([]byte(member), []byte("../")) {
		return "", fmt.Errorf("member %q is not a clean relative path", member)
	}
	head := make([]byte, 512)
	n, _ := ra.ReadAt(head, 0)
	head = head[:n]
	copyOut := func(r io.Reader) (digest.Digest, error) {
		d := digest.Canonical.Digester()
		n, err := io.Copy(io.MultiWriter(w, d.Hash()), &ctxReader{ctx, io.LimitReader(r, lim.MaxSize+1)})
		if err != nil {
			return "", err
		}
		if n > lim.MaxSize {
			return "", fmt.Errorf("member is over the %d-byte limit", lim.MaxSize)
		}
		return d.Digest(), nil
	}
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06")):
		zr, err := zip.NewReader(ra, size)
		if err != nil {
			return "", fmt.Errorf("read zip: %w", err)
		}
		var found *zip.File
		for _, zf := range zr.File {
			if zf.Name == member || zf.Name == "./"+member {
				if found != nil {
					return "", fmt.Errorf("the zip holds %s twice", member)
				}
				found = zf
			}
		}
		if found == nil || !found.Mode().IsRegular() {
			return "", ErrNoMember
		}
		rc, err := found.Open()
		if err != nil {
			return "", fmt.Errorf("read zip: %w", err)
		}
		defer rc.Close()
		return copyOut(rc)
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		gz, err := gzip.NewReader(io.NewSectionReader(ra, 0, size))
		if err != nil {
			return "", fmt.Errorf("read gzip: %w", err)
		}
		defer gz.Close()
		return extractTar(&capReader{r: gz, left: 4 * lim.MaxSize}, member, copyOut)
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		return extractTar(io.NewSectionReader(ra, 0, size), member, copyOut)
	}
	return "", errors.New("not a tar, gzip-compressed tar or zip archive")
}

// extractTar copies the first regular file named member; a second one of
// the same name is an error, as which one counts would be ambiguous.
func extractTar(r io.Reader, member string, copyOut func(io.Reader) (digest.Digest, error)) (digest.Digest, error) {
	tr := tar.NewReader(r)
	var got digest.Digest
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("read tar: %w", err)
		}
		if h.Name != member && h.Name != "./"+member {
			continue
		}
		if got != "" {
			return "", fmt.Errorf("the tar holds %s twice", member)
		}
		if h.Typeflag != tar.TypeReg {
			return "", ErrNoMember
		}
		if got, err = copyOut(tr); err != nil {
			return "", err
		}
	}
	if got == "" {
		return "", ErrNoMember
	}
	return got, nil
}

// capReader fails, rather than ending, once more than left bytes are read:
// a decompression bomb is an error, not a short archive.
type capReader struct {
	r    io.Reader
	left int64
	max  int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.max == 0 {
		c.max = c.left
	}
	if c.left <= 0 {
		return 0, fmt.Errorf("the archive decompresses to more than %d bytes", c.max)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
