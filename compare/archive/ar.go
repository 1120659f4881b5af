package archive

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ArMember is one member of a Unix ar archive, with its content as a
// section of the archive.
type ArMember struct {
	Entry
	Content *io.SectionReader
}

const arHeaderLen = 60

// ReadAr lists the members of the ar archive in ra (Debian .deb packages,
// static libraries). The standard library has no archive/ar, and the format
// is a fixed 60-byte text header before each member (plus GNU and BSD long
// names), so it is read here by hand rather than through an extra
// dependency.
func ReadAr(ctx context.Context, ra io.ReaderAt, size int64, where string, b *Budget) ([]*ArMember, error) {
	magic := make([]byte, 8)
	if _, err := ra.ReadAt(magic, 0); err != nil || string(magic) != "!<arch>\n" {
		return nil, fmt.Errorf("read ar %s: missing !<arch> magic", where)
	}
	var out []*ArMember
	var gnuNames []byte
	nm := newNames(where)
	off := int64(8)
	for off < size {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(out) >= b.Limits.MaxEntries {
			return nil, &LimitError{Limit: "member count", Where: where, Max: int64(b.Limits.MaxEntries)}
		}
		if size-off < arHeaderLen {
			return nil, fmt.Errorf("read ar %s: truncated header at offset %d", where, off)
		}
		h := make([]byte, arHeaderLen)
		if _, err := ra.ReadAt(h, off); err != nil {
			return nil, fmt.Errorf("read ar %s: header at offset %d: %w", where, off, err)
		}
		if string(h[58:60]) != "`\n" {
			return nil, fmt.Errorf("read ar %s: bad header terminator at offset %d", where, off)
		}
		field := func(lo, hi int) string { return strings.TrimRight(string(h[lo:hi]), " ") }
		msize, err := strconv.ParseInt(field(48, 58), 10, 64)
		if err != nil || msize < 0 {
			return nil, fmt.Errorf("read ar %s: bad member size %q at offset %d", where, field(48, 58), off)
		}
		data := off + arHeaderLen
		if msize > size-data {
			return nil, fmt.Errorf("read ar %s: member at offset %d: truncated archive (size %d, %d bytes left)", where, off, msize, size-data)
		}
		name := field(0, 16)
		content := io.NewSectionReader(ra, data, msize)
		switch {
		case name == "//": // GNU long-name table
			if msize > 16<<20 {
				return nil, fmt.Errorf("read ar %s: long-name table larger than 16 MiB", where)
			}
			gnuNames = make([]byte, msize)
			if _, err := ra.ReadAt(gnuNames, data); err != nil {
				return nil, fmt.Errorf("read ar %s: long-name table: %w", where, err)
			}
			off = data + msize + msize%2
			continue
		case name == "/" || name == "/SYM64/": // symbol table: compared as a member
		case strings.HasPrefix(name, "#1/"): // BSD: name follows the header
			n, err := strconv.Atoi(name[3:])
			if err != nil || n < 0 || int64(n) > msize || n > 4096 {
				return nil, fmt.Errorf("read ar %s: bad BSD name length at offset %d", where, off)
			}
			nb := make([]byte, n)
			if _, err := ra.ReadAt(nb, data); err != nil {
				return nil, fmt.Errorf("read ar %s: BSD name at offset %d: %w", where, off, err)
			}
			name = string(bytes.TrimRight(nb, "\x00"))
			content = io.NewSectionReader(ra, data+int64(n), msize-int64(n))
		case strings.HasPrefix(name, "/") && len(name) > 1: // GNU: offset into "//"
			i, err := strconv.Atoi(name[1:])
			if err != nil || i < 0 || i >= len(gnuNames) {
				return nil, fmt.Errorf("read ar %s: bad long-name reference %q at offset %d", where, name, off)
			}
			end := bytes.Index(gnuNames[i:], []byte("/\n"))
			if end < 0 {
				return nil, fmt.Errorf("read ar %s: unterminated long name at offset %d", where, off)
			}
			name = string(gnuNames[i : i+end])
		default:
			name = strings.TrimSuffix(name, "/") // GNU terminator
		}
		if err := nm.check(name, false); err != nil {
			return nil, err
		}
		e := Entry{Name: name, Type: "file", Size: content.Size()}
		e.add("type", ClassType, "file")
		e.add("mode", ClassMode, "%s", field(40, 48))
		e.add("uid", ClassOwner, "%s", field(28, 34))
		e.add("gid", ClassOwner, "%s", field(34, 40))
		mt := field(16, 28)
		if secs, err := strconv.ParseInt(mt, 10, 64); err == nil {
			mt = fmtTime(time.Unix(secs, 0))
		}
		e.add("mtime", ClassTime, "%s", mt)
		if msize%2 == 1 {
			// The pad byte is "\n"; anything else is data no reader sees.
			var pad [1]byte
			if _, err := ra.ReadAt(pad[:], data+msize); err == nil && pad[0] != '\n' {
				e.add("padding", ClassOther, "%#02x", pad[0])
			}
		}
		out = append(out, &ArMember{Entry: e, Content: content})
		off = data + msize + msize%2
	}
	return out, nil
}
