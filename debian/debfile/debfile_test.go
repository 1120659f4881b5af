package debfile

import (
	"bytes"
	"testing"

	"github.com/reprove/reprove/debian/debfile/debtest"
)

func TestControl(t *testing.T) {
	deb := debtest.Deb(debtest.Package{Name: "hello", Version: "1.0-1", Arch: "amd64", Files: map[string]string{"usr/bin/hello": "#!/bin/sh\necho hi\n"}})
	got, err := Control("hello.deb", bytes.NewReader(deb), int64(len(deb)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(got, []byte("Package: hello\n")) {
		t.Errorf("control = %q", got)
	}
	for _, bad := range [][]byte{nil, []byte("!<arch>\n"), deb[:100], append([]byte("!<arch>\nx"), deb[9:]...)} {
		if _, err := Control("bad.deb", bytes.NewReader(bad), int64(len(bad))); err == nil {
			t.Errorf("accepted %q…", bad[:min(len(bad), 20)])
		}
	}
}

func FuzzControl(f *testing.F) {
	f.Add(debtest.Deb(debtest.Package{Name: "a", Version: "1", Arch: "all"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		Control("fuzz", bytes.NewReader(b), int64(len(b)))
	})
}
