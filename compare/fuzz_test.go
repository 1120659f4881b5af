package compare_test

import (
	"bytes"
	"testing"

	"github.com/reprove/reprove/compare"
	"github.com/reprove/reprove/compare/fixture"
	"github.com/reprove/reprove/compare/verdict"
)

// FuzzFiles runs two arbitrary inputs through the whole comparison. An
// error is fine; a panic, or a verdict that contradicts the bytes, is not.
func FuzzFiles(f *testing.F) {
	tar1 := fixture.Tar(M{Name: "a", Body: []byte("one\n")}, M{Name: "b", Mode: 0o755})
	tar2 := fixture.Tar(M{Name: "b", Mode: 0o755, Mtime: t1}, M{Name: "a", Body: []byte("two\n")})
	f.Add(tar1, tar2)
	f.Add(fixture.Gzip(tar1, t0, 6), fixture.Gzip(tar2, t1, 9))
	f.Add(fixture.Zip(6, M{Name: "a", Body: []byte("x")}), fixture.Zip(0, M{Name: "a", Body: []byte("y")}))
	f.Add(fixture.Ar(M{Name: "x", Body: tar1}), fixture.Ar(M{Name: "x", Body: tar2}))
	f.Add(fixture.ELF([]byte{1, 2, 3}), fixture.ELF([]byte{1, 2, 4}))
	f.Add(fixture.PE([]byte{1, 2}, 1, nil), fixture.PE([]byte{1, 2}, 2, []byte("sig")))
	tempDir := f.TempDir()
	lim := compare.Limits{MaxEntries: 100, MaxDepth: 3, MaxExpanded: 4 << 20, MaxRatio: 100, MaxWindow: 1 << 20, MaxExecutable: 1 << 20}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		// In memory: the file system would make this a hundred times
		// slower (compareBytes covers Files).
		r, err := compare.Compare(t.Context(), compare.Input{Name: "rebuilt", R: bytes.NewReader(a), Size: int64(len(a))},
			compare.Input{Name: "shipped", R: bytes.NewReader(b), Size: int64(len(b))},
			compare.Options{Normalizers: verdict.NormalizerNames(), Limits: lim, TempDir: tempDir})
		if err != nil {
			return
		}
		same := bytes.Equal(a, b)
		if same != (r.Verdict == verdict.Identical) {
			t.Fatalf("verdict %v for inputs that are equal=%v", r.Verdict, same)
		}
		if r.Verdict == verdict.Equivalent && r.Counts.Accepted != r.Counts.Differences {
			t.Fatalf("equivalent with unaccepted differences: %+v", r.Counts)
		}
		if r.Verdict != verdict.Identical && r.Counts.Differences == 0 {
			t.Fatal("not identical but no difference recorded")
		}
	})
}
