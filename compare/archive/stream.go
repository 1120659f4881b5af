package archive

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/reprove/reprove/compare/format"
	"github.com/ulikunitz/xz"
)

// Stream describes a compressed stream's own header.
type Stream struct {
	Format format.Format
	// Header lists the header fields (gzip only: the other formats carry
	// nothing but decoding parameters, which Payload covers).
	Header []Field
	// HeaderLen is where the compressed payload starts.
	HeaderLen int64
}

// Decompress returns the decompressed content of r (of format f), metered
// against b. The caller must Close it.
func Decompress(r io.Reader, f format.Format, where string, b *Budget) (io.ReadCloser, error) {
	return DecompressSized(r, f, where, b, 0)
}

// DecompressSized is Decompress for a stream whose first xz block is said
// to expand to firstBlock bytes (XzFirstBlock reads that from the stream's
// index; 0: not known). The xz decoder then holds a dictionary of that
// size when it is smaller than the one the block header asks for, as it
// needs no more: xz -6 asks for 8 MiB, which the decoder allocates and
// clears even for a .deb's control archive of a few kilobytes. An index
// that understates the size makes the decoder fail (a match reaching past
// its dictionary, or the index checked at the end of the stream), as that
// index would have anyway.
func DecompressSized(r io.Reader, f format.Format, where string, b *Budget, firstBlock int64) (io.ReadCloser, error) {
	in := &countingReader{r: r}
	br := bufio.NewReaderSize(in, 64<<10)
	var d io.Reader
	closer := func() error { return nil }
	switch f {
	case format.Gzip:
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read gzip header of %s: %w", where, err)
		}
		d, closer = z, z.Close
	case format.Bzip2:
		d = bzip2.NewReader(br)
	case format.Xz:
		var xr io.Reader = br
		dict, err := checkXzWindow(br, where, b.Limits.MaxWindow)
		if err != nil {
			return nil, err
		}
		if dict.at > 0 && firstBlock > 0 && firstBlock < dict.size {
			if xr, err = dict.shrink(br, firstBlock); err != nil {
				return nil, fmt.Errorf("read xz header of %s: %w", where, err)
			}
		}
		z, err := xz.NewReader(xr)
		if err != nil {
			return nil, fmt.Errorf("read xz header of %s: %w", where, err)
		}
		d = z
	case format.Zstd:
		z, err := zstd.NewReader(br,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(uint64(b.Limits.MaxWindow)),
			zstd.WithDecoderMaxMemory(uint64(b.Limits.MaxExpanded)))
		if err != nil {
			return nil, fmt.Errorf("read zstd header of %s: %w", where, err)
		}
		d, closer = z, func() error { z.Close(); return nil }
	default:
		return nil, fmt.Errorf("decompress %s: %v is not a compression format", where, f)
	}
	m := &meter{r: d, in: in, b: b, where: where}
	return &readCloser{Reader: errWrap{m, f, where}, close: closer}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r *readCloser) Close() error { return r.close() }

// errWrap names the stream in decoding errors, so that a truncated file is
// reported as "decompress gzip stream of X: unexpected EOF".
type errWrap struct {
	r     io.Reader
	f     format.Format
	where string
}

func (e errWrap) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && !IsLimit(err) {
		err = fmt.Errorf("decompress %v stream of %s: %w", e.f, e.where, err)
	}
	return n, err
}

// checkXzWindow refuses an xz stream whose first block asks for a
// dictionary larger than max. github.com/ulikunitz/xz allocates the
// dictionary a block header declares before reading any data and offers no
// cap, so we read that one byte ourselves (xz file format 1.0.4, §3.1 and
// §5.3.1); later blocks of files made by xz-utils use the same size.
//
// It returns the first block's dictionary: its size, and where its
// property byte is (0 when there is none to be read).
func checkXzWindow(br *bufio.Reader, where string, max int64) (xzDict, error) {
	var none xzDict
	h, err := br.Peek(12 + 1 + 1)
	if err != nil {
		return none, nil // let the decoder report the short header
	}
	size := (int(h[12]) + 1) * 4
	bh, err := br.Peek(12 + size)
	if err != nil || size < 8 {
		return none, nil
	}
	bh = bh[12:]
	flags := bh[1]
	p := 2
	varint := func() (uint64, bool) {
		v, n := binary.Uvarint(bh[p:])
		if n <= 0 {
			return 0, false
		}
		p += n
		return v, true
	}
	if flags&0x40 != 0 {
		if _, ok := varint(); !ok {
			return none, nil
		}
	}
	if flags&0x80 != 0 {
		if _, ok := varint(); !ok {
			return none, nil
		}
	}
	nfilters := int(flags&3) + 1
	for i := 0; i < nfilters; i++ {
		id, ok := varint()
		if !ok {
			return none, nil
		}
		psize, ok := varint()
		if !ok || p+int(psize) > len(bh) {
			return none, nil
		}
		if id == 0x21 && psize == 1 {
			bits := bh[p] & 0x3f
			if bits > 40 {
				return none, fmt.Errorf("read xz header of %s: invalid dictionary size", where)
			}
			var dict int64 = 0xffffffff
			if bits < 40 {
				dict = int64(2|bits&1) << (bits/2 + 11)
			}
			if dict > max {
				return none, &LimitError{Limit: "decompressor window (xz dictionary)", Where: where, Max: max}
			}
			if i == nfilters-1 {
				// LZMA2 comes last; a filter before it (BCJ) has its
				// own state.
				return xzDict{size: dict, at: 12 + p, header: size}, nil
			}
		}
		p += int(psize)
	}
	return none, nil
}

// xzDict is the dictionary an xz stream's first block asks for: its size,
// where its LZMA2 property byte is in the stream, and the length of the
// block header holding it.
type xzDict struct {
	size       int64
	at, header int
}

// shrink returns the stream br begins, its first block header asking for a
// dictionary of at least n bytes (the smallest size LZMA2 can say; 4 KiB
// at least) instead: the byte changed and the header's CRC32 made anew.
func (d xzDict) shrink(br *bufio.Reader, n int64) (io.Reader, error) {
	h, err := br.Peek(12 + d.header)
	if err != nil {
		return nil, err
	}
	if h[d.at]&0xc0 != 0 {
		return br, nil // reserved bits set: the decoder refuses the header
	}
	if block := h[12:]; crc32.ChecksumIEEE(block[:len(block)-4]) != binary.LittleEndian.Uint32(block[len(block)-4:]) {
		// A damaged header stays as it is, for the decoder to refuse: the
		// CRC made anew below must never vouch for bytes nobody checked.
		return br, nil
	}
	bits := byte(0)
	for bits < 40 && int64(2|bits&1)<<(bits/2+11) < n {
		bits++
	}
	if bits >= h[d.at] {
		return br, nil
	}
	head := bytes.Clone(h)
	head[d.at] = bits
	block := head[12:]
	binary.LittleEndian.PutUint32(block[len(block)-4:], crc32.ChecksumIEEE(block[:len(block)-4]))
	if _, err := br.Discard(len(head)); err != nil {
		return nil, err
	}
	return io.MultiReader(bytes.NewReader(head), br), nil
}

// XzFirstBlock returns how many bytes the first block of the xz stream in
// r (size bytes) expands to, as the stream's index says, when r holds
// exactly one stream (xz file format 1.0.4, §2.1.2 and §4); 0 otherwise.
func XzFirstBlock(r io.ReaderAt, size int64) int64 {
	var foot [12]byte
	if size < 2*12 {
		return 0
	}
	if _, err := r.ReadAt(foot[:], size-12); err != nil || foot[10] != 'Y' || foot[11] != 'Z' {
		return 0
	}
	indexSize := (int64(binary.LittleEndian.Uint32(foot[4:8])) + 1) * 4
	if indexSize > 1<<20 || indexSize > size-2*12 {
		return 0
	}
	index := make([]byte, indexSize)
	if _, err := r.ReadAt(index, size-12-indexSize); err != nil || index[0] != 0 {
		return 0
	}
	p := 1
	varint := func() (uint64, bool) {
		v, n := binary.Uvarint(index[p : len(index)-4])
		if n <= 0 {
			return 0, false
		}
		p += n
		return v, true
	}
	records, ok := varint()
	if !ok || records == 0 {
		return 0
	}
	var blocks, first uint64
	for i := uint64(0); i < records; i++ {
		unpadded, ok := varint()
		if !ok {
			return 0
		}
		expanded, ok := varint()
		if !ok {
			return 0
		}
		if i == 0 {
			first = expanded
		}
		blocks += (unpadded + 3) &^ 3
		if blocks > uint64(size) {
			return 0
		}
	}
	if 12+int64(blocks)+indexSize+12 != size || first > 1<<62 {
		return 0 // more than one stream, or padding after it
	}
	return int64(first)
}

// ReadGzipHeader reads a gzip member header from r and returns its fields
// and length. compress/gzip decodes the same header but hides the extra
// flags byte and where the header ends, both needed to say whether two
// streams differ in their header or in their compressed payload
// (RFC 1952 §2.3).
func ReadGzipHeader(r io.Reader) (*Stream, error) {
	br := bufio.NewReader(r)
	var fixed [10]byte
	if _, err := io.ReadFull(br, fixed[:]); err != nil {
		return nil, fmt.Errorf("read gzip header: %w", err)
	}
	if fixed[0] != 0x1f || fixed[1] != 0x8b || fixed[2] != 8 {
		return nil, errors.New("read gzip header: not a deflate gzip stream")
	}
	flg := fixed[3]
	s := &Stream{Format: format.Gzip, HeaderLen: 10}
	mtime := binary.LittleEndian.Uint32(fixed[4:8])
	field := func(name, format string, args ...any) {
		s.Header = append(s.Header, Field{Name: name, Class: ClassHeader, Value: fmt.Sprintf(format, args...)})
	}
	mt := "0 (none)"
	if mtime != 0 {
		mt = fmt.Sprintf("%d (%s)", mtime, time.Unix(int64(mtime), 0).UTC().Format(time.RFC3339))
	}
	field("gzip mtime", "%s", mt)
	field("gzip flags", "%#02x", flg&^0x1e) // FTEXT and reserved bits; the rest show as fields
	field("gzip extra flags", "%d", fixed[8])
	field("gzip os", "%d", fixed[9])
	if flg&0x04 != 0 {
		var l [2]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			return nil, fmt.Errorf("read gzip extra field: %w", err)
		}
		n := int(binary.LittleEndian.Uint16(l[:]))
		extra := make([]byte, n)
		if _, err := io.ReadFull(br, extra); err != nil {
			return nil, fmt.Errorf("read gzip extra field: %w", err)
		}
		field("gzip extra", "%x", extra)
		s.HeaderLen += 2 + int64(n)
	}
	cstring := func(what string) (string, error) {
		b, err := br.ReadBytes(0)
		if err != nil {
			return "", fmt.Errorf("read gzip %s: %w", what, err)
		}
		if len(b) > 64<<10 {
			return "", fmt.Errorf("read gzip %s: longer than 64 KiB", what)
		}
		s.HeaderLen += int64(len(b))
		return string(b[:len(b)-1]), nil
	}
	if flg&0x08 != 0 {
		name, err := cstring("file name")
		if err != nil {
			return nil, err
		}
		field("gzip name", "%q", name)
	}
	if flg&0x10 != 0 {
		c, err := cstring("comment")
		if err != nil {
			return nil, err
		}
		field("gzip comment", "%q", c)
	}
	if flg&0x02 != 0 {
		var crc [2]byte
		if _, err := io.ReadFull(br, crc[:]); err != nil {
			return nil, fmt.Errorf("read gzip header crc: %w", err)
		}
		field("gzip header crc", "%x", crc)
		s.HeaderLen += 2
	}
	return s, nil
}
