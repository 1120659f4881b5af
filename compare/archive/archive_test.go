package archive_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reprove/reprove/compare/archive"
	"github.com/reprove/reprove/compare/fixture"
)

func TestUnsafeNames(t *testing.T) {
	tests := []struct {
		members []M
		want    string // "" for accepted
	}{
		{[]M{{Name: "a/b/c"}}, ""},
		{[]M{{Name: "./a/../../b"}}, `path escapes the archive root ("..")`},
		{[]M{{Name: `a\..\..\b`}}, `path escapes the archive root ("..")`},
		{[]M{{Name: "/abs"}}, "absolute path"},
		{[]M{{Name: "C:/x"}}, "absolute path"},
		{[]M{{Name: "l", Type: tar.TypeSymlink, Link: "/"}, {Name: "l/x"}}, `path goes through symlink member "l"`},
		{[]M{{Name: "l", Type: tar.TypeSymlink, Link: "/"}, {Name: "./l/d/x"}}, `path goes through symlink member "l"`},
		{[]M{{Name: "l", Type: tar.TypeSymlink, Link: "target"}, {Name: "lx"}}, ""},
	}
	for _, tc := range tests {
		err := archive.ReadTar(context.Background(), bytes.NewReader(fixture.Tar(tc.members...)), "t.tar", archive.NewBudget(archive.Limits{}),
			func(*archive.Entry, io.Reader) error { return nil })
		got := ""
		var ue *archive.UnsafeNameError
		if errors.As(err, &ue) {
			got = ue.Reason
		} else if err != nil {
			t.Fatalf("%v: unexpected error %v", tc.members, err)
		}
		if got != tc.want {
			t.Errorf("%v: refusal %q, want %q", tc.members, got, tc.want)
		}
	}
}

func TestGzipHeaderFields(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Name, zw.Comment, zw.ModTime, zw.OS, zw.Extra = "app.tar", "built by ci", time.Unix(1700000000, 0), 3, []byte("xy")
	zw.Write([]byte("payload"))
	zw.Close()
	s, err := archive.ReadGzipHeader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	want := []archive.Field{
		{Name: "gzip mtime", Class: archive.ClassHeader, Value: "1700000000 (2023-11-14T22:13:20Z)"},
		{Name: "gzip flags", Class: archive.ClassHeader, Value: "0x00"},
		{Name: "gzip extra flags", Class: archive.ClassHeader, Value: "0"},
		{Name: "gzip os", Class: archive.ClassHeader, Value: "3"},
		{Name: "gzip extra", Class: archive.ClassHeader, Value: "7879"},
		{Name: "gzip name", Class: archive.ClassHeader, Value: `"app.tar"`},
		{Name: "gzip comment", Class: archive.ClassHeader, Value: `"built by ci"`},
	}
	if diff := cmp.Diff(want, s.Header); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	if wantLen := int64(10 + 2 + 2 + len("app.tar") + 1 + len("built by ci") + 1); s.HeaderLen != wantLen {
		t.Errorf("HeaderLen = %d, want %d", s.HeaderLen, wantLen)
	}
}

func TestZipEntryFields(t *testing.T) {
	z := fixture.Zip(6, M{Name: "bin/tool", Mode: 0o4755, Body: []byte("x")}, M{Name: "link", Type: tar.TypeSymlink, Link: "bin/tool"})
	zr, err := archive.OpenZip(context.Background(), bytes.NewReader(z), int64(len(z)), "t.zip", archive.NewBudget(archive.Limits{}))
	if err != nil {
		t.Fatal(err)
	}
	field := func(m *archive.ZipMember, name string) string {
		for _, f := range m.Fields {
			if f.Name == name {
				return f.Value
			}
		}
		return "(none)"
	}
	got := []string{zr.Members[0].Type, field(zr.Members[0], "mode"), zr.Members[1].Type, field(zr.Members[1], "link target")}
	want := []string{"file", "04755", "symlink", `"bin/tool"`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if zr.Outside != 0 {
		t.Errorf("Outside = %d bytes for a zip with nothing hidden", zr.Outside)
	}
}
