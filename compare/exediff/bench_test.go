package exediff_test

import (
	"context"
	"testing"

	"github.com/reprove/reprove/compare/exediff"
	"github.com/reprove/reprove/compare/internal/testexe"
)

// BenchmarkCompareInserted compares a Go program with one that has a
// function inserted: nearly every function moves, so this measures the
// moved-code path (decoding one side, the other's references from its
// displacements) and the rendering of what changed.
func BenchmarkCompareInserted(b *testing.B) {
	x := read(b, testexe.Build(b, "linux", "amd64", testexe.Hello("a"), testexe.Shipped...))
	y := read(b, testexe.Build(b, "linux", "amd64", testexe.HelloExtra("a"), testexe.Shipped...))
	sa, sb := side(b, x), side(b, y)
	b.SetBytes(int64(len(x) + len(y)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := exediff.Compare(context.Background(), sa, sb, exediff.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if r.FuncCounts[exediff.Moved] == 0 {
			b.Fatalf("no function moved: %v", r.FuncCounts)
		}
	}
}
