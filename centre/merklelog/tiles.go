package merklelog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// TileHeight is C2SP tlog-tiles' tile height: 256 hashes a tile.
const TileHeight = 8

// ErrNoTile is returned for a tile the tree of the given size does not
// (yet) hold.
var ErrNoTile = errors.New("no such tile in the log")

// MaxEntrySize is the largest leaf an entry bundle can carry: C2SP entry
// bundles prefix each entry with a big-endian uint16 length.
const MaxEntrySize = 1<<16 - 1

// width is a tile's width: W, or 256 for a full tile.
func width(t tlog.Tile) int64 {
	if t.W == 0 {
		return 1 << TileHeight
	}
	return int64(t.W)
}

// HasTile reports whether the tree of size size holds tile t: every hash
// (or entry, for level -1) it covers is complete in that tree.
func HasTile(t tlog.Tile, size int64) bool {
	if t.H != TileHeight || t.N < 0 || t.W < 0 || t.W > 1<<TileHeight || t.L < -1 || t.L > 7 {
		return false
	}
	end := t.N<<TileHeight + width(t)
	if t.L == -1 {
		return end <= size
	}
	return end <= size>>(uint(t.L)*TileHeight)
}

// Tile returns a hash tile's bytes (32-byte hashes, left to right), or an
// entry bundle's for level -1, as of tree size size.
func (l *Log) Tile(ctx context.Context, t tlog.Tile, size int64) ([]byte, error) {
	if !HasTile(t, size) {
		return nil, ErrNoTile
	}
	if t.L == -1 {
		return l.entryBundle(ctx, t)
	}
	b, err := tlog.ReadTileData(t, l.Hashes(ctx))
	if err != nil {
		return nil, fmt.Errorf("read tile %s: %w", t.Path(), err)
	}
	return b, nil
}

// entryBundle is C2SP's entry bundle: each leaf after its big-endian
// uint16 length.
func (l *Log) entryBundle(ctx context.Context, t tlog.Tile) ([]byte, error) {
	start := t.N << TileHeight
	leaves, err := l.st.Leaves(ctx, start, start+width(t))
	if err != nil {
		return nil, err
	}
	var b []byte
	for i, leaf := range leaves {
		if len(leaf) > MaxEntrySize {
			return nil, fmt.Errorf("entry bundle: leaf %d is %d bytes, more than an entry bundle holds", start+int64(i), len(leaf))
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(leaf)))
		b = append(b, leaf...)
	}
	return b, nil
}

// SplitEntryBundle is the inverse of an entry bundle: the leaves, which
// must number want.
func SplitEntryBundle(b []byte, want int) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, errors.New("entry bundle: truncated length")
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, errors.New("entry bundle: truncated entry")
		}
		out = append(out, b[2:2+n])
		b = b[2+n:]
	}
	if len(out) != want {
		return nil, fmt.Errorf("entry bundle: %d entries, want %d", len(out), want)
	}
	return out, nil
}
