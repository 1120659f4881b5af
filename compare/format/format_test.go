package format_test

import (
	"testing"

	"github.com/reprove/reprove/compare/fixture"
	"github.com/reprove/reprove/compare/format"
)

func TestDetect(t *testing.T) {
	tar := fixture.Tar(fixture.Member{Name: "a", Body: []byte("a")})
	tests := []struct {
		name string
		data []byte
		want format.Format
	}{
		{"empty", nil, format.Empty},
		{"text", []byte("hello\n"), format.Text},
		{"utf8 cut", []byte("h\xc3"), format.Text},
		{"nul", []byte("a\x00b"), format.Unknown},
		{"gzip", fixture.Gzip([]byte("x"), fixture.Epoch, 6), format.Gzip},
		{"xz", fixture.Xz([]byte("x")), format.Xz},
		{"zstd", fixture.Zstd([]byte("x")), format.Zstd},
		{"bzip2", []byte("BZh91AY&SY"), format.Bzip2},
		{"tar", tar, format.Tar},
		{"zip", fixture.Zip(6, fixture.Member{Name: "a"}), format.Zip},
		{"ar", fixture.Ar(fixture.Member{Name: "a"}), format.Ar},
		{"elf", []byte("\x7fELF\x02\x01\x01"), format.ELF},
		{"macho", []byte{0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1}, format.MachO},
		{"java class", []byte{0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52}, format.Unknown},
		{"fat macho", []byte{0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2}, format.MachO},
	}
	for _, tc := range tests {
		if got := format.Detect(tc.data, int64(len(tc.data))); got != tc.want {
			t.Errorf("Detect(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
	for f := format.Unknown; f <= format.MachO; f++ {
		b, err := f.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var g format.Format
		if err := g.UnmarshalText(b); err != nil || g != f {
			t.Errorf("round trip of %v = %v, %v", f, g, err)
		}
	}
}

func FuzzDetect(f *testing.F) {
	f.Add([]byte("MZ"))
	f.Add(fixture.Tar(fixture.Member{Name: "a"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		a := format.Detect(data, int64(len(data)))
		if b := format.Detect(data, int64(len(data))); a != b {
			t.Fatalf("Detect is not deterministic: %v then %v", a, b)
		}
	})
}
