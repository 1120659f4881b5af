// Package format recognises what a blob of bytes is from its first bytes, so
// that compare can pick the structural comparison that explains a
// difference. Extensions are never trusted: a renamed file is still found.
package format

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// Format is the kind of content found by Detect. It marshals to its name.
type Format int

// Formats, from outermost wrapper to leaf content.
const (
	Unknown Format = iota // bytes with no structure we model
	Empty                 // zero length
	Text                  // UTF-8 text without NUL bytes
	Gzip
	Bzip2
	Xz
	Zstd
	Tar
	Zip
	Ar // Unix ar, the container of Debian .deb packages
	ELF
	PE
	MachO
)

var names = [...]string{
	Unknown: "data",
	Empty:   "empty",
	Text:    "text",
	Gzip:    "gzip",
	Bzip2:   "bzip2",
	Xz:      "xz",
	Zstd:    "zstd",
	Tar:     "tar",
	Zip:     "zip",
	Ar:      "ar",
	ELF:     "elf",
	PE:      "pe",
	MachO:   "macho",
}

func (f Format) String() string {
	if f >= 0 && int(f) < len(names) {
		return names[f]
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// MarshalText implements encoding.TextMarshaler.
func (f Format) MarshalText() ([]byte, error) {
	if f < 0 || int(f) >= len(names) {
		return nil, fmt.Errorf("marshal format: invalid value %d", int(f))
	}
	return []byte(names[f]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (f *Format) UnmarshalText(b []byte) error {
	for i, n := range names {
		if string(b) == n {
			*f = Format(i)
			return nil
		}
	}
	return fmt.Errorf("unmarshal format: unknown format %q", b)
}

// Compressed reports whether f is a compression wrapper around one stream.
func (f Format) Compressed() bool {
	return f == Gzip || f == Bzip2 || f == Xz || f == Zstd
}

// Archive reports whether f holds named members.
func (f Format) Archive() bool { return f == Tar || f == Zip || f == Ar }

// Executable reports whether f is an object format with sections.
func (f Format) Executable() bool { return f == ELF || f == PE || f == MachO }

// HeadSize is how many leading bytes Detect wants to see.
const HeadSize = 8192

// Detect names the format of a blob from its first bytes (up to HeadSize)
// and its total size.
func Detect(head []byte, size int64) Format {
	switch {
	case size == 0:
		return Empty
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return Gzip
	case bytes.HasPrefix(head, []byte("BZh")) && len(head) > 3 && head[3] >= '1' && head[3] <= '9':
		return Bzip2
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return Xz
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return Zstd
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return Zip
	case bytes.HasPrefix(head, []byte("!<arch>\n")):
		return Ar
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		return ELF
	case isPE(head):
		return PE
	case isMachO(head):
		return MachO
	case isTar(head):
		return Tar
	case isText(head):
		return Text
	}
	return Unknown
}

func isPE(b []byte) bool {
	if len(b) < 0x40 || b[0] != 'M' || b[1] != 'Z' {
		return false
	}
	off := binary.LittleEndian.Uint32(b[0x3c:])
	if uint64(off)+4 > uint64(len(b)) {
		return false
	}
	return bytes.Equal(b[off:off+4], []byte("PE\x00\x00"))
}

func isMachO(b []byte) bool {
	if len(b) < 8 {
		return false
	}
	switch binary.BigEndian.Uint32(b) {
	case 0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe:
		return true
	case 0xcafebabe:
		// Java class files share this magic; a fat Mach-O header is followed
		// by a small architecture count where a class file has its version
		// (major ≥ 45).
		return binary.BigEndian.Uint32(b[4:]) < 32
	}
	return false
}

// isTar checks the ustar magic, or else the header checksum, which old V7
// archives have without any magic.
func isTar(b []byte) bool {
	if len(b) < 512 {
		return false
	}
	if bytes.Equal(b[257:262], []byte("ustar")) {
		return true
	}
	stored := parseOctal(b[148:156])
	if stored < 0 {
		return false
	}
	var sum int64
	for i, c := range b[:512] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int64(c)
	}
	return sum == stored && b[0] != 0
}

func parseOctal(b []byte) int64 {
	b = bytes.Trim(b, " \x00")
	if len(b) == 0 {
		return -1
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '7' {
			return -1
		}
		n = n*8 + int64(c-'0')
	}
	return n
}

func isText(b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return false
	}
	// The head may end in the middle of a multi-byte rune.
	for i := 0; i < 3 && len(b) > 0 && !utf8.Valid(b); i++ {
		b = b[:len(b)-1]
	}
	return utf8.Valid(b)
}
