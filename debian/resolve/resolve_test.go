package resolve

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprove/reprove/debian/deb822"
)

func index(t *testing.T) *Index {
	pkgs := []*deb822.BinaryPackage{
		{Package: "base", Version: "1", Architecture: "amd64", Essential: true, Depends: "libc"},
		{Package: "libc", Version: "2.36", Architecture: "amd64", Priority: "required"},
		{Package: "apt", Version: "2.6", Architecture: "amd64", Depends: "libc (>= 2.30)"},
		{Package: "build-essential", Version: "12.9", Architecture: "amd64", Depends: "gcc | clang, make"},
		{Package: "gcc", Version: "12", Architecture: "amd64"},
		{Package: "clang", Version: "14", Architecture: "amd64"},
		{Package: "make", Version: "4.3", Architecture: "amd64"},
		{Package: "mawk", Version: "1.3", Architecture: "amd64", Provides: "awk", Priority: "required"},
		{Package: "gawk", Version: "5.2", Architecture: "amd64", Provides: "awk", Priority: "optional"},
		{Package: "needs-awk", Version: "1", Architecture: "all", Depends: "awk"},
		{Package: "old", Version: "1", Architecture: "all", Depends: "libc (>= 3)"},
		{Package: "x", Version: "1", Architecture: "amd64", Conflicts: "y"},
		{Package: "y", Version: "1", Architecture: "amd64"},
		{Package: "armonly", Version: "1", Architecture: "arm64"},
	}
	idx, err := NewIndex("amd64", pkgs)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func names(pkgs []*deb822.BinaryPackage) string {
	var out []string
	for _, p := range pkgs {
		out = append(out, p.Package)
	}
	return strings.Join(out, " ")
}

func TestResolve(t *testing.T) {
	idx := index(t)
	for _, tc := range []struct {
		name string
		req  Request
		want string
	}{
		{"essential", Request{Variant: Essential}, "base libc"},
		{"minbase: required and apt", Request{Variant: Minbase}, "apt base libc mawk"},
		{"buildd: the first alternative", Request{Variant: Buildd}, "apt base build-essential gcc libc make mawk"},
		{"a virtual package: a required provider chosen", Request{Variant: Essential, Packages: []string{"needs-awk"}}, "base libc mawk needs-awk"},
		{"build-depends: first alternatives, other arches and profiles dropped", Request{Variant: Essential, BuildDepends: []string{"clang | gcc, armonly [arm64], y <!nocheck>, x <nocheck>"}}, "base clang libc y"},
		{"extract: only what is asked", Request{Variant: Extract, Packages: []string{"apt"}}, "apt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resolve(idx, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, names(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveRefuses(t *testing.T) {
	idx := index(t)
	var ue *UnsatisfiableError
	if _, err := Resolve(idx, Request{Variant: Essential, Packages: []string{"old"}}); !errors.As(err, &ue) || !strings.Contains(err.Error(), "the suite has libc 2.36") {
		t.Errorf("an unsatisfiable version: %v", err)
	}
	if _, err := Resolve(idx, Request{Variant: Essential, Packages: []string{"nosuch"}}); !errors.As(err, &ue) {
		t.Errorf("a missing package: %v", err)
	}
	var ce *ConflictError
	if _, err := Resolve(idx, Request{Variant: Essential, Packages: []string{"x", "y"}}); !errors.As(err, &ce) {
		t.Errorf("conflicting packages: %v", err)
	}
	if _, err := Resolve(idx, Request{Variant: "standard"}); err == nil {
		t.Error("an unknown variant was accepted")
	}
}

// Given the packages of two suites, the index keeps the highest version of
// each name in Debian's version order (the first of equal ones), as apt
// picks over every suite in its sources.
func TestIndexHighestVersion(t *testing.T) {
	for _, tc := range []struct {
		name, first, second, want string
	}{
		{"a security update", "2.36-9+deb12u10", "2.36-9+deb12u12", "2.36-9+deb12u12"},
		{"ten after nine", "2.5.0-1+deb12u9", "2.5.0-1+deb12u10", "2.5.0-1+deb12u10"},
		{"an older one second", "1.0-1", "1.0~rc1-1", "1.0-1"},
		{"an epoch", "2:1.0-1", "3.0-1", "2:1.0-1"},
		{"equal: the first", "1.0-1", "1.0-1", "1.0-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &deb822.BinaryPackage{Package: "p", Version: tc.first, Architecture: "all", Filename: "first"}
			b := &deb822.BinaryPackage{Package: "p", Version: tc.second, Architecture: "amd64", Filename: "second"}
			idx, err := NewIndex("amd64", []*deb822.BinaryPackage{a, b})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := idx.Lookup("p")
			if got.Version != tc.want || (tc.first == tc.second && got != a) {
				t.Errorf("got %s (%s), want %s", got.Version, got.Filename, tc.want)
			}
		})
	}
}
