package deb_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/reprove/reprove/compare/deb"
)

func TestControl(t *testing.T) {
	got, err := deb.Control([]byte("Package: hello\nVersion: 2.10-3\nDescription: greet\n the world\n .\n politely\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []deb.Field{{"Package", "hello"}, {"Version", "2.10-3"}, {"Description", "greet\nthe world\n\npolitely"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for name, in := range map[string]string{
		"two paragraphs": "Package: a\n\nPackage: b\n",
		"repeated field": "Package: a\nVersion: 1\npackage: b\n",
		"signed":         "-----BEGIN PGP SIGNED MESSAGE-----\n",
		"no fields":      "just text\n",
	} {
		if _, err := deb.Control([]byte(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestMD5Sums(t *testing.T) {
	got, err := deb.MD5Sums([]byte("9d66f7e4bf216f64c4091adfdfcb444c  lib/libexpat.so.1\n4fcc7d1effd5d9789581801bd86b27d2  usr/share/doc/x y/AUTHORS\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []deb.Sum{{"lib/libexpat.so.1", "9d66f7e4bf216f64c4091adfdfcb444c"}, {"usr/share/doc/x y/AUTHORS", "4fcc7d1effd5d9789581801bd86b27d2"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for name, in := range map[string]string{
		"short":     "abc  x\n",
		"not hex":   strings.Repeat("z", 32) + "  x\n",
		"separator": strings.Repeat("a", 32) + "--x\n",
		"twice":     strings.Repeat("a", 32) + "  x\n" + strings.Repeat("b", 32) + "  x\n",
	} {
		if _, err := deb.MD5Sums([]byte(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
