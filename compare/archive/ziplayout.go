package archive

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"

	"github.com/opencontainers/go-digest"
)

// Zip layout accounting. archive/zip reads the central directory and
// finds each member's data from it; a streaming extractor reads the local
// headers one after the other instead. Two zips can therefore agree in
// their central directories and still extract differently: a local header
// naming another file, bytes between members that hold a whole extra
// entry, a prefix. So every byte is accounted for here: local headers are
// read and compared like central fields, and the bytes that belong to no
// member, the central directory or the end records are hashed, so that
// compare reports them when they differ. archive/zip exposes neither the
// local header offsets nor the directory's position, so both are found
// here (APPNOTE.TXT 4.3.6–4.3.16).

const (
	sigLocal      = 0x04034b50
	sigDescriptor = 0x08074b50
	sigEOCD       = 0x06054b50
	sigZip64Loc   = 0x07064b50
	sigZip64EOCD  = 0x06064b50
)

type extent struct {
	start, end int64
	name       string
}

// localHeader finds and reads the local header that ends at dataOff.
func localHeader(ra io.ReaderAt, dataOff int64, where, name string) (start int64, h []byte, err error) {
	for _, window := range []int64{1 << 10, 30 + 2*65535} {
		lo := max(0, dataOff-window)
		buf := make([]byte, dataOff-lo)
		if _, err := ra.ReadAt(buf, lo); err != nil {
			return 0, nil, fmt.Errorf("read zip %s: member %q: local header: %w", where, name, err)
		}
		for i := len(buf) - 30; i >= 0; i-- {
			if binary.LittleEndian.Uint32(buf[i:]) != sigLocal {
				continue
			}
			n, m := int(binary.LittleEndian.Uint16(buf[i+26:])), int(binary.LittleEndian.Uint16(buf[i+28:]))
			if i+30+n+m == len(buf) {
				return lo + int64(i), buf[i:], nil
			}
		}
	}
	return 0, nil, fmt.Errorf("read zip %s: member %q: no local header before its data at offset %d", where, name, dataOff)
}

// addLocal adds the local header's fields to m and returns the member's
// extent in the file.
func addLocal(ra io.ReaderAt, size int64, m *ZipMember, where string) (extent, error) {
	f := m.f
	dataOff, err := f.DataOffset()
	if err != nil {
		return extent{}, fmt.Errorf("read zip %s: member %q: %w", where, f.Name, err)
	}
	start, h, err := localHeader(ra, dataOff, where, f.Name)
	if err != nil {
		return extent{}, err
	}
	le := binary.LittleEndian
	n := int(le.Uint16(h[26:]))
	lname, lextra := string(h[30:30+n]), h[30+n:]
	flags, method := le.Uint16(h[6:]), le.Uint16(h[8:])
	if lname != f.Name {
		m.add("local header name", ClassOther, "%q", lname)
	}
	m.add("local header version", ClassOther, "%#04x", le.Uint16(h[4:]))
	m.add("local header flags", ClassOther, "%#x", flags)
	m.add("local header method", ClassCompression, "%s", methodName(method))
	m.add("local header dos time", ClassTime, "%04x %04x", le.Uint16(h[12:]), le.Uint16(h[10:]))
	crc, csize, usize := le.Uint32(h[14:]), le.Uint32(h[18:]), le.Uint32(h[22:])
	switch {
	case flags&8 != 0 && crc == 0 && csize == 0 && usize == 0:
		// sizes follow the data, in the descriptor
	case crc == f.CRC32 && (csize == uint32(f.CompressedSize64) || csize == 0xffffffff) && (usize == uint32(f.UncompressedSize64) || usize == 0xffffffff):
	default:
		m.add("local header crc and sizes", ClassOther, "crc %#x, sizes %d/%d disagree with the central directory", crc, csize, usize)
	}
	zip64 := false
	for _, x := range splitExtra(lextra) {
		x.Name = "local header " + x.Name
		m.Fields = append(m.Fields, x)
	}
	for b := lextra; len(b) >= 4; {
		id, l := le.Uint16(b), int(le.Uint16(b[2:]))
		zip64 = zip64 || id == 0x0001
		if 4+l > len(b) {
			break
		}
		b = b[4+l:]
	}
	end := dataOff + int64(f.CompressedSize64)
	if end > size {
		return extent{}, fmt.Errorf("read zip %s: member %q: data runs past the end of the file", where, f.Name)
	}
	if flags&8 != 0 {
		d := int64(12)
		if zip64 {
			d = 20
		}
		var sig [4]byte
		if _, err := ra.ReadAt(sig[:], end); err == nil && le.Uint32(sig[:]) == sigDescriptor {
			d += 4
		}
		if end+d <= size {
			end += d
		}
	}
	return extent{start: start, end: end, name: f.Name}, nil
}

// directoryStart finds where the central directory begins.
func directoryStart(ra io.ReaderAt, size int64) (int64, error) {
	tail := min(size, 22+65535)
	buf := make([]byte, tail)
	if _, err := ra.ReadAt(buf, size-tail); err != nil {
		return 0, err
	}
	le := binary.LittleEndian
	for i := len(buf) - 22; i >= 0; i-- {
		if le.Uint32(buf[i:]) != sigEOCD || i+22+int(le.Uint16(buf[i+20:])) != len(buf) {
			continue
		}
		eocd := size - tail + int64(i)
		cdSize, cdOff := int64(le.Uint32(buf[i+12:])), int64(le.Uint32(buf[i+16:]))
		cdEnd := eocd
		if cdSize == 0xffffffff || cdOff == 0xffffffff || le.Uint16(buf[i+10:]) == 0xffff {
			var loc [20]byte
			if eocd < 20 {
				return 0, fmt.Errorf("zip64 locator missing")
			}
			if _, err := ra.ReadAt(loc[:], eocd-20); err != nil || le.Uint32(loc[:]) != sigZip64Loc {
				return 0, fmt.Errorf("zip64 locator missing")
			}
			recOff := int64(le.Uint64(loc[8:]))
			// The record may sit elsewhere when data was prepended; it
			// ends right before the locator.
			var rec [56]byte
			recPos := eocd - 20 - 56
			if recPos < 0 {
				return 0, fmt.Errorf("zip64 end record missing")
			}
			if _, err := ra.ReadAt(rec[:], recPos); err != nil || le.Uint32(rec[:]) != sigZip64EOCD {
				if recOff < 0 || recOff+56 > size {
					return 0, fmt.Errorf("zip64 end record missing")
				}
				recPos = recOff
				if _, err := ra.ReadAt(rec[:], recPos); err != nil || le.Uint32(rec[:]) != sigZip64EOCD {
					return 0, fmt.Errorf("zip64 end record missing")
				}
			}
			cdSize, cdEnd = int64(le.Uint64(rec[40:])), recPos
		}
		if cdSize < 0 || cdSize > cdEnd {
			return 0, fmt.Errorf("central directory size %d does not fit", cdSize)
		}
		return cdEnd - cdSize, nil
	}
	return 0, fmt.Errorf("end of central directory not found")
}

// accountLayout checks that members do not overlap and hashes the bytes
// before the central directory that belong to no member.
func (z *Zip) accountLayout(ra io.ReaderAt, size int64, exts []extent) error {
	cd, err := directoryStart(ra, size)
	if err != nil {
		return fmt.Errorf("read zip %s: %w", z.Where, err)
	}
	sort.Slice(exts, func(i, j int) bool { return exts[i].start < exts[j].start })
	d := digest.SHA256.Digester()
	var pos int64
	hashGap := func(from, to int64) error {
		if to <= from {
			return nil
		}
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(to-from))
		d.Hash().Write(n[:])
		if _, err := io.Copy(d.Hash(), io.NewSectionReader(ra, from, to-from)); err != nil {
			return fmt.Errorf("read zip %s: %w", z.Where, err)
		}
		z.Outside += to - from
		return nil
	}
	for i, e := range exts {
		if i > 0 && e.start < exts[i-1].end {
			return fmt.Errorf("read zip %s: member %q overlaps member %q", z.Where, e.name, exts[i-1].name)
		}
		if e.end > cd {
			return fmt.Errorf("read zip %s: member %q overlaps the central directory", z.Where, e.name)
		}
		if err := hashGap(pos, e.start); err != nil {
			return err
		}
		pos = e.end
	}
	if err := hashGap(pos, cd); err != nil {
		return err
	}
	z.OutsideDigest = d.Digest()
	return nil
}
