package deb822

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const packages = `Package: hello
Version: 2.10-3
Installed-Size: 280
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Depends: libc6 (>= 2.34)
Description: example package based on GNU hello
 The GNU hello program produces a familiar, friendly greeting.
 .
 It allows non-programmers to use a classic computer science tool.
Priority: optional
Filename: pool/main/h/hello/hello_2.10-3_amd64.deb
Size: 53080
SHA256: 8c7ca0cf4bb8d3a7b6b1ec0ae6b2f2d6a1a0e1b1c8f1a3c8fd1b0e5bb1d8a0f6

Package: libc-bin
Source: glibc (2.36-9+deb12u10)
Version: 2.36-9+deb12u10
Architecture: amd64
Essential: yes
Priority: required
Multi-Arch: foreign
Depends: libc6 (>> 2.36), libc6 (<< 2.37)
Filename: pool/main/g/glibc/libc-bin_2.36-9+deb12u10_amd64.deb
Size: 609756
SHA256: 0000000000000000000000000000000000000000000000000000000000000001
`

func TestParsePackages(t *testing.T) {
	got, err := ParsePackages("Packages", strings.NewReader(packages))
	if err != nil {
		t.Fatal(err)
	}
	want := []*BinaryPackage{
		{Package: "hello", Version: "2.10-3", Architecture: "amd64", Priority: "optional", Depends: "libc6 (>= 2.34)",
			Filename: "pool/main/h/hello/hello_2.10-3_amd64.deb", Size: 53080, SHA256: "sha256:8c7ca0cf4bb8d3a7b6b1ec0ae6b2f2d6a1a0e1b1c8f1a3c8fd1b0e5bb1d8a0f6"},
		{Package: "libc-bin", Version: "2.36-9+deb12u10", Architecture: "amd64", Source: "glibc", SourceVersion: "2.36-9+deb12u10",
			Essential: true, Priority: "required", MultiArch: "foreign", Depends: "libc6 (>> 2.36), libc6 (<< 2.37)",
			Filename: "pool/main/g/glibc/libc-bin_2.36-9+deb12u10_amd64.deb", Size: 609756, SHA256: "sha256:0000000000000000000000000000000000000000000000000000000000000001"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParsePackages (-want +got):\n%s", diff)
	}
}

func TestParsePackagesRefuses(t *testing.T) {
	for _, tc := range []struct{ name, edit, want string }{
		{"duplicate field", "Size: 53080\n", "Size: 53080\nsize: 1\n"},
		{"escaping filename", "pool/main/h/hello/hello_2.10-3_amd64.deb", "../../etc/passwd"},
		{"absolute filename", "pool/main/h/hello/hello_2.10-3_amd64.deb", "/etc/passwd"},
		{"short sha256", "8c7ca0cf4bb8d3a7b6b1ec0ae6b2f2d6a1a0e1b1c8f1a3c8fd1b0e5bb1d8a0f6", "8c7ca0cf"},
		{"bad version", "Version: 2.10-3", "Version: 2.10 3"},
		{"bad name", "Package: hello", "Package: Hello!"},
		{"bad depends", "Depends: libc6 (>= 2.34)", "Depends: libc6 (>= "},
		{"no sha256", "SHA256: 8c7ca0cf4bb8d3a7b6b1ec0ae6b2f2d6a1a0e1b1c8f1a3c8fd1b0e5bb1d8a0f6\n", ""},
		{"signed", "Package: hello", "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nPackage: hello"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := strings.Replace(packages, tc.edit, tc.want, 1)
			if in == packages {
				t.Fatal("edit did not apply")
			}
			if _, err := ParsePackages("Packages", strings.NewReader(in)); err == nil {
				t.Fatal("accepted")
			} else {
				t.Log(err)
			}
		})
	}
}

func TestLimit(t *testing.T) {
	rd, err := NewReader("x", strings.NewReader(packages), 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rd.All(); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: %v, want ErrTooLarge", err)
	}
}

const dsc = `-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA256

Format: 3.0 (quilt)
Source: hello
Binary: hello
Architecture: any
Version: 2.10-3
Build-Depends: debhelper-compat (= 13)
Checksums-Sha256:
 31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b 725946 hello_2.10.orig.tar.gz
 2dab2d4a5cb2e1b1d8f9f3b1c2e5ef1b05fbb5c2d1e16e37ad2bb6b14a04c5e2 12688 hello_2.10-3.debian.tar.xz
Files:
 6cd0ffea3884a4e79330338dcc2987d6 725946 hello_2.10.orig.tar.gz

-----BEGIN PGP SIGNATURE-----

iQ==
-----END PGP SIGNATURE-----
`

func TestParseDSC(t *testing.T) {
	got, err := ParseDSC("hello_2.10-3.dsc", []byte(dsc))
	if err != nil {
		t.Fatal(err)
	}
	want := &SourcePackage{Package: "hello", Version: "2.10-3", Format: "3.0 (quilt)", Architecture: []string{"any"}, Binary: []string{"hello"},
		BuildDepends: "debhelper-compat (= 13)",
		Files: []File{
			{Name: "hello_2.10.orig.tar.gz", Size: 725946, SHA256: "sha256:31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b"},
			{Name: "hello_2.10-3.debian.tar.xz", Size: 12688, SHA256: "sha256:2dab2d4a5cb2e1b1d8f9f3b1c2e5ef1b05fbb5c2d1e16e37ad2bb6b14a04c5e2"},
		}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseDSC (-want +got):\n%s", diff)
	}
	bad := strings.Replace(dsc, "hello_2.10-3.debian.tar.xz", "../hello_2.10-3.debian.tar.xz", 1)
	if _, err := ParseDSC("x.dsc", []byte(bad)); err == nil {
		t.Error("a file name with a directory was accepted")
	}
}

const buildinfo = `Format: 1.0
Source: hello
Binary: hello
Architecture: amd64
Version: 2.10-3
Checksums-Sha256:
 8c7ca0cf4bb8d3a7b6b1ec0ae6b2f2d6a1a0e1b1c8f1a3c8fd1b0e5bb1d8a0f6 53080 hello_2.10-3_amd64.deb
Build-Origin: Debian
Build-Architecture: amd64
Build-Date: Sun, 27 Nov 2022 17:00:00 +0000
Build-Path: /build/reproducible-path/hello-2.10
Installed-Build-Depends:
 autoconf (= 2.71-3),
 libc6 (= 2.36-6),
 libc-bin:amd64 (= 2.36-6)
Environment:
 DEB_BUILD_OPTIONS="parallel=4"
 LANG="C.UTF-8"
 SOURCE_DATE_EPOCH="1669568000"
`

func TestParseBuildInfo(t *testing.T) {
	got, err := ParseBuildInfo("hello.buildinfo", []byte(buildinfo))
	if err != nil {
		t.Fatal(err)
	}
	want := &BuildInfo{Source: "hello", Version: "2.10-3", BuildArchitecture: "amd64", BuildDate: "Sun, 27 Nov 2022 17:00:00 +0000",
		BuildPath:   "/build/reproducible-path/hello-2.10",
		Environment: []string{"DEB_BUILD_OPTIONS=parallel=4", "LANG=C.UTF-8", "SOURCE_DATE_EPOCH=1669568000"},
		Installed:   []Installed{{"autoconf", "2.71-3", ""}, {"libc6", "2.36-6", ""}, {"libc-bin", "2.36-6", "amd64"}},
		Checksums:   []File{{Name: "hello_2.10-3_amd64.deb", Size: 53080, SHA256: "sha256:8c7ca0cf4bb8d3a7b6b1ec0ae6b2f2d6a1a0e1b1c8f1a3c8fd1b0e5bb1d8a0f6"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseBuildInfo (-want +got):\n%s", diff)
	}
	if _, err := ParseBuildInfo("x", []byte(strings.Replace(buildinfo, "autoconf (= 2.71-3)", "autoconf (>= 2.71-3)", 1))); err == nil {
		t.Error("an inexact Installed-Build-Depends was accepted")
	}
}
