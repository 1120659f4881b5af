package archive_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/reprove/reprove/compare/archive"
	"github.com/reprove/reprove/compare/fixture"
	"github.com/reprove/reprove/compare/format"
)

type M = fixture.Member

var seedMembers = []M{
	{Name: "d/", Type: tar.TypeDir},
	{Name: "d/f", Body: []byte("content\n"), Mode: 0o4755},
	{Name: "d/l", Type: tar.TypeSymlink, Link: "f"},
}

func small() archive.Limits {
	return archive.Limits{MaxEntries: 1000, MaxDepth: 4, MaxExpanded: 8 << 20, MaxRatio: 100, MaxWindow: 1 << 20}
}

func FuzzReadTar(f *testing.F) {
	f.Add(fixture.Tar(seedMembers...))
	f.Add(fixture.Tar(M{Name: "a", Type: tar.TypeSymlink, Link: "/etc"}, M{Name: "a/b"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := archive.NewBudget(small())
		_ = archive.ReadTar(context.Background(), bytes.NewReader(data), "fuzz", b, func(e *archive.Entry, body io.Reader) error {
			if e.Name == "" {
				t.Fatal("empty name accepted")
			}
			_, err := io.Copy(io.Discard, body)
			return err
		})
	})
}

func FuzzOpenZip(f *testing.F) {
	f.Add(fixture.Zip(6, seedMembers...))
	f.Add(fixture.Zip(0, seedMembers...))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := archive.NewBudget(small())
		z, err := archive.OpenZip(context.Background(), bytes.NewReader(data), int64(len(data)), "fuzz", b)
		if err != nil {
			return
		}
		for _, m := range z.Members {
			if !m.Regular() {
				continue
			}
			rc, err := z.Open(m)
			if err != nil {
				continue
			}
			io.Copy(io.Discard, rc)
			rc.Close()
		}
	})
}

func FuzzReadAr(f *testing.F) {
	f.Add(fixture.Ar(M{Name: "debian-binary", Body: []byte("2.0\n")}, M{Name: "data.tar", Body: fixture.Tar(seedMembers...)}))
	f.Add([]byte("!<arch>\n//                                              8         `\nlongname/\n/0              0           0     0     100644  1         `\nx\n"))
	f.Add([]byte("!<arch>\n#1/8            0           0     0     100644  9         `\nbsdname\x00x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := archive.ReadAr(context.Background(), bytes.NewReader(data), int64(len(data)), "fuzz", archive.NewBudget(small()))
		if err != nil {
			return
		}
		for _, m := range ms {
			if m.Content.Size() < 0 {
				t.Fatalf("member %q: negative size", m.Name)
			}
			io.Copy(io.Discard, m.Content)
		}
	})
}

func FuzzGzipHeader(f *testing.F) {
	f.Add(fixture.Gzip([]byte("x"), fixture.Epoch, 6))
	f.Add([]byte{0x1f, 0x8b, 8, 0x1e, 0, 0, 0, 0, 0, 3, 2, 0, 'a', 'b', 'n', 0, 'c', 0, 1, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := archive.ReadGzipHeader(bytes.NewReader(data))
		if err != nil {
			return
		}
		if s.HeaderLen < 10 || s.HeaderLen > int64(len(data)) {
			t.Fatalf("header length %d for %d bytes", s.HeaderLen, len(data))
		}
	})
}

func FuzzDecompress(f *testing.F) {
	payload := fixture.Tar(seedMembers...)
	f.Add(fixture.Gzip(payload, fixture.Epoch, 6))
	f.Add(fixture.Xz(payload))
	f.Add(fixture.Zstd(payload))
	f.Add([]byte("BZh91AY&SY"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fm := format.Detect(data, int64(len(data)))
		if !fm.Compressed() {
			return
		}
		for _, first := range []int64{0, archive.XzFirstBlock(bytes.NewReader(data), int64(len(data)))} {
			b := archive.NewBudget(small())
			rc, err := archive.DecompressSized(bytes.NewReader(data), fm, "fuzz", b, first)
			if err != nil {
				continue
			}
			n, _ := io.Copy(io.Discard, rc)
			rc.Close()
			if n > small().MaxExpanded+64<<10 {
				t.Fatalf("expanded %d bytes past the limit", n)
			}
		}
	})
}
