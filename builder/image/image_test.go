package image

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprove/reprove/recipes"
)

func TestSpecKey(t *testing.T) {
	a := Spec{Debian: &recipes.DebianImage{Suite: "bookworm", Packages: []string{"make", "git", "git"}}, Go: "1.23.5", Arch: "amd64"}
	b := Spec{Debian: &recipes.DebianImage{Packages: []string{"git", "make"}}, Go: "1.23.5", Arch: "amd64"}
	if a.Key(DefaultMirror) != b.Key(DefaultMirror) {
		t.Error("equal specs written differently have different keys")
	}
	if a.Key(DefaultMirror) == a.Key("http://example.org/debian") {
		t.Error("the mirror does not change the key")
	}
	for _, other := range []Spec{
		{Debian: &recipes.DebianImage{Packages: []string{"git"}}, Go: "1.23.5", Arch: "amd64"},
		{Debian: &recipes.DebianImage{Packages: []string{"git", "make"}}, Go: "1.23.6", Arch: "amd64"},
		{Go: "1.23.5", Arch: "amd64"},
		{Debian: &recipes.DebianImage{Suite: "trixie", Packages: []string{"git", "make"}}, Go: "1.23.5", Arch: "amd64"},
	} {
		if other.Key(DefaultMirror) == a.Key(DefaultMirror) {
			t.Errorf("%s has the key of %s", other.Describe(), a.Describe())
		}
	}
	if got, want := b.Describe(), "debian-bookworm+git+make-go1.23.5"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
}

func TestParseDpkgStatus(t *testing.T) {
	status := "Package: a\nStatus: install ok installed\nVersion: 1.0\n\nPackage: b\nStatus: deinstall ok config-files\nVersion: 2\n\nPackage: c\nVersion: 1:3.0-1\nStatus: install ok installed\n"
	want := []Package{{Name: "a", Version: "1.0"}, {Name: "c", Version: "1:3.0-1"}}
	if diff := cmp.Diff(want, parseDpkgStatus([]byte(status))); diff != "" {
		t.Errorf("parseDpkgStatus (-want +got):\n%s", diff)
	}
	if p, ok := debPackage("busybox-static_1%3a1.35.0-4+b3_amd64.deb"); !ok || p != (Package{Name: "busybox-static", Version: "1:1.35.0-4+b3"}) {
		t.Errorf("debPackage = %v, %v", p, ok)
	}
}

// The layer writer must give the same bytes for the same files whatever
// their times and owners' names.
func TestLayerNormalisation(t *testing.T) {
	write := func(h *tar.Header) []byte {
		lw, err := newLayerWriter(t.TempDir(), Epoch)
		if err != nil {
			t.Fatal(err)
		}
		if err := lw.addParents(h.Name); err != nil {
			t.Fatal(err)
		}
		if err := lw.add(h, bytes.NewReader([]byte("hi"))); err != nil {
			t.Fatal(err)
		}
		l, err := lw.finish()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(l.path)
		return b
	}
	a := write(&tar.Header{Typeflag: tar.TypeReg, Name: "a/b/c", Size: 2, Mode: 0o100644, ModTime: Epoch.AddDate(1, 0, 0), Uname: "alice"})
	b := write(&tar.Header{Typeflag: tar.TypeReg, Name: "a/b/c", Size: 2, Mode: 0o644, ModTime: Epoch.AddDate(2, 0, 0), Uname: "bob", Gname: "g"})
	if !bytes.Equal(a, b) {
		t.Error("layers differ by times or owner names")
	}
	tr := tar.NewReader(bytes.NewReader(a))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if !h.ModTime.Equal(Epoch) {
			t.Errorf("%s: mtime %v not clamped to %v", h.Name, h.ModTime, Epoch)
		}
	}
	if diff := cmp.Diff([]string{"a/", "a/b/", "a/b/c"}, names); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}
