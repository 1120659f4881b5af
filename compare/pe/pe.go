// Package pe locates the fields of a PE (Windows) image that legitimately
// differ between a rebuild and a signed release — the COFF timestamp, the
// optional-header checksum and the Authenticode certificate table — and
// gives a view of the image with them removed, so compare can check that
// nothing else differs. It also reports who signed the image.
//
// Offsets come from the PE/COFF specification (Microsoft, "PE Format"):
// debug/pe parses the same headers but does not return where fields lie in
// the file, which is what patching needs.
package pe

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
)

// Layout is where the normalizable fields of one PE image lie.
type Layout struct {
	Size         int64
	TimestampOff int64
	Timestamp    uint32
	ChecksumOff  int64
	Checksum     uint32
	// CertDirOff is the offset of the certificate-table data-directory
	// entry (8 bytes), or -1 when the image has no such entry.
	CertDirOff int64
	// CertOff and CertSize locate the certificate table (a file offset,
	// unlike the other directories); both 0 when unsigned.
	CertOff, CertSize int64
}

// Signed reports whether the image carries a certificate table.
func (l *Layout) Signed() bool { return l.CertSize > 0 }

// ReadLayout reads the headers of the PE image in ra.
func ReadLayout(ra io.ReaderAt, size int64) (*Layout, error) {
	read := func(off int64, n int) ([]byte, error) {
		if off < 0 || off+int64(n) > size {
			return nil, fmt.Errorf("read pe headers: offset %d+%d beyond the end of the file (%d bytes)", off, n, size)
		}
		b := make([]byte, n)
		if _, err := ra.ReadAt(b, off); err != nil {
			return nil, fmt.Errorf("read pe headers at offset %d: %w", off, err)
		}
		return b, nil
	}
	dos, err := read(0, 64)
	if err != nil {
		return nil, err
	}
	peOff := int64(binary.LittleEndian.Uint32(dos[0x3c:]))
	coff, err := read(peOff, 24)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(coff[:4], []byte("PE\x00\x00")) {
		return nil, fmt.Errorf("read pe headers: no PE signature at offset %d", peOff)
	}
	l := &Layout{Size: size, CertDirOff: -1, TimestampOff: peOff + 8}
	l.Timestamp = binary.LittleEndian.Uint32(coff[8:])
	optSize := int(binary.LittleEndian.Uint16(coff[20:]))
	optOff := peOff + 24
	if optSize < 2 {
		return l, nil // an object file: no optional header
	}
	opt, err := read(optOff, optSize)
	if err != nil {
		return nil, err
	}
	var dirs int // offset of the data directories inside the optional header
	switch binary.LittleEndian.Uint16(opt) {
	case 0x10b: // PE32
		dirs = 96
	case 0x20b: // PE32+
		dirs = 112
	default:
		return nil, fmt.Errorf("read pe headers: unknown optional header magic %#x", binary.LittleEndian.Uint16(opt))
	}
	if optSize < 68 || dirs > optSize {
		return nil, fmt.Errorf("read pe headers: optional header too short (%d bytes)", optSize)
	}
	l.ChecksumOff = optOff + 64
	l.Checksum = binary.LittleEndian.Uint32(opt[64:])
	n := binary.LittleEndian.Uint32(opt[dirs-4:])
	const certDir = 4
	if n > certDir && dirs+8*(certDir+1) <= optSize {
		l.CertDirOff = optOff + int64(dirs+8*certDir)
		off := int64(binary.LittleEndian.Uint32(opt[dirs+8*certDir:]))
		sz := int64(binary.LittleEndian.Uint32(opt[dirs+8*certDir+4:]))
		if sz > 0 {
			if off <= optOff+int64(optSize) || off > size || sz > size-off {
				return nil, fmt.Errorf("read pe headers: certificate table at %d+%d lies outside the file (%d bytes)", off, sz, size)
			}
			if off+sz != size {
				// Data after the signature is not covered by it and could
				// hide anything: refuse to treat the table as removable.
				return nil, fmt.Errorf("read pe headers: certificate table at %d+%d is not at the end of the file (%d bytes)", off, sz, size)
			}
			l.CertOff, l.CertSize = off, sz
		}
	}
	return l, nil
}

// Strip says which fields View removes.
type Strip struct {
	Timestamp bool // zero the COFF timestamp
	Checksum  bool // zero the optional-header checksum
	Signature bool // zero the certificate directory entry and cut the table
	// PadTo extends the view with zero bytes up to this length: signing
	// pads an image to 8 bytes before appending the table, so an unsigned
	// image is padded when compared with a signed one.
	PadTo int64
}

// View returns the image with the chosen fields removed, as a stream. It
// holds nothing in memory beyond the patches.
func View(ra io.ReaderAt, l *Layout, s Strip) (io.Reader, int64) {
	end := l.Size
	var patches []patch
	if s.Timestamp {
		patches = append(patches, patch{l.TimestampOff, 4})
	}
	if s.Checksum && l.ChecksumOff > 0 {
		patches = append(patches, patch{l.ChecksumOff, 4})
	}
	if s.Signature && l.CertDirOff >= 0 {
		patches = append(patches, patch{l.CertDirOff, 8})
		if l.Signed() {
			end = l.CertOff
		}
	}
	sort.Slice(patches, func(i, j int) bool { return patches[i].off < patches[j].off })
	var parts []io.Reader
	pos := int64(0)
	for _, p := range patches {
		if p.off < pos || p.off+p.n > end {
			continue
		}
		parts = append(parts, io.NewSectionReader(ra, pos, p.off-pos), bytes.NewReader(make([]byte, p.n)))
		pos = p.off + p.n
	}
	parts = append(parts, io.NewSectionReader(ra, pos, end-pos))
	if s.PadTo > end {
		parts = append(parts, bytes.NewReader(make([]byte, s.PadTo-end)))
		end = s.PadTo
	}
	return io.MultiReader(parts...), end
}

type patch struct{ off, n int64 }

// PaddingOK reports whether the signed image's bytes between unsignedLen
// and its certificate table are at most 7 zero bytes, the alignment
// padding signing adds.
func PaddingOK(ra io.ReaderAt, signed *Layout, unsignedLen int64) bool {
	gap := signed.CertOff - unsignedLen
	if gap < 0 || gap > 7 {
		return false
	}
	b := make([]byte, gap)
	if _, err := ra.ReadAt(b, unsignedLen); err != nil {
		return false
	}
	return bytes.Count(b, []byte{0}) == len(b)
}
