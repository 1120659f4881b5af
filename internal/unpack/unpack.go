// Package unpack reads untrusted archives (tar, plain or compressed with
// gzip, bzip2 or xz; zip): it extracts a whole tree into a private directory
// or copies out one member, refusing hostile content (absolute or ".."
// paths, symlinks that leave the tree, devices, duplicates) and stopping at
// limits on members, decompressed bytes and member size, so that a bomb is
// an error rather than a full disk.
//
// Written on Go's archive/* and compress/* (and ulikunitz/xz): those read
// the formats; this package adds the policy a build input needs.
package unpack

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/ulikunitz/xz"

	"github.com/reprove/reprove/internal/ctxio"
)

// Limits bound what reading an untrusted archive may do.
type Limits struct {
	// Entries is the most members an archive may have.
	Entries int64
	// Bytes is the most bytes extracted (Extract) or decompressed
	// (Member) in all.
	Bytes int64
	// MemberBytes is the largest member Member copies out.
	MemberBytes int64
}

// DefaultLimits suit source trees and release archives.
var DefaultLimits = Limits{Entries: 1 << 20, Bytes: 16 << 30, MemberBytes: 4 << 30}

// ErrNoMember is returned (wrapped) when an archive has no regular file of
// the name asked for.
var ErrNoMember = errors.New("no such regular file in the archive")

// ArchiveError is a malformed or hostile archive.
type ArchiveError struct {
	Archive string
	Member  string
	Reason  string
}

func (e *ArchiveError) Error() string {
	if e.Member == "" {
		return fmt.Sprintf("archive %s: %s", e.Archive, e.Reason)
	}
	return fmt.Sprintf("archive %s: member %q: %s", e.Archive, e.Member, e.Reason)
}

type kind int

const (
	kindUnknown kind = iota
	kindTar
	kindGzip
	kindBzip2
	kindXz
	kindZip
)

func sniff(ra io.ReaderAt) kind {
	head := make([]byte, 512)
	n, _ := ra.ReadAt(head, 0)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return kindGzip
	case bytes.HasPrefix(head, []byte("BZh")):
		return kindBzip2
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return kindXz
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return kindZip
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		return kindTar
	}
	return kindUnknown
}

// entry is one archive member, whatever the format.
type entry struct {
	name     string
	typ      byte // tar type flags, also used for zip
	mode     os.FileMode
	size     int64
	linkname string
	modTime  time.Time
	open     func() (io.Reader, error)
}

// walk calls fn for each member of the archive at p, in archive order.
func walk(ctx context.Context, p string, maxBytes int64, fn func(*entry) error) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return walkReader(ctx, f, fi.Size(), p, maxBytes, fn)
}

// walkReader is walk on an archive in memory or an open file; name is used
// in errors. maxBytes bounds what a compressed tar may decompress to.
func walkReader(ctx context.Context, ra io.ReaderAt, size int64, p string, maxBytes int64, fn func(*entry) error) error {
	k := sniff(ra)
	var r io.Reader = bufio.NewReader(io.NewSectionReader(ra, 0, size))
	switch k {
	case kindZip:
		zr, err := zip.NewReader(ra, size)
		if err != nil {
			return &ArchiveError{Archive: p, Reason: err.Error()}
		}
		for _, zf := range zr.File {
			if err := ctx.Err(); err != nil {
				return err
			}
			e := &entry{name: zf.Name, mode: zf.Mode(), size: int64(zf.UncompressedSize64), modTime: zf.Modified}
			switch {
			case zf.Mode().IsDir() || strings.HasSuffix(zf.Name, "/"):
				e.typ = tar.TypeDir
			case zf.Mode()&os.ModeSymlink != 0:
				e.typ = tar.TypeSymlink
				rc, err := zf.Open()
				if err != nil {
					return &ArchiveError{Archive: p, Member: zf.Name, Reason: err.Error()}
				}
				b, err := io.ReadAll(io.LimitReader(rc, 4096))
				rc.Close()
				if err != nil {
					return &ArchiveError{Archive: p, Member: zf.Name, Reason: err.Error()}
				}
				e.linkname = string(b)
			case zf.Mode().IsRegular():
				e.typ = tar.TypeReg
				zf := zf
				e.open = func() (io.Reader, error) { return zf.Open() }
			default:
				e.typ = tar.TypeChar // refused below
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	case kindGzip:
		gz, err := gzip.NewReader(r)
		if err != nil {
			return &ArchiveError{Archive: p, Reason: err.Error()}
		}
		defer gz.Close()
		r = gz
	case kindBzip2:
		r = bzip2.NewReader(r)
	case kindXz:
		xr, err := xz.NewReader(r)
		if err != nil {
			return &ArchiveError{Archive: p, Reason: err.Error()}
		}
		r = xr
	case kindTar:
	default:
		return &ArchiveError{Archive: p, Reason: "not a tar (plain, gzip, bzip2, xz) or zip archive"}
	}
	if k != kindTar && maxBytes > 0 {
		r = &capReader{r: r, left: maxBytes, max: maxBytes}
	}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var ce *capError
			if errors.As(err, &ce) {
				return &ArchiveError{Archive: p, Reason: ce.Error()}
			}
			return &ArchiveError{Archive: p, Reason: "truncated or corrupt: " + err.Error()}
		}
		// (archive/tar itself turns the old TypeRegA into TypeReg.)
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		e := &entry{name: h.Name, typ: h.Typeflag, mode: h.FileInfo().Mode(), size: h.Size, linkname: h.Linkname, modTime: h.ModTime}
		e.open = func() (io.Reader, error) { return tr, nil }
		if err := fn(e); err != nil {
			return err
		}
	}
}

// cleanName checks a member name and strips leading components; "" means
// the member is stripped away entirely.
func cleanName(name string, strip int) (string, error) {
	if strings.Contains(name, "\\") && !strings.Contains(name, "/") {
		name = strings.ReplaceAll(name, "\\", "/")
	}
	if path.IsAbs(name) {
		return "", errors.New("absolute path")
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", errors.New("path leaves the archive (..)")
		}
	}
	clean := path.Clean(name)
	if clean == "." {
		return "", nil
	}
	parts := strings.Split(clean, "/")
	if len(parts) <= strip {
		return "", nil
	}
	return strings.Join(parts[strip:], "/"), nil
}

// Extract unpacks the archive at p into dir (created, must not exist),
// dropping strip leading path components. Hostile members are refused:
// absolute paths, "..", symlinks pointing outside dir, symlinks placed
// inside a symlinked directory, device files, and archives beyond the
// limits. Every write goes through an os.Root on dir, so no member (a
// link, a chain of links, a link to ..) makes it write outside dir, and
// symlinks are created last, so nothing is written through one. It returns
// the newest member modification time.
func Extract(ctx context.Context, p, dir string, strip int, lim Limits) (time.Time, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return time.Time{}, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		os.Remove(dir)
		return time.Time{}, err
	}
	newest, err := extract(ctx, p, root, strip, lim)
	root.Close()
	if err != nil {
		os.RemoveAll(dir)
		return time.Time{}, err
	}
	return newest, nil
}

func extract(ctx context.Context, p string, root *os.Root, strip int, lim Limits) (time.Time, error) {
	var newest time.Time
	var entries, total int64
	type link struct{ name, target string }
	var symlinks []link
	err := walk(ctx, p, 0, func(e *entry) error {
		entries++
		if entries > lim.Entries {
			return &ArchiveError{Archive: p, Reason: fmt.Sprintf("more than %d members", lim.Entries)}
		}
		name, err := cleanName(e.name, strip)
		if err != nil {
			return &ArchiveError{Archive: p, Member: e.name, Reason: err.Error()}
		}
		if name == "" {
			return nil
		}
		if e.modTime.After(newest) {
			newest = e.modTime
		}
		parent := path.Dir(name)
		switch e.typ {
		case tar.TypeDir:
			return root.MkdirAll(name, 0o755)
		case tar.TypeReg:
			total += e.size
			if total > lim.Bytes {
				return &ArchiveError{Archive: p, Reason: fmt.Sprintf("expands beyond %d bytes", lim.Bytes)}
			}
			if err := root.MkdirAll(parent, 0o755); err != nil {
				return &ArchiveError{Archive: p, Member: e.name, Reason: err.Error()}
			}
			r, err := e.open()
			if err != nil {
				return &ArchiveError{Archive: p, Member: e.name, Reason: err.Error()}
			}
			mode := os.FileMode(0o644)
			if e.mode&0o111 != 0 {
				mode = 0o755
			}
			out, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
			if err != nil {
				return &ArchiveError{Archive: p, Member: e.name, Reason: "duplicate or conflicting member: " + err.Error()}
			}
			n, err := io.Copy(out, ctxio.NewReader(ctx, io.LimitReader(r, e.size+1)))
			out.Close()
			if err != nil {
				return &ArchiveError{Archive: p, Member: e.name, Reason: "truncated or corrupt: " + err.Error()}
			}
			if n != e.size {
				return &ArchiveError{Archive: p, Member: e.name, Reason: fmt.Sprintf("size %d, header says %d", n, e.size)}
			}
			return root.Chtimes(name, e.modTime, e.modTime)
		case tar.TypeSymlink:
			t := e.linkname
			if path.IsAbs(t) {
				return &ArchiveError{Archive: p, Member: e.name, Reason: "symlink to an absolute path " + t}
			}
			resolved := path.Join(parent, t)
			if resolved == ".." || strings.HasPrefix(resolved, "../") {
				return &ArchiveError{Archive: p, Member: e.name, Reason: "symlink leaves the archive: " + t}
			}
			symlinks = append(symlinks, link{name, t})
			return nil
		case tar.TypeLink:
			src, err := cleanName(e.linkname, strip)
			if err != nil || src == "" {
				return &ArchiveError{Archive: p, Member: e.name, Reason: "hard link to " + e.linkname + " outside the tree"}
			}
			if err := root.MkdirAll(parent, 0o755); err != nil {
				return &ArchiveError{Archive: p, Member: e.name, Reason: err.Error()}
			}
			if fi, err := root.Lstat(src); err != nil || !fi.Mode().IsRegular() {
				return &ArchiveError{Archive: p, Member: e.name, Reason: "hard link to " + e.linkname + ", which is not an earlier regular file"}
			}
			if err := root.Link(src, name); err != nil {
				return &ArchiveError{Archive: p, Member: e.name, Reason: "duplicate or conflicting member: " + err.Error()}
			}
			return nil
		default:
			return &ArchiveError{Archive: p, Member: e.name, Reason: fmt.Sprintf("member type %q is not allowed (devices, fifos)", e.typ)}
		}
	})
	if err != nil {
		return time.Time{}, err
	}
	for _, l := range symlinks {
		parent := path.Dir(l.name)
		if err := root.MkdirAll(parent, 0o755); err != nil {
			return time.Time{}, &ArchiveError{Archive: p, Member: l.name, Reason: err.Error()}
		}
		// The lexical check above holds only if no directory on the way
		// is itself a link (a/up -> .. then a/up/x -> .. would land x at
		// the top, pointing out).
		if linked(root, parent) {
			return time.Time{}, &ArchiveError{Archive: p, Member: l.name, Reason: "symlink inside a symlinked directory"}
		}
		if err := root.Symlink(l.target, l.name); err != nil {
			return time.Time{}, &ArchiveError{Archive: p, Member: l.name, Reason: "duplicate or conflicting member: " + err.Error()}
		}
	}
	return newest, nil
}

// linked reports whether any component of dir (a clean relative path) is a
// symlink in root.
func linked(root *os.Root, dir string) bool {
	if dir == "." {
		return false
	}
	cur := ""
	for _, part := range strings.Split(dir, "/") {
		cur = path.Join(cur, part)
		fi, err := root.Lstat(cur)
		if err != nil || fi.Mode()&os.ModeSymlink != 0 {
			return true
		}
	}
	return false
}

// Member copies the regular file named member (a clean relative path; a
// leading "./" in the archive is ignored) out of the archive at p into w.
// Exactly one member may have that name. Decompression stops at lim.Bytes
// and the member at lim.MemberBytes.
func Member(ctx context.Context, p, member string, w io.Writer, lim Limits) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return MemberFrom(ctx, f, fi.Size(), p, member, w, lim)
}

// MemberFrom is Member on an open archive; name is used in errors.
func MemberFrom(ctx context.Context, ra io.ReaderAt, size int64, name, member string, w io.Writer, lim Limits) error {
	if member == "" || path.IsAbs(member) || path.Clean(member) != member || member == ".." || strings.HasPrefix(member, "../") {
		return fmt.Errorf("member %q is not a clean relative path", member)
	}
	if lim.MemberBytes <= 0 {
		lim.MemberBytes = DefaultLimits.MemberBytes
	}
	found := 0
	var entries int64
	err := walkReader(ctx, ra, size, name, lim.Bytes, func(e *entry) error {
		entries++
		if lim.Entries > 0 && entries > lim.Entries {
			return &ArchiveError{Archive: name, Reason: fmt.Sprintf("more than %d members", lim.Entries)}
		}
		if path.Clean(strings.TrimPrefix(e.name, "./")) != member {
			return nil
		}
		found++
		if found > 1 {
			return &ArchiveError{Archive: name, Member: member, Reason: "appears more than once"}
		}
		if e.typ != tar.TypeReg {
			return fmt.Errorf("%w: %s is not a regular file", ErrNoMember, member)
		}
		if e.size > lim.MemberBytes {
			return fmt.Errorf("member is over the %d-byte limit", lim.MemberBytes)
		}
		r, err := e.open()
		if err != nil {
			return &ArchiveError{Archive: name, Member: member, Reason: err.Error()}
		}
		n, err := io.Copy(w, ctxio.NewReader(ctx, io.LimitReader(r, e.size+1)))
		if err != nil {
			var ce *capError
			if errors.As(err, &ce) {
				return &ArchiveError{Archive: name, Reason: ce.Error()}
			}
			return &ArchiveError{Archive: name, Member: member, Reason: "truncated or corrupt: " + err.Error()}
		}
		if n != e.size {
			return &ArchiveError{Archive: name, Member: member, Reason: fmt.Sprintf("size %d, header says %d", n, e.size)}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if found == 0 {
		return fmt.Errorf("%w: %s", ErrNoMember, member)
	}
	return nil
}

// capReader fails, rather than ending, once more than max bytes were
// read: a decompression bomb is an error, not a short archive.
type capReader struct {
	r         io.Reader
	left, max int64
}

type capError struct{ max int64 }

func (e *capError) Error() string {
	return fmt.Sprintf("the archive decompresses to more than %d bytes", e.max)
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, &capError{c.max}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
