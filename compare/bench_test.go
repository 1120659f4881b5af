package compare_test

import (
	"archive/tar"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/reprove/reprove/compare"
	"github.com/reprove/reprove/compare/fixture"
	"github.com/reprove/reprove/compare/verdict"
)

// toolchainLike makes n members of source-like text, as in a Go
// toolchain zip; the second build has some members' modes changed and a
// few members swapped.
func toolchainLike(n int) (a, b []M) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n; i++ {
		body := make([]byte, 2000+rng.IntN(8000))
		for j := range body {
			body[j] = "abcdefghij klmnop\n"[rng.IntN(18)]
		}
		a = append(a, M{Name: fmt.Sprintf("go/src/pkg%d/file%d.go", i/50, i), Body: body, Type: tar.TypeReg})
	}
	b = append(b, a...)
	for i := 100; i < n; i += 500 {
		b[i].Mode = 0o755
	}
	for i := 50; i+1 < n; i += 1000 {
		b[i], b[i+1] = b[i+1], b[i]
	}
	return a, b
}

func benchPair(b *testing.B, x, y []byte, norms ...string) {
	dir := b.TempDir()
	pa, pb := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	writeFile(b, dir, "a", x)
	writeFile(b, dir, "b", y)
	b.SetBytes(int64(len(x) + len(y)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := compare.Files(context.Background(), pa, pb, compare.Options{Normalizers: norms})
		if err != nil {
			b.Fatal(err)
		}
		if r.Verdict != verdict.Different {
			b.Fatalf("verdict %v", r.Verdict)
		}
	}
}

func BenchmarkToolchainZip(b *testing.B) {
	x, y := toolchainLike(4000)
	benchPair(b, fixture.Zip(6, x...), fixture.Zip(6, y...))
}

func BenchmarkToolchainTarGz(b *testing.B) {
	x, y := toolchainLike(4000)
	benchPair(b, fixture.Gzip(fixture.Tar(x...), fixture.Epoch, 6), fixture.Gzip(fixture.Tar(y...), fixture.Epoch, 6))
}

// debLike is a Debian-package-like pair: an ar holding an xz tar whose
// members are mostly equal, a few with other content (the members kept
// for a closer look come from the scan, not a second decompression).
func debLike() (a, b []byte) {
	x, y := toolchainLike(150)
	for i := 7; i < len(y); i += 37 {
		body := append([]byte{}, y[i].Body...)
		body[len(body)/2] ^= 1
		y[i].Body = body
	}
	deb := func(ms []M) []byte {
		return fixture.Ar(
			M{Name: "debian-binary", Body: []byte("2.0\n"), Type: tar.TypeReg},
			M{Name: "data.tar.xz", Body: fixture.Xz(fixture.Tar(ms...)), Type: tar.TypeReg})
	}
	return deb(x), deb(y)
}

func BenchmarkDebLike(b *testing.B) {
	x, y := debLike()
	benchPair(b, x, y)
}
