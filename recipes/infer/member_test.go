package infer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestExtractMember(t *testing.T) {
	body := "\x7fELF binary"
	files := map[string]string{"package/bin/esbuild": body, "package/README.md": "hi"}
	tests := []struct {
		name    string
		archive []byte
		member  string
		lim     Limits
		wantErr string
	}{
		{"tgz", tarOf(t, true, files), "package/bin/esbuild", DefaultLimits(), ""},
		{"tar", tarOf(t, false, files), "package/bin/esbuild", DefaultLimits(), ""},
		{"zip", zipOf(t, files), "package/bin/esbuild", DefaultLimits(), ""},
		{"dot-slash", tarOf(t, true, map[string]string{"./package/bin/esbuild": body}), "package/bin/esbuild", DefaultLimits(), ""},
		{"missing", tarOf(t, true, files), "package/bin/other", DefaultLimits(), "no such regular file"},
		{"unclean", tarOf(t, true, files), "../package/bin/esbuild", DefaultLimits(), "not a clean relative path"},
		{"member too big", tarOf(t, false, files), "package/bin/esbuild", Limits{MaxSize: 4, MaxRead: 4}, "member is over the 4-byte limit"},
		{"decompression bomb", tarOf(t, true, map[string]string{"x": strings.Repeat("0", 1<<20)}), "package/bin/esbuild", Limits{MaxSize: 1 << 10, MaxRead: 1 << 10}, "decompresses to more than 4096 bytes"},
		{"not an archive", []byte("just text, long enough to not be anything"), "package/bin/esbuild", DefaultLimits(), "not a tar"},
		{"truncated gzip", tarOf(t, true, files)[:40], "package/bin/esbuild", DefaultLimits(), "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			arch := filepath.Join(dir, "a")
			if err := os.WriteFile(arch, tt.archive, 0o644); err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(dir, "out")
			d, err := ExtractMember(context.Background(), arch, tt.member, dst, tt.lim)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ExtractMember = %v; want an error containing %q", err, tt.wantErr)
				}
				if _, serr := os.Stat(dst); !errors.Is(serr, os.ErrNotExist) {
					t.Errorf("a failed extraction left %s behind", dst)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != body || d != digest.FromString(body) {
				t.Errorf("extracted %q (%s); want %q (%s)", got, d, body, digest.FromString(body))
			}
		})
	}
}
