package deb822

import (
	"bytes"
	"testing"
)

// The parsers of untrusted input must return an error, never panic or
// hang, whatever they are given.

func FuzzParsePackages(f *testing.F) {
	f.Add([]byte(packages))
	f.Add([]byte("Package: a\nVersion: 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := ParsePackages("fuzz", bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, p := range pkgs {
			if p.Package == "" || p.Filename == "" || p.SHA256.Validate() != nil {
				t.Fatalf("accepted an incomplete package: %+v", p)
			}
		}
	})
}

func FuzzParseSources(f *testing.F) {
	f.Add([]byte("Package: hello\nVersion: 2.10-3\nDirectory: pool/main/h/hello\nChecksums-Sha256:\n 31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b 725946 hello_2.10.orig.tar.gz\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		srcs, err := ParseSources("fuzz", bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, s := range srcs {
			if len(s.Files) == 0 || s.Directory == "" {
				t.Fatalf("accepted an incomplete source: %+v", s)
			}
		}
	})
}

func FuzzParseDSC(f *testing.F) {
	f.Add([]byte(dsc))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseDSC("fuzz", b)
		if err != nil {
			return
		}
		for _, file := range s.Files {
			if checkFileName(file.Name) != nil {
				t.Fatalf("accepted file name %q", file.Name)
			}
		}
	})
}

func FuzzParseControl(f *testing.F) {
	f.Add([]byte("Package: hello\nVersion: 2.10-3\nArchitecture: amd64\nSource: hello (2.10-3)\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseControl("fuzz", b)
	})
}

func FuzzParseBuildInfo(f *testing.F) {
	f.Add([]byte(buildinfo))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseBuildInfo("fuzz", b)
	})
}
