package infer

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"testing"
)

// smallLimits keep fuzzing fast while still exercising the limits.
var smallLimits = Limits{MaxSize: 8 << 20, MaxRead: 16 << 20}

// FuzzRead feeds arbitrary bytes to the executable reader: it must never
// panic or read past its budget, and whatever it returns must be usable by
// Infer without a panic.
func FuzzRead(f *testing.F) {
	// Seeds: prefixes of a real Go executable (this test binary) and of
	// hand-made headers of each format.
	if exe, err := os.Executable(); err == nil {
		if data, err := os.ReadFile(exe); err == nil {
			for _, n := range []int{64, 512, 4096, 64 << 10} {
				f.Add(data[:min(n, len(data))])
			}
		}
	}
	f.Add([]byte("\x7fELF\x02\x01\x01\x00"))
	f.Add([]byte("MZ\x90\x00"))
	f.Add([]byte("\xcf\xfa\xed\xfe\x07\x00\x00\x01"))
	f.Add([]byte("\xca\xfe\xba\xbe\x00\x00\x00\x02"))
	f.Fuzz(func(t *testing.T, data []byte) {
		facts, err := Read(bytes.NewReader(data), int64(len(data)), smallLimits)
		if err != nil {
			return
		}
		if facts.BuildInfo == nil {
			t.Fatal("Read succeeded without build info")
		}
		res, err := Infer(facts, defaults)
		if err == nil && (res.Recipe == nil || len(res.Candidates) == 0) {
			t.Fatal("Infer succeeded without a recipe")
		}
	})
}

func tarOf(t testing.TB, gz bool, files map[string]string) []byte {
	var b bytes.Buffer
	var w io.Writer = &b
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&b)
		w = zw
	}
	tw := tar.NewWriter(w)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func zipOf(t testing.TB, files map[string]string) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// FuzzExtract feeds arbitrary archives to the member extractor: it must
// never panic, never write more than the member limit, and a member it
// returns must hash to the digest it reports.
func FuzzExtract(f *testing.F) {
	files := map[string]string{"package/bin/esbuild": "\x7fELF...", "package/package.json": "{}"}
	f.Add(tarOf(f, true, files))
	f.Add(tarOf(f, false, files))
	f.Add(zipOf(f, files))
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte("PK\x05\x06"))
	lim := Limits{MaxSize: 1 << 20, MaxRead: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		d, err := extract(context.Background(), bytes.NewReader(data), int64(len(data)), "package/bin/esbuild", &out, lim)
		if err != nil {
			return
		}
		if int64(out.Len()) > lim.MaxSize {
			t.Fatalf("extracted %d bytes, over the limit", out.Len())
		}
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
	})
}
