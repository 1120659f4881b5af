package deb_test

import (
	"testing"

	"github.com/reprove/reprove/compare/deb"
)

func FuzzControl(f *testing.F) {
	f.Add([]byte("Package: hello\nVersion: 2.10-3\nDescription: greet\n the world\n"))
	f.Add([]byte("Package: a\n\nPackage: b\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fs, err := deb.Control(b)
		if err == nil && len(fs) == 0 {
			t.Fatal("no error and no fields")
		}
	})
}

func FuzzMD5Sums(f *testing.F) {
	f.Add([]byte("9d66f7e4bf216f64c4091adfdfcb444c  lib/libexpat.so.1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ss, err := deb.MD5Sums(b)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, s := range ss {
			if len(s.MD5) != 32 || seen[s.Path] {
				t.Fatalf("bad sum %+v", s)
			}
			seen[s.Path] = true
		}
	})
}
