package unpack

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type member struct {
	name, body, link string
	typ              byte
	mode             int64
}

func tarGz(t testing.TB, members []member) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, m := range members {
		typ := m.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := m.mode
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Name: m.name, Typeflag: typ, Mode: mode, Linkname: m.link, Size: int64(len(m.body)), ModTime: time.Unix(1700000000, 0)}
		if typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			tw.Write([]byte(m.body))
		}
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func zipOf(t testing.TB, files map[string]string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(files[n]))
	}
	zw.Close()
	return buf.Bytes()
}

func writeTemp(t testing.TB, data []byte) string {
	p := filepath.Join(t.TempDir(), "archive")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func listTree(t *testing.T, dir string) []string {
	var out []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out = append(out, rel+" -> "+l)
		case info.IsDir():
			out = append(out, rel+"/")
		default:
			b, _ := os.ReadFile(p)
			out = append(out, rel+" "+info.Mode().Perm().String()+" "+string(b))
		}
		return nil
	})
	return out
}

func TestExtract(t *testing.T) {
	arch := tarGz(t, []member{
		{name: "pkg-1.0/", typ: tar.TypeDir, mode: 0o755},
		{name: "pkg-1.0/main.go", body: "package main\n"},
		{name: "pkg-1.0/run.sh", body: "#!/bin/sh\n", mode: 0o4755},
		{name: "pkg-1.0/sub/link", typ: tar.TypeSymlink, link: "../main.go"},
		{name: "pkg-1.0/hard", typ: tar.TypeLink, link: "pkg-1.0/main.go"},
	})
	dir := filepath.Join(t.TempDir(), "src")
	newest, err := Extract(context.Background(), writeTemp(t, arch), dir, 1, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if newest.Unix() != 1700000000 {
		t.Errorf("newest = %v", newest)
	}
	want := []string{
		"hard -rw-r--r-- package main\n",
		"main.go -rw-r--r-- package main\n",
		"run.sh -rwxr-xr-x #!/bin/sh\n", // setuid dropped
		"sub/",
		"sub/link -> ../main.go",
	}
	if diff := cmp.Diff(want, listTree(t, dir)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}

	zdir := filepath.Join(t.TempDir(), "z")
	if _, err := Extract(context.Background(), writeTemp(t, zipOf(t, map[string]string{"a/b.txt": "b"})), zdir, 0, DefaultLimits); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a/", "a/b.txt -rw-r--r-- b"}, listTree(t, zdir)); diff != "" {
		t.Errorf("zip tree (-want +got):\n%s", diff)
	}
}

func TestExtractRefusesHostileArchives(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		lim     Limits
		wantErr string
	}{
		{"dotdot", tarGz(t, []member{{name: "../evil", body: "x"}}), DefaultLimits, "leaves the archive"},
		{"nested dotdot", tarGz(t, []member{{name: "a/../../evil", body: "x"}}), DefaultLimits, "leaves the archive"},
		{"absolute", tarGz(t, []member{{name: "/etc/evil", body: "x"}}), DefaultLimits, "absolute path"},
		{"symlink out", tarGz(t, []member{{name: "l", typ: tar.TypeSymlink, link: "../../etc/passwd"}}), DefaultLimits, "symlink leaves"},
		{"symlink absolute", tarGz(t, []member{{name: "l", typ: tar.TypeSymlink, link: "/etc"}}), DefaultLimits, "absolute path /etc"},
		{"write through symlink", tarGz(t, []member{{name: "d", typ: tar.TypeSymlink, link: "x"}, {name: "d/f", body: "x"}}), DefaultLimits, "conflicting"},
		{"link through a linked directory", tarGz(t, []member{{name: "a/", typ: tar.TypeDir}, {name: "a/up", typ: tar.TypeSymlink, link: ".."}, {name: "a/up/evil", typ: tar.TypeSymlink, link: ".."}}), DefaultLimits, "symlink inside a symlinked directory"},
		{"chain out", tarGz(t, []member{{name: "c1", typ: tar.TypeSymlink, link: "sub/c2"}, {name: "sub/c2", typ: tar.TypeSymlink, link: "../../evil"}}), DefaultLimits, "symlink leaves"},
		{"hard link through a link", tarGz(t, []member{{name: "up", typ: tar.TypeSymlink, link: "."}, {name: "f", body: "x"}, {name: "h", typ: tar.TypeLink, link: "up/../../evil"}}), DefaultLimits, "outside the tree"},
		{"device", tarGz(t, []member{{name: "dev", typ: tar.TypeChar}}), DefaultLimits, "not allowed"},
		{"duplicate", tarGz(t, []member{{name: "a", body: "1"}, {name: "a", body: "2"}}), DefaultLimits, "duplicate"},
		{"hard link out", tarGz(t, []member{{name: "h", typ: tar.TypeLink, link: "../x"}}), DefaultLimits, "outside the tree"},
		{"too many", tarGz(t, []member{{name: "a", body: "1"}, {name: "b", body: "2"}}), Limits{Entries: 1, Bytes: 100}, "more than 1 members"},
		{"too big", tarGz(t, []member{{name: "a", body: strings.Repeat("x", 200)}}), Limits{Entries: 10, Bytes: 100}, "expands beyond"},
		{"not an archive", []byte("hello"), DefaultLimits, "not a tar"},
	}
	full := tarGz(t, []member{{name: "a", body: strings.Repeat("x", 10000)}})
	tests = append(tests, struct {
		name    string
		data    []byte
		lim     Limits
		wantErr string
	}{"truncated", full[:len(full)/2], DefaultLimits, "archive"})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "out")
			_, err := Extract(context.Background(), writeTemp(t, tc.data), dir, 0, tc.lim)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("a refused archive left %s behind", dir)
			}
			if _, err := os.Lstat(filepath.Join(base, "evil")); err == nil {
				t.Error("a member was written outside the directory")
			}
		})
	}
}

func FuzzExtract(f *testing.F) {
	f.Add(tarGz(f, []member{{name: "a/b", body: "x"}, {name: "a/l", typ: tar.TypeSymlink, link: "b"}}))
	f.Add(zipOf(f, map[string]string{"x/y": "z"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		dir := filepath.Join(base, "out")
		if _, err := Extract(context.Background(), writeTemp(t, data), dir, 0, Limits{Entries: 100, Bytes: 1 << 20}); err != nil {
			return
		}
		// Whatever was accepted stays inside dir, and no symlink points out.
		filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
			if err != nil {
				return nil
			}
			if !strings.HasPrefix(p, dir) {
				t.Fatalf("%s outside %s", p, dir)
			}
			if info.Mode()&os.ModeSymlink != 0 {
				l, _ := os.Readlink(p)
				res := filepath.Join(filepath.Dir(p), l)
				if filepath.IsAbs(l) || !strings.HasPrefix(res, dir) {
					t.Fatalf("symlink %s -> %s escapes", p, l)
				}
			}
			return nil
		})
		entries, _ := os.ReadDir(base)
		if len(entries) != 1 { // only out
			t.Fatalf("extraction wrote outside its directory: %v", entries)
		}
	})
}

func TestMember(t *testing.T) {
	arch := writeTemp(t, tarGz(t, []member{
		{name: "package/", typ: tar.TypeDir},
		{name: "./package/bin/tool", body: "ELF...", mode: 0o755},
		{name: "package/README", body: "hi"},
		{name: "package/dup", body: "1"},
		{name: "package/dup", body: "2"},
		{name: "package/link", typ: tar.TypeSymlink, link: "bin/tool"},
	}))
	ctx := context.Background()
	var out bytes.Buffer
	if err := Member(ctx, arch, "package/bin/tool", &out, DefaultLimits); err != nil {
		t.Fatal(err)
	}
	if out.String() != "ELF..." {
		t.Errorf("member contents %q", out.String())
	}
	zipArch := writeTemp(t, zipOf(t, map[string]string{"a/b": "zipped"}))
	out.Reset()
	if err := Member(ctx, zipArch, "a/b", &out, DefaultLimits); err != nil || out.String() != "zipped" {
		t.Errorf("zip member: %q, %v", out.String(), err)
	}

	tests := []struct {
		member  string
		lim     Limits
		wantErr string
		noMem   bool
	}{
		{"package/nope", DefaultLimits, "no such regular file", true},
		{"package/link", DefaultLimits, "not a regular file", true},
		{"package/dup", DefaultLimits, "appears more than once", false},
		{"../package/bin/tool", DefaultLimits, "not a clean relative path", false},
		{"/package/bin/tool", DefaultLimits, "not a clean relative path", false},
		{"package/bin/tool", Limits{MemberBytes: 3}, "member is over the 3-byte limit", false},
		{"package/bin/tool", Limits{Bytes: 600}, "decompresses to more than 600 bytes", false},
	}
	for _, tc := range tests {
		err := Member(ctx, arch, tc.member, io.Discard, tc.lim)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("Member(%s) = %v, want %q", tc.member, err, tc.wantErr)
		}
		if errors.Is(err, ErrNoMember) != tc.noMem {
			t.Errorf("Member(%s): errors.Is(ErrNoMember) = %v", tc.member, !tc.noMem)
		}
	}
	if err := Member(ctx, writeTemp(t, []byte("plain text, not an archive at all")), "x", io.Discard, DefaultLimits); err == nil || !strings.Contains(err.Error(), "not a tar") {
		t.Errorf("not an archive: %v", err)
	}
}

func FuzzMember(f *testing.F) {
	f.Add(tarGz(f, []member{{name: "package/bin/tool", body: "ELF"}, {name: "x", body: "y"}}))
	f.Add(zipOf(f, map[string]string{"package/bin/tool": "ELF"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		lim := Limits{Entries: 100, Bytes: 1 << 20, MemberBytes: 1 << 16}
		if err := MemberFrom(context.Background(), bytes.NewReader(data), int64(len(data)), "fuzz", "package/bin/tool", &out, lim); err != nil {
			return
		}
		if int64(out.Len()) > lim.MemberBytes {
			t.Fatalf("copied %d bytes, over the member limit", out.Len())
		}
	})
}
