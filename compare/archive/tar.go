package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"
)

// tarTypes names tar type flags.
var tarTypes = map[byte]string{
	tar.TypeReg: "file", '\x00': "file", // '\x00' is the old regular-file flag (tar.TypeRegA, deprecated)
	tar.TypeGNUSparse: "file",
	tar.TypeDir:       "dir", tar.TypeSymlink: "symlink", tar.TypeLink: "hardlink",
	tar.TypeChar: "char", tar.TypeBlock: "block", tar.TypeFifo: "fifo",
}

// PAX keys that archive/tar already folds into Header fields we report.
var paxFolded = map[string]bool{
	"path": true, "linkpath": true, "size": true, "uid": true, "gid": true,
	"uname": true, "gname": true, "mtime": true, "atime": true, "ctime": true,
}

// Trailer describes what follows a tar's end-of-archive marker. Zero
// padding is normal (tar writers pad to their record size); other bytes are
// invisible to most extractors but not to all (GNU tar --ignore-zeros reads
// on), so they are compared.
type Trailer struct {
	NonZero int64         // bytes after the marker that are not zero
	Digest  digest.Digest // of those bytes, in order
}

// ReadTarTrailer reads what remains of r after ReadTar returned.
func ReadTarTrailer(r io.Reader) (Trailer, error) {
	d := digest.SHA256.Digester()
	buf := make([]byte, 32<<10)
	var t Trailer
	for {
		n, err := r.Read(buf)
		for _, c := range buf[:n] {
			if c != 0 {
				t.NonZero++
				d.Hash().Write([]byte{c})
			}
		}
		if err == io.EOF {
			t.Digest = d.Digest()
			return t, nil
		}
		if err != nil {
			return t, err
		}
	}
}

// ReadTar reads a tar stream member by member and calls visit with each
// member and its content (empty for non-regular members). visit need not
// consume the body. After it returns, r is positioned after the
// end-of-archive marker (see ReadTarTrailer).
func ReadTar(ctx context.Context, r io.Reader, where string, b *Budget, visit func(e *Entry, body io.Reader) error) error {
	tr := tar.NewReader(r)
	nm := newNames(where)
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if IsLimit(err) {
				return err
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("read tar %s after %d members: truncated archive: %w", where, n, err)
			}
			return fmt.Errorf("read tar %s after %d members: %w", where, n, err)
		}
		if n >= b.Limits.MaxEntries {
			return &LimitError{Limit: "member count", Where: where, Max: int64(b.Limits.MaxEntries)}
		}
		e := tarEntry(h)
		if err := nm.check(h.Name, e.Type == "symlink"); err != nil {
			return err
		}
		var body io.Reader = eofReader{}
		if e.Regular() {
			body = tr
		}
		if err := visit(e, body); err != nil {
			return err
		}
	}
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

func tarEntry(h *tar.Header) *Entry {
	e := &Entry{Name: h.Name, Type: tarTypes[h.Typeflag]}
	if e.Type == "" {
		e.Type = "other"
	}
	if e.Regular() {
		e.Size = h.Size
	}
	e.add("type", ClassType, "%s (%q)", e.Type, h.Typeflag)
	e.add("mode", ClassMode, "%#o", h.Mode)
	e.add("uid", ClassOwner, "%d", h.Uid)
	e.add("gid", ClassOwner, "%d", h.Gid)
	e.add("uname", ClassOwner, "%q", h.Uname)
	e.add("gname", ClassOwner, "%q", h.Gname)
	if e.Type == "symlink" || e.Type == "hardlink" || h.Linkname != "" {
		e.add("link target", ClassLink, "%q", h.Linkname)
	}
	if !e.Regular() && h.Size != 0 {
		e.add("size", ClassOther, "%d", h.Size)
	}
	if e.Type == "char" || e.Type == "block" {
		e.add("device", ClassOther, "%d,%d", h.Devmajor, h.Devminor)
	}
	e.add("mtime", ClassTime, "%s", fmtTime(h.ModTime))
	if !h.AccessTime.IsZero() {
		e.add("atime", ClassTime, "%s", fmtTime(h.AccessTime))
	}
	if !h.ChangeTime.IsZero() {
		e.add("ctime", ClassTime, "%s", fmtTime(h.ChangeTime))
	}
	e.add("header format", ClassOther, "%s", h.Format)
	keys := make([]string, 0, len(h.PAXRecords))
	for k := range h.PAXRecords {
		if !paxFolded[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		e.add("pax "+k, ClassOther, "%q", h.PAXRecords[k])
	}
	return e
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return t.UTC().Format(time.RFC3339Nano)
}
