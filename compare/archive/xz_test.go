package archive_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/reprove/reprove/compare/archive"
	"github.com/reprove/reprove/compare/fixture"
	"github.com/reprove/reprove/compare/format"
)

func TestXzFirstBlock(t *testing.T) {
	small := bytes.Repeat([]byte("control file\n"), 100)
	one := fixture.Xz(small)
	tests := []struct {
		name string
		data []byte
		want int64
	}{
		{"one stream", one, int64(len(small))},
		{"two streams", append(bytes.Clone(one), one...), 0},
		{"stream padding", append(bytes.Clone(one), 0, 0, 0, 0), 0},
		{"truncated", one[:len(one)-1], 0},
		{"not xz", fixture.Gzip(small, fixture.Epoch, 6), 0},
		{"empty", nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := archive.XzFirstBlock(bytes.NewReader(tc.data), int64(len(tc.data))); got != tc.want {
				t.Errorf("XzFirstBlock = %d, want %d", got, tc.want)
			}
		})
	}
}

// decompress reads all of data (xz) with the first block said to expand
// to first bytes, and reports the bytes allocated meanwhile.
func decompress(t *testing.T, data []byte, first int64) ([]byte, uint64, error) {
	t.Helper()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	rc, err := archive.DecompressSized(bytes.NewReader(data), format.Xz, "t.xz", archive.NewBudget(archive.Limits{}), first)
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	out, err := io.ReadAll(rc)
	runtime.ReadMemStats(&m1)
	return out, m1.TotalAlloc - m0.TotalAlloc, err
}

// A small stream is decoded with a dictionary of its size, not the 8 MiB
// its header asks for.
func TestXzSmallDictionary(t *testing.T) {
	small := bytes.Repeat([]byte("Package: x\nVersion: 1\n"), 50)
	data := fixture.Xz(small)
	first := archive.XzFirstBlock(bytes.NewReader(data), int64(len(data)))
	got, alloc, err := decompress(t, data, first)
	if err != nil || !bytes.Equal(got, small) {
		t.Fatalf("decompressed %d bytes (want %d), err %v", len(got), len(small), err)
	}
	if alloc > 2<<20 {
		t.Errorf("allocated %d bytes to decompress %d", alloc, len(small))
	}
	if _, alloc, _ := decompress(t, data, 0); alloc < 8<<20 {
		t.Errorf("without a size, allocated %d bytes; want the header's 8 MiB (is the test still measuring?)", alloc)
	}
}

// An index that understates the size (so a dictionary too small) ends in
// an error, never in other content.
func TestXzSizeUnderstated(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	block := make([]byte, 16<<10)
	for i := range block {
		block[i] = byte(rng.IntN(256))
	}
	content := append(bytes.Clone(block), block...) // a match 16 KiB back
	data := fixture.Xz(content)
	got, _, err := decompress(t, data, 1)
	if err == nil && !bytes.Equal(got, content) {
		t.Fatal("decompressed other content without an error")
	}
	if err == nil {
		t.Fatal("decompressed with a 4 KiB dictionary a match 16 KiB back")
	}
}

// A first block header whose CRC32 does not match is refused as before:
// shrinking its dictionary must not write a CRC that vouches for it.
func TestXzDamagedHeaderRefused(t *testing.T) {
	small := bytes.Repeat([]byte("Package: x\nVersion: 1\n"), 50)
	data := fixture.Xz(small)
	first := archive.XzFirstBlock(bytes.NewReader(data), int64(len(data)))
	if first == 0 {
		t.Fatal("XzFirstBlock = 0 for a one-stream file")
	}
	header := (int(data[12]) + 1) * 4
	damaged := bytes.Clone(data)
	damaged[12+header-1] ^= 0xff // the header's CRC32
	for _, sized := range []int64{0, first} {
		if out, _, err := decompress(t, damaged, sized); err == nil {
			t.Errorf("first block %d: a damaged block header decoded to %d bytes, want an error", sized, len(out))
		}
	}
}
