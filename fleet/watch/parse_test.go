package watch

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseToolchainList(t *testing.T) {
	for _, tc := range []struct {
		name, list, err string
		want            []string
	}{
		{name: "sorted by release", list: "v0.0.1-go1.22.0.linux-amd64\nv0.0.1-go1.21.10.linux-amd64\nv0.0.1-go1.21.9.linux-amd64\nv0.0.1-go1.22rc1.linux-amd64\n",
			want: []string{"1.21.9", "1.21.10", "1.22rc1", "1.22.0"}},
		{name: "other platforms skipped", list: "v0.0.1-go1.22.0.linux-arm64\nv0.0.1-go1.22.0.darwin-amd64\nv0.0.1-go1.22.0.linux-amd64", want: []string{"1.22.0"}},
		{name: "not a toolchain", list: "v1.0.0\n", err: `line 1: "v1.0.0" is not a golang.org/toolchain version`},
		{name: "no release", list: "v0.0.1-gofoo.bar.linux-amd64\n", err: "names no Go release"},
		{name: "control characters", list: "v0.0.1-go1.22.0\x1b[31m.x.linux-amd64\n", err: "names no Go release"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseToolchainList([]byte(tc.list), "amd64")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestBootstrap(t *testing.T) {
	releases := []string{"1.21.0", "1.21.13", "1.22.6", "1.22.12", "1.23rc1", "1.24.0", "1.24.13", "1.24.14rc1", "1.26.8"}
	for r, want := range map[string]string{
		"1.26.8":  "1.24.13", // the newest final 1.24, not its rc
		"1.24.0":  "1.22.12",
		"1.23.0":  "1.21.13", // never older than 1.21
		"1.22rc1": "1.21.13",
		"1.28.0":  "1.26.8",
	} {
		got, ok := Bootstrap(releases, r)
		if got != want || !ok {
			t.Errorf("Bootstrap(%s) = %q, %v; want %q", r, got, ok, want)
		}
	}
	if got, ok := Bootstrap(releases, "1.30.0"); ok {
		t.Errorf("Bootstrap(1.30.0) = %q with no 1.28 release", got)
	}
}

func TestParseNPMDocument(t *testing.T) {
	doc, err := os.ReadFile("testdata/npm-esbuild-linux-x64.json")
	if err != nil {
		t.Fatal(err)
	}
	vs, err := ParseNPMDocument(doc, "@esbuild/linux-x64")
	if err != nil {
		t.Fatal(err)
	}
	last := vs[len(vs)-1]
	if last.Version != "0.28.2" || !strings.HasPrefix(string(last.Digest), "sha512:") || !strings.HasSuffix(last.Tarball, "/linux-x64-0.28.2.tgz") {
		t.Errorf("newest version: %+v", last)
	}
	for _, tc := range []struct{ name, doc, err string }{
		{"another package", `{"name":"evil","versions":{}}`, `it names the package "evil"`},
		{"not json", `{`, "unexpected end"},
		{"version key mismatch", `{"name":"p","versions":{"1.0.0":{"version":"2.0.0","dist":{"tarball":"https://r/p.tgz","integrity":"sha512-` + strings.Repeat("A", 86) + `=="}}}}`, "not a version"},
		{"file URL", `{"name":"p","versions":{"1.0.0":{"version":"1.0.0","dist":{"tarball":"file:///etc/passwd","integrity":"sha512-` + strings.Repeat("A", 86) + `=="}}}}`, "not an http(s) URL"},
		{"short sha512", `{"name":"p","versions":{"1.0.0":{"version":"1.0.0","dist":{"tarball":"https://r/p.tgz","integrity":"sha512-AAAA"}}}}`, "not a sha512"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseNPMDocument([]byte(tc.doc), "p")
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
		})
	}
	// A version with only npm's old sha1 is left out, not an error.
	vs, err = ParseNPMDocument([]byte(`{"name":"p","versions":{"0.1.0":{"version":"0.1.0","dist":{"tarball":"https://r/p.tgz","shasum":"abc"}}}}`), "p")
	if err != nil || len(vs) != 0 {
		t.Errorf("sha1-only version: %v, %v", vs, err)
	}
}

func FuzzParseToolchainList(f *testing.F) {
	list, _ := os.ReadFile("testdata/golang-toolchain.list")
	f.Add(list)
	f.Add([]byte("v0.0.1-go1.22rc1.linux-amd64\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		vs, err := ParseToolchainList(b, "amd64")
		if err != nil {
			return
		}
		for _, v := range vs {
			if strings.ContainsAny(v, "\n\r\x00 ") {
				t.Fatalf("release %q", v)
			}
		}
	})
}

func FuzzParseNPMDocument(f *testing.F) {
	doc, _ := os.ReadFile("testdata/npm-esbuild-linux-x64.json")
	f.Add(doc)
	f.Fuzz(func(t *testing.T, b []byte) {
		vs, err := ParseNPMDocument(b, "@esbuild/linux-x64")
		if err != nil {
			return
		}
		for _, v := range vs {
			if v.Digest.Validate() != nil || v.Digest.Algorithm() != "sha512" {
				t.Fatalf("version %s: digest %q", v.Version, v.Digest)
			}
		}
	})
}
