package pe_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/reprove/reprove/compare/fixture"
	"github.com/reprove/reprove/compare/pe"
)

func TestLayoutSmall(t *testing.T) {
	unsigned := fixture.PE([]byte("\x90\xc3"), 5, nil)
	signed := fixture.PE([]byte("\x90\xc3"), 5, []byte("not really pkcs7"))
	ul, err := pe.ReadLayout(bytes.NewReader(unsigned), int64(len(unsigned)))
	if err != nil {
		t.Fatal(err)
	}
	sl, err := pe.ReadLayout(bytes.NewReader(signed), int64(len(signed)))
	if err != nil {
		t.Fatal(err)
	}
	if ul.Signed() || !sl.Signed() || ul.Timestamp != 5 {
		t.Fatalf("layouts %+v %+v", ul, sl)
	}
	if _, err := pe.ReadSignature(bytes.NewReader(signed), sl); err == nil {
		t.Error("garbage PKCS#7 accepted")
	}
	// Data after the certificate table is refused.
	tail := append(bytes.Clone(signed), "tail"...)
	if _, err := pe.ReadLayout(bytes.NewReader(tail), int64(len(tail))); err == nil {
		t.Error("certificate table not at the end accepted")
	}
}

func FuzzLayout(f *testing.F) {
	f.Add(fixture.PE([]byte("\x90\xc3"), 1, nil))
	f.Add(fixture.PE([]byte("\x90\xc3"), 1, []byte("0\x82\x00\x10garbage")))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		l, err := pe.ReadLayout(r, int64(len(data)))
		if err != nil {
			return
		}
		v, n := pe.View(r, l, pe.Strip{Timestamp: true, Checksum: true, Signature: true})
		got, err := io.ReadAll(v)
		if err != nil || int64(len(got)) != n || n > int64(len(data)) {
			t.Fatalf("view: %d bytes, want %d (err %v)", len(got), n, err)
		}
		if l.Signed() {
			pe.ReadSignature(r, l)
		}
	})
}
