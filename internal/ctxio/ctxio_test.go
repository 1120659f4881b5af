package ctxio

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestReaderStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := NewReader(ctx, bytes.NewReader(make([]byte, 10)))
	buf := make([]byte, 4)
	if n, err := r.Read(buf); n != 4 || err != nil {
		t.Fatalf("first read: %d, %v", n, err)
	}
	cancel()
	if _, err := r.Read(buf); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v, want context.Canceled", err)
	}
	if r.N() != 4 {
		t.Errorf("N = %d, want 4", r.N())
	}
}

func TestProgress(t *testing.T) {
	var got []int64
	size := int64(2*ProgressEvery + 5)
	d, err := HashReader(context.Background(), io.LimitReader(zeros{}, size), func(n int64) { got = append(got, n) })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != ProgressEvery || got[1] != 2*ProgressEvery || got[2] != size {
		t.Errorf("progress %v, want every %d bytes and once at the end (%d)", got, ProgressEvery, size)
	}
	h := sha256.New()
	io.Copy(h, io.LimitReader(zeros{}, size))
	if d != digest.NewDigest(digest.SHA256, h) {
		t.Errorf("digest %s is wrong", d)
	}
}

func TestProgressEvery(t *testing.T) {
	var got []int64
	r := NewReader(context.Background(), bytes.NewReader(make([]byte, 2500)))
	r.Every = 1000
	r.Progress = func(n int64) { got = append(got, n) }
	// Reads of 100 bytes: a report once 1000 have passed since the last.
	if _, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, r, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if want := []int64{1000, 2000, 2500}; !slices.Equal(got, want) {
		t.Errorf("progress %v, want %v", got, want)
	}
}

func TestHashFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("hello\n"), 0o644)
	d, err := HashFile(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d != digest.FromBytes([]byte("hello\n")) {
		t.Errorf("got %s", d)
	}
	if _, err := HashFile(context.Background(), filepath.Join(t.TempDir(), "missing"), nil); err == nil {
		t.Error("a missing file hashed")
	}
	a, b := sha256.New(), sha512.New()
	n, err := HashReaderAll(context.Background(), bytes.NewReader([]byte("hello\n")), nil, a, b)
	if err != nil || n != 6 {
		t.Fatalf("HashReaderAll: %d, %v", n, err)
	}
	if digest.NewDigest(digest.SHA256, a) != d {
		t.Error("HashReaderAll's sha256 differs from HashFile's")
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// A Meter hears a rising count and, at EOF, one report of the whole size
// against itself, whether or not the size was announced (or announced
// wrong).
func TestMeterReader(t *testing.T) {
	size := int64(3*MeterEvery + 10)
	for _, announced := range []int64{size, 0, size + 1} {
		var got [][2]int64
		m := Meter(func(label string, done, total int64) {
			if label != "downloading x" {
				t.Errorf("label %q", label)
			}
			got = append(got, [2]int64{done, total})
		})
		if _, err := io.Copy(io.Discard, m.Reader(context.Background(), io.LimitReader(zeros{}, size), "downloading x", announced)); err != nil {
			t.Fatal(err)
		}
		want := [][2]int64{{MeterEvery, announced}, {2 * MeterEvery, announced}, {3 * MeterEvery, announced}}
		if announced != size {
			want = append(want, [2]int64{size, announced})
		}
		want = append(want, [2]int64{size, size})
		if !slices.Equal(got, want) {
			t.Errorf("announced %d: reports %v, want %v", announced, got, want)
		}
	}
	var nilMeter Meter
	if nilMeter.Func("x", 1) != nil {
		t.Error("a nil Meter gives a callback")
	}
}
