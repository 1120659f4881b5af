package api

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/tlog"
)

func TestTilePath(t *testing.T) {
	tests := []struct {
		tile tlog.Tile
		path string
	}{
		{tlog.Tile{H: 8, L: 0, N: 0, W: 256}, "tile/0/000"},
		{tlog.Tile{H: 8, L: 0, N: 1234067, W: 256}, "tile/0/x001/x234/067"},
		{tlog.Tile{H: 8, L: 2, N: 5, W: 17}, "tile/2/005.p/17"},
		{tlog.Tile{H: 8, L: -1, N: 0, W: 256}, "tile/entries/000"},
		{tlog.Tile{H: 8, L: -1, N: 1000, W: 3}, "tile/entries/x001/000.p/3"},
	}
	for _, tt := range tests {
		if got := TilePath(tt.tile); got != tt.path {
			t.Errorf("TilePath(%+v) = %q, want %q", tt.tile, got, tt.path)
		}
		got, err := ParseTilePath(tt.path)
		if err != nil {
			t.Errorf("ParseTilePath(%q): %v", tt.path, err)
			continue
		}
		if diff := cmp.Diff(tt.tile, got); diff != "" {
			t.Errorf("ParseTilePath(%q) (-want +got):\n%s", tt.path, diff)
		}
	}
	for _, bad := range []string{"tile/8/0/000", "tile/data/000", "tile/0/0", "tile/0/000.p/256", "tile/0/000.p/0",
		"tile/0/1000", "tile/00/000", "tile/entries/000.p/", "tile/-1/000", "checkpoint", "tile/0/x000/001"} {
		if _, err := ParseTilePath(bad); err == nil {
			t.Errorf("ParseTilePath(%q) accepted", bad)
		}
	}
}

func FuzzParseTilePath(f *testing.F) {
	f.Add("tile/0/x001/x234/067")
	f.Add("tile/entries/000.p/3")
	f.Add("tile/8/0/000")
	f.Fuzz(func(t *testing.T, p string) {
		tile, err := ParseTilePath(p)
		if err != nil {
			return
		}
		if TilePath(tile) != p {
			t.Fatalf("%q parses as %+v, which prints as %q", p, tile, TilePath(tile))
		}
	})
}
