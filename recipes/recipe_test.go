package recipes

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// TestValidGolden parses each recipe in testdata/valid and pins its
// canonical form and digest in a golden file next to it.
func TestValidGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/valid/*.*")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".golden") {
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			r, err := Load(context.Background(), f)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			c, err := r.Canonical()
			if err != nil {
				t.Fatalf("Canonical: %v", err)
			}
			d, err := r.Digest()
			if err != nil {
				t.Fatalf("Digest: %v", err)
			}
			got := string(c) + "\n" + d.String() + "\n"
			golden := strings.TrimSuffix(f, filepath.Ext(f)) + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("canonical form (-want +got):\n%s", diff)
			}
			// The canonical form is itself a recipe (JSON is YAML) with
			// the same digest.
			r2, err := Parse("canonical", c)
			if err != nil {
				t.Fatalf("Parse(canonical): %v", err)
			}
			d2, err := r2.Digest()
			if err != nil || d2 != d {
				t.Errorf("digest of canonical form = %v, %v; want %v", d2, err, d)
			}
			if diff := cmp.Diff(r, r2, cmpopts.IgnoreUnexported(Recipe{})); diff != "" {
				t.Errorf("canonical round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadResolvesPaths(t *testing.T) {
	r, err := Load(context.Background(), "testdata/valid/dir.yaml")
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("testdata/src")
	if got := r.ResolvePath(r.Source.Dir.Path); got != abs {
		t.Errorf("ResolvePath(%q) = %q, want %q", r.Source.Dir.Path, got, abs)
	}
	if got := r.ResolvePath("/abs/x"); got != "/abs/x" {
		t.Errorf("ResolvePath(/abs/x) = %q", got)
	}
}

func TestLoadErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Load(ctx, "testdata/nonexistent.yaml"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, []byte("name: x\n"+strings.Repeat("# pad\n", MaxSize/6+1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(ctx, big)
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Load(big) = %v, want a size error", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Load(cctx, "testdata/valid/dir.yaml"); !errors.Is(err, context.Canceled) {
		t.Errorf("Load(cancelled) = %v, want context.Canceled", err)
	}
}

// TestDigestIgnoresLayout: comments, key order, quoting, flow or block
// style and JSON vs YAML do not change a recipe's digest; content does.
func TestDigestIgnoresLayout(t *testing.T) {
	base := `schema: 1
name: x
version: "1"
source: {dir: {path: src, tree: "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}}
env: {B: "2", A: "1"}
steps: [{run: [make]}]
outputs: [{path: x}]
`
	same := []string{
		`# a comment
outputs:
  - path: 'x'
steps:
  - run:
      - make
env:
  A: "1"
  B: "2"
source:
  dir:
    tree: sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
    path: src
version: 1
name: x
schema: 1
toolchain: {}
limits:
`,
		`{"schema":1,"name":"x","version":"1","source":{"dir":{"path":"src","tree":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}},
		  "env":{"A":"1","B":"2"},"steps":[{"run":["make"]}],"outputs":[{"path":"x"}],"normalizers":[]}`,
	}
	different := []string{
		strings.Replace(base, `A: "1"`, `A: "3"`, 1),
		strings.Replace(base, `[make]`, `[make, all]`, 1),
		strings.Replace(base, `version: "1"`, `version: "1.0"`, 1),
		base + "limits: {pids: 10}\n",
	}
	digestOf := func(s string) string {
		t.Helper()
		r, err := Parse("t.yaml", []byte(s))
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		d, err := r.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	want := digestOf(base)
	for _, s := range same {
		if got := digestOf(s); got != want {
			t.Errorf("digest of\n%s\n= %s, want %s", s, got, want)
		}
	}
	for _, s := range different {
		if got := digestOf(s); got == want {
			t.Errorf("digest of\n%s\nequals the base's; want it to differ", s)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{in: "1B", want: 1},
		{in: "512MiB", want: 512 << 20},
		{in: "4GiB", want: 4 << 30},
		{in: "4 GiB", want: 4 << 30},
		{in: "32 GiB", want: 32 << 30},
		{in: "4gib", want: 4 << 30},
		{in: "2TiB", want: 2 << 40},
		{in: "8KiB", want: 8 << 10},
		{in: "1.5GiB", want: 3 << 29},
		{in: "0.5KiB", want: 512},
		{in: "65536", want: 65536},
		{in: " 7 ", want: 7},
		{in: "4GB", wantErr: `"4GB": the unit GB is ambiguous (decimal or binary?); write GiB`},
		{in: "4G", wantErr: `"4G": the unit G is ambiguous (decimal or binary?); write GiB`},
		{in: "4 mb", wantErr: `"4 mb": the unit mb is ambiguous (decimal or binary?); write MiB`},
		{in: "0MiB", wantErr: `"0MiB": a size must be positive`},
		{in: "0", wantErr: `"0": a size must be positive`},
		{in: "-1MiB", wantErr: `"-1MiB" is not a size: write a number of bytes, or a number and one of B, KiB, MiB, GiB, TiB (for example 4GiB)`},
		{in: "1.1B", wantErr: `"1.1B" is not a whole number of bytes`},
		{in: "1.GiB", wantErr: `"1.GiB" is not a size: write a number of bytes, or a number and one of B, KiB, MiB, GiB, TiB (for example 4GiB)`},
		{in: "1..5GiB", wantErr: `"1..5GiB" is not a size: write a number of bytes, or a number and one of B, KiB, MiB, GiB, TiB (for example 4GiB)`},
		{in: "1e9", wantErr: `"1e9" is not a size: write a number of bytes, or a number and one of B, KiB, MiB, GiB, TiB (for example 4GiB)`},
		{in: "0x10", wantErr: `"0x10" is not a size: write a number of bytes, or a number and one of B, KiB, MiB, GiB, TiB (for example 4GiB)`},
		{in: "4 GiB extra", wantErr: `"4 GiB extra" is not a size: write a number of bytes, or a number and one of B, KiB, MiB, GiB, TiB (for example 4GiB)`},
		{in: "99999999999999TiB", wantErr: `size "99999999999999TiB" is too large`},
		{in: "9223372036854775808", wantErr: `size "9223372036854775808" is too large`},
		{in: "", wantErr: `"" is not a size: write a number of bytes, or a number and one of B, KiB, MiB, GiB, TiB (for example 4GiB)`},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tt.want || gotErr != tt.wantErr {
			t.Errorf("ParseSize(%q) = %d, %q; want %d, %q", tt.in, got, gotErr, tt.want, tt.wantErr)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 1: "1B", 1000: "1000B", 1024: "1KiB", 1536 << 20: "1536MiB", 4 << 30: "4GiB", 3 << 40: "3TiB"} {
		got := FormatSize(n)
		if got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
		if back, err := ParseSize(got); n > 0 && (err != nil || back != n) {
			t.Errorf("ParseSize(FormatSize(%d)) = %d, %v", n, back, err)
		}
	}
}

func TestCheckGoVersion(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" for valid
	}{
		{"1.23.5", ""},
		{"1.21.0", ""},
		{"1.24rc1", ""},
		{"1.26.8", ""},
		{"go1.23.5", `"go1.23.5": write the version without the go prefix`},
		{"1.23", `"1.23" is a language version; name a release such as 1.23.0`},
		{"1.20.3", `"1.20.3": toolchains before Go 1.21.0 are not published as modules`},
		{"latest", `"latest" is not a Go version`},
		{"1.23.5 ", `"1.23.5 " is not a Go version`},
	}
	for _, tt := range tests {
		got := ""
		if err := CheckGoVersion(tt.in); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("CheckGoVersion(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLimitsAccessors(t *testing.T) {
	l := Limits{Memory: "2GiB", Disk: "10GiB", OutputSize: "1GiB", Timeout: "1h30m"}
	m, err := l.MemoryBytes()
	if err != nil || m != 2<<30 {
		t.Errorf("MemoryBytes = %d, %v", m, err)
	}
	if d, err := l.DiskBytes(); err != nil || d != 10<<30 {
		t.Errorf("DiskBytes = %d, %v", d, err)
	}
	if o, err := l.OutputBytes(); err != nil || o != 1<<30 {
		t.Errorf("OutputBytes = %d, %v", o, err)
	}
	d, err := l.TimeoutDuration()
	if err != nil || d.Minutes() != 90 {
		t.Errorf("TimeoutDuration = %v, %v", d, err)
	}
	var zero Limits
	if m, err := zero.MemoryBytes(); m != 0 || err != nil {
		t.Errorf("zero MemoryBytes = %d, %v", m, err)
	}
	if d, err := zero.TimeoutDuration(); d != 0 || err != nil {
		t.Errorf("zero TimeoutDuration = %v, %v", d, err)
	}
}

func TestShippedArtifactDigest(t *testing.T) {
	s := Shipped{Digest: "sha256:aa", MemberDigest: "sha256:bb"}
	if got := s.ArtifactDigest(); got != "sha256:aa" {
		t.Errorf("without member: %s", got)
	}
	s.Member = "a/b"
	if got := s.ArtifactDigest(); got != "sha256:bb" {
		t.Errorf("with member: %s", got)
	}
}

// BenchmarkParse measures decoding and validating a recipe that uses every
// field, and computing its digest.
func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("testdata/valid/full.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r, err := Parse("full.yaml", data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Digest(); err != nil {
			b.Fatal(err)
		}
	}
}
