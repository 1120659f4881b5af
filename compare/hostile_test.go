package compare_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprove/reprove/compare"
	"github.com/reprove/reprove/compare/archive"
	"github.com/reprove/reprove/compare/fixture"
	"github.com/reprove/reprove/compare/verdict"
)

// Each hostile input must end in one clear error naming what and where,
// never in a verdict.
func TestHostileInput(t *testing.T) {
	good := fixture.Tar(M{Name: "a", Body: []byte("a")})
	zeros := bytes.Repeat([]byte{0}, 64<<20)
	bomb := fixture.Gzip(fixture.Tar(M{Name: "zeros", Body: zeros}), fixture.Epoch, 9)
	nest := []byte("core")
	for i := 0; i < 12; i++ {
		nest = fixture.Gzip(nest, fixture.Epoch, 1)
	}
	nest2 := []byte("core2")
	for i := 0; i < 12; i++ {
		nest2 = fixture.Gzip(nest2, fixture.Epoch, 1)
	}

	truncated := fixture.Gzip(fixture.Tar(M{Name: "big", Body: bytes.Repeat([]byte("0123456789"), 10000)}), fixture.Epoch, 6)
	truncated = truncated[:len(truncated)/2]

	goodZip := fixture.Zip(6, M{Name: "a", Body: []byte("a")})
	goodAr := fixture.Ar(M{Name: "a", Body: []byte("a")})
	goodGz := fixture.Gzip(good, fixture.Epoch, 6)
	tests := []struct {
		name    string
		rebuilt []byte
		shipped []byte
		limits  compare.Limits
		want    string // in the error
		limit   bool   // a *archive.LimitError
	}{
		{name: "dotdot", shipped: fixture.Tar(M{Name: "../../etc/passwd", Body: []byte("x")}), want: `refused member "../../etc/passwd": path escapes the archive root`},
		{name: "absolute", shipped: fixture.Tar(M{Name: "/etc/passwd", Body: []byte("x")}), want: `refused member "/etc/passwd": absolute path`},
		{name: "symlink escape", shipped: fixture.Tar(M{Name: "a", Type: tar.TypeSymlink, Link: "/etc"}, M{Name: "a/passwd", Body: []byte("x")}),
			want: `refused member "a/passwd": path goes through symlink member "a"`},
		{name: "zip dotdot", rebuilt: goodZip, shipped: fixture.Zip(6, M{Name: "../x", Body: []byte("x")}), want: `refused member "../x"`},
		{name: "ar dotdot", rebuilt: goodAr, shipped: fixture.Ar(M{Name: "../x", Body: []byte("x")}), want: `refused member "../x"`},
		{name: "truncated tar.gz", rebuilt: goodGz, shipped: truncated, want: "unexpected EOF"},
		{name: "truncated tar", shipped: fixture.Tar(M{Name: "a", Body: bytes.Repeat([]byte("a"), 5000)})[:2048], want: "truncated archive"},
		{name: "truncated zip", rebuilt: goodZip, shipped: fixture.Zip(6, M{Name: "a", Body: []byte("a")})[:40], want: "shipped"},
		{name: "truncated ar", rebuilt: goodAr, shipped: fixture.Ar(M{Name: "a", Body: []byte("abcdef")})[:70], want: "truncated archive"},
		{name: "compression ratio", rebuilt: goodGz, shipped: bomb, want: "compression ratio exceeds the limit of 1000", limit: true},
		{name: "expanded size", rebuilt: goodGz, shipped: bomb, limits: compare.Limits{MaxExpanded: 1 << 20}, want: "expanded size exceeds the limit of 1048576", limit: true},
		{name: "member count", shipped: fixture.Tar(M{Name: "a"}, M{Name: "b"}, M{Name: "c"}), limits: compare.Limits{MaxEntries: 2}, want: "member count exceeds the limit of 2", limit: true},
		{name: "xz window", rebuilt: fixture.XzDict([]byte("a"), 64<<10), shipped: fixture.Xz([]byte("b")), limits: compare.Limits{MaxWindow: 1 << 20},
			want: "decompressor window (xz dictionary) exceeds the limit of 1048576", limit: true},
		{name: "zstd window", rebuilt: fixture.Zstd([]byte("a")), shipped: fixture.Zstd(bytes.Repeat([]byte("b"), 4<<20)),
			limits: compare.Limits{MaxWindow: 1 << 10}, want: "decompress zstd stream of"},
		{name: "depth", rebuilt: nest, shipped: nest2, want: "nesting depth exceeds the limit of 8", limit: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rebuilt := good
			if tc.rebuilt != nil {
				rebuilt = tc.rebuilt
			}
			r, err := compareBytes(t, rebuilt, tc.shipped, compare.Options{Limits: tc.limits, Normalizers: verdict.NormalizerNames()})
			if err == nil {
				t.Fatalf("got verdict %v, want an error containing %q", r.Verdict, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to contain %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "shipped") {
				t.Errorf("error = %q does not name the shipped file", err)
			}
			if tc.limit != archive.IsLimit(err) {
				t.Errorf("IsLimit(%v) = %v, want %v", err, !tc.limit, tc.limit)
			}
		})
	}
}

// Members equal by digest are never opened: a member whose (identical)
// compressed bytes are not valid deflate would fail if it were.
func TestEqualMembersNotOpened(t *testing.T) {
	z := fixture.Zip(6, M{Name: "broken", Body: bytes.Repeat([]byte("payload "), 100)}, M{Name: "other", Body: []byte("1")})
	// Corrupt the first member's deflate stream (it starts right after the
	// 30-byte local header and the 6-byte name).
	z[30+6] ^= 0xff
	z[30+7] ^= 0xff
	z2 := fixture.Zip(6, M{Name: "broken", Body: bytes.Repeat([]byte("payload "), 100)}, M{Name: "other", Body: []byte("2")})
	copy(z2[:36+2], z[:36+2])
	r, err := compareBytes(t, z, z2, compare.Options{})
	if err != nil {
		t.Fatalf("compare opened an equal member: %v", err)
	}
	if got := leaves(r); len(got) != 1 || !strings.HasPrefix(got[0], "other/") {
		t.Errorf("leaves = %q, want only other/…", got)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a", []byte("a"))
	if _, err := compare.Files(t.Context(), a, filepath.Join(dir, "missing"), compare.Options{}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: err = %v", err)
	}
	if _, err := compare.Files(t.Context(), a, dir, compare.Options{}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: err = %v", err)
	}
	var unk *verdict.UnknownNormalizerError
	if _, err := compare.Files(t.Context(), a, a, compare.Options{Normalizers: []string{"archive-mtimes"}}); !errors.As(err, &unk) {
		t.Errorf("unknown normalizer: err = %v", err)
	}
	// A cancelled context stops the comparison with an error.
	big := fixture.Gzip(bytes.Repeat([]byte("x"), 1<<20), fixture.Epoch, 1)
	b := writeFile(t, dir, "b.gz", big)
	c := writeFile(t, dir, "c.gz", fixture.Gzip(bytes.Repeat([]byte("y"), 1<<20), fixture.Epoch, 1))
	ctx, cancel := contextWithCancel(t)
	cancel()
	if _, err := compare.Files(ctx, b, c, compare.Options{}); err == nil {
		t.Errorf("cancelled context: no error")
	}
	// Nothing is left in the private directory.
	tmp := t.TempDir()
	big1 := fixture.Gzip(fixture.Tar(M{Name: "f", Body: bytes.Repeat([]byte("a\n"), 2<<20)}), fixture.Epoch, 1)
	big2 := fixture.Gzip(fixture.Tar(M{Name: "f", Body: bytes.Repeat([]byte("b\n"), 2<<20)}), fixture.Epoch, 1)
	if _, err := compare.Files(t.Context(), writeFile(t, dir, "x.tgz", big1), writeFile(t, dir, "y.tgz", big2), compare.Options{TempDir: tmp}); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("left behind in TempDir: %v", ents)
	}
	_ = gzip.BestSpeed
}

// Zips whose central directories agree can still extract differently with
// a streaming extractor; those differences are never normalized.
func TestZipLayout(t *testing.T) {
	base := []M{{Name: "a.txt", Body: []byte("a\n")}, {Name: "b.txt", Body: []byte("b\n")}}
	later := []M{{Name: "a.txt", Body: []byte("a\n"), Mtime: t1}, {Name: "b.txt", Body: []byte("b\n"), Mtime: t1}}
	renamed := fixture.Zip(6, base...)
	renamed[30] = 'x' // the first local header now names "x.txt"
	tests := []struct {
		name string
		a, b []byte
		want []string
	}{
		{"prefix", fixture.Zip(6, base...), append([]byte("PK\x03\x04hidden"), fixture.Zip(6, later...)...),
			[]string{"data outside members: bytes", "a.txt/times: mtime (archive-mtime)", "b.txt/times: mtime (archive-mtime)"}},
		{"local name", fixture.Zip(6, base...), renamed, []string{"a.txt/local header name: metadata"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := compareBytes(t, tc.a, tc.b, compare.Options{Normalizers: verdict.NormalizerNames()})
			if err != nil {
				t.Fatal(err)
			}
			if r.Verdict != verdict.Different {
				t.Errorf("verdict = %v, want different", r.Verdict)
			}
			if diff := cmp.Diff(sorted(tc.want), leaves(r)); diff != "" {
				t.Errorf("leaves (-want +got):\n%s", diff)
			}
		})
	}
}

// Data after a tar's end-of-archive marker, or in an ar pad byte, is never
// normalized away.
func TestHiddenTrailers(t *testing.T) {
	base := []M{{Name: "a", Body: []byte("a")}}
	later := []M{{Name: "a", Body: []byte("a"), Mtime: t1}}
	odd := fixture.Ar(M{Name: "x", Body: []byte("odd")})
	oddLater := fixture.Ar(M{Name: "x", Body: []byte("odd"), Mtime: t1})
	oddLater[len(oddLater)-1] = '!'
	tests := []struct {
		name string
		a, b []byte
		want []string
	}{
		{"tar trailer", fixture.Tar(base...), append(fixture.Tar(later...), "extra"...),
			[]string{"data after end of archive: bytes", "a/mtime: mtime (archive-mtime)"}},
		{"tar.gz trailer", fixture.Gzip(fixture.Tar(base...), t0, 6), fixture.Gzip(append(fixture.Tar(later...), "extra"...), t0, 6),
			[]string{"data after end of archive: bytes", "a/mtime: mtime (archive-mtime)"}},
		{"tar zero padding is fine", fixture.Tar(base...), append(fixture.Tar(later...), make([]byte, 4096)...),
			[]string{"a/mtime: mtime (archive-mtime)"}},
		{"ar pad byte", odd, oddLater, []string{"x/padding: metadata", "x/mtime: mtime (archive-mtime)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := compareBytes(t, tc.a, tc.b, compare.Options{Normalizers: verdict.NormalizerNames()})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(sorted(tc.want), leaves(r)); diff != "" {
				t.Errorf("leaves (-want +got):\n%s", diff)
			}
		})
	}
}
