package archive

import (
	"archive/zip"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"sync"

	kflate "github.com/klauspost/compress/flate"
	"github.com/opencontainers/go-digest"
)

// Zip is an opened zip (or jar) archive.
type Zip struct {
	Where   string
	Comment string
	Members []*ZipMember
	// Outside counts the bytes before the central directory that belong
	// to no member (a prefix, gaps, a signing block); OutsideDigest hashes
	// them.
	Outside       int64
	OutsideDigest digest.Digest
	b             *Budget
}

// ZipMember is one member of a Zip with the digest of its raw (still
// compressed) bytes: two members with equal method and raw digest have
// equal content, so they are never decompressed.
type ZipMember struct {
	Entry
	Method    uint16
	RawDigest digest.Digest
	f         *zip.File
}

// OpenZip reads the central directory of the zip in ra and hashes each
// member's raw bytes.
func OpenZip(ctx context.Context, ra io.ReaderAt, size int64, where string, b *Budget) (*Zip, error) {
	ra = newBlockCache(ra, size)
	zr, err := zip.NewReader(ra, size)
	if err != nil && zr == nil {
		return nil, fmt.Errorf("read zip %s: %w", where, err)
	}
	// klauspost's inflate is a faster drop-in for compress/flate.
	zr.RegisterDecompressor(zip.Deflate, kflate.NewReader)
	if len(zr.File) > b.Limits.MaxEntries {
		return nil, &LimitError{Limit: "member count", Where: where, Max: int64(b.Limits.MaxEntries)}
	}
	z := &Zip{Where: where, Comment: zr.Comment, b: b}
	nm := newNames(where)
	buf := make([]byte, 64<<10)
	exts := make([]extent, 0, len(zr.File))
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m := &ZipMember{Entry: zipEntry(f), Method: f.Method, f: f}
		if err := nm.check(f.Name, m.Type == "symlink"); err != nil {
			return nil, err
		}
		raw, err := f.OpenRaw()
		if err != nil {
			return nil, fmt.Errorf("read zip %s: member %q: %w", where, f.Name, err)
		}
		d := digest.SHA256.Digester()
		if _, err := io.CopyBuffer(d.Hash(), raw, buf); err != nil {
			return nil, fmt.Errorf("read zip %s: member %q: %w", where, f.Name, err)
		}
		m.RawDigest = d.Digest()
		ext, err := addLocal(ra, size, m, where)
		if err != nil {
			return nil, err
		}
		exts = append(exts, ext)
		if m.Type == "symlink" {
			target, err := z.readLink(m)
			if err != nil {
				return nil, err
			}
			m.add("link target", ClassLink, "%q", target)
		}
		z.Members = append(z.Members, m)
	}
	if err := z.accountLayout(ra, size, exts); err != nil {
		return nil, err
	}
	return z, nil
}

func (z *Zip) readLink(m *ZipMember) (string, error) {
	if m.f.UncompressedSize64 > 4096 {
		return "", fmt.Errorf("read zip %s: symlink member %q: target longer than 4096 bytes", z.Where, m.Name)
	}
	rc, err := z.Open(m)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 4097))
	if err != nil {
		return "", fmt.Errorf("read zip %s: symlink member %q: %w", z.Where, m.Name, err)
	}
	return string(b), nil
}

// Open returns the decompressed content of m, metered against the budget.
// archive/zip checks the CRC-32 and size when the content ends.
func (z *Zip) Open(m *ZipMember) (io.ReadCloser, error) {
	rc, err := m.f.Open()
	if err != nil {
		return nil, fmt.Errorf("read zip %s: member %q: %w", z.Where, m.Name, err)
	}
	in := &countingReader{n: int64(m.f.CompressedSize64)}
	where := z.Where + ": " + m.Name
	return &readCloser{Reader: zipErr{&meter{r: rc, in: in, b: z.b, where: where}, where}, close: rc.Close}, nil
}

type zipErr struct {
	r     io.Reader
	where string
}

func (e zipErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && !IsLimit(err) {
		err = fmt.Errorf("read zip member %s: %w", e.where, err)
	}
	return n, err
}

const creatorUnix = 3

func zipEntry(f *zip.File) Entry {
	mode := f.Mode()
	e := Entry{Name: f.Name}
	switch {
	case mode.IsDir():
		e.Type = "dir"
	case mode&fs.ModeSymlink != 0:
		e.Type = "symlink"
	case mode.IsRegular():
		e.Type = "file"
		e.Size = int64(f.UncompressedSize64)
	case mode&fs.ModeNamedPipe != 0:
		e.Type = "fifo"
	case mode&fs.ModeDevice != 0:
		e.Type = "block"
		if mode&fs.ModeCharDevice != 0 {
			e.Type = "char"
		}
	default:
		e.Type = "other"
	}
	e.add("type", ClassType, "%s", e.Type)
	if f.CreatorVersion>>8 == creatorUnix {
		e.add("mode", ClassMode, "%#o", f.ExternalAttrs>>16&0o7777)
		e.add("unix file type bits", ClassType, "%#o", f.ExternalAttrs>>16&^0o7777)
	} else {
		e.add("mode", ClassMode, "none (made on system %d)", f.CreatorVersion>>8)
	}
	e.add("msdos attributes", ClassOther, "%#x", f.ExternalAttrs&0xffff)
	e.add("method", ClassCompression, "%s", methodName(f.Method))
	e.add("compression flags", ClassCompression, "%#x", f.Flags&0x0e)
	e.add("flags", ClassOther, "%#x", f.Flags&^0x0e)
	e.add("creator version", ClassOther, "%#04x", f.CreatorVersion)
	e.add("reader version", ClassOther, "%#04x", f.ReaderVersion)
	e.add("dos time", ClassTime, "%04x %04x", f.ModifiedDate, f.ModifiedTime)
	e.add("modified", ClassTime, "%s", fmtTime(f.Modified))
	if f.Comment != "" {
		e.add("comment", ClassOther, "%q", f.Comment)
	}
	e.Fields = append(e.Fields, splitExtra(f.Extra)...)
	return e
}

func methodName(m uint16) string {
	switch m {
	case zip.Store:
		return "store"
	case zip.Deflate:
		return "deflate"
	}
	return fmt.Sprintf("method %d", m)
}

// Extra-field IDs that record only times (APPNOTE 4.5, Info-ZIP extra.fld).
var zipTimeExtras = map[uint16]string{0x5455: "extended timestamp", 0x000a: "NTFS times"}

// Extra-field IDs that record only owners.
var zipOwnerExtras = map[uint16]string{0x7875: "unix uid/gid", 0x7855: "unix uid/gid (old)"}

// splitExtra splits a zip extra field into its records (APPNOTE 4.5.1: a
// 2-byte id and a 2-byte length before each). archive/zip parses only the
// records it needs; we need them all, one by one, to say which differ.
func splitExtra(b []byte) []Field {
	var out []Field
	for i := 0; len(b) > 0; i++ {
		if len(b) < 4 {
			out = append(out, Field{Name: "extra (malformed tail)", Class: ClassOther, Value: fmt.Sprintf("%x", b)})
			break
		}
		id := binary.LittleEndian.Uint16(b)
		n := int(binary.LittleEndian.Uint16(b[2:]))
		if 4+n > len(b) {
			out = append(out, Field{Name: "extra (malformed tail)", Class: ClassOther, Value: fmt.Sprintf("%x", b)})
			break
		}
		data := b[4 : 4+n]
		name, class := fmt.Sprintf("extra %#04x", id), ClassOther
		if s, ok := zipTimeExtras[id]; ok {
			name, class = "extra "+s, ClassTime
		} else if s, ok := zipOwnerExtras[id]; ok {
			name, class = "extra "+s, ClassOwner
		}
		out = append(out, Field{Name: fmt.Sprintf("%s #%d", name, i), Class: class, Value: fmt.Sprintf("%x", data)})
		b = b[4+n:]
	}
	return out
}

// CompressedSize is the member's size in the archive.
func (m *ZipMember) CompressedSize() int64 { return int64(m.f.CompressedSize64) }

// blockCache serves small reads of a ReaderAt from the last 1 MiB block
// read. Reading a zip's members in order makes a few tiny reads per member
// (the local header, twice, then the data); without it a toolchain zip of
// 4,000 members costs tens of thousands of system calls. (The standard
// library has no caching ReaderAt.)
type blockCache struct {
	ra   io.ReaderAt
	size int64
	mu   sync.Mutex
	off  int64
	buf  []byte
}

const cacheBlock = 1 << 20

func newBlockCache(ra io.ReaderAt, size int64) *blockCache {
	return &blockCache{ra: ra, size: size, off: -1}
}

func (c *blockCache) ReadAt(p []byte, off int64) (int, error) {
	if len(p) >= cacheBlock/4 || off < 0 || off >= c.size {
		return c.ra.ReadAt(p, off)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.off < 0 || off < c.off || off+int64(len(p)) > c.off+int64(len(c.buf)) {
		start := off &^ (cacheBlock - 1)
		n := min(int64(2*cacheBlock), c.size-start)
		if n <= 0 {
			return 0, io.EOF
		}
		if cap(c.buf) < int(n) {
			c.buf = make([]byte, n)
		}
		c.buf = c.buf[:n]
		if m, err := c.ra.ReadAt(c.buf, start); err != nil && !(err == io.EOF && int64(m) == n) {
			c.off = -1
			return c.ra.ReadAt(p, off)
		}
		c.off = start
	}
	n := copy(p, c.buf[off-c.off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
