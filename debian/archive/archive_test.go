package archive_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/debian/archive/archivetest"
	"github.com/reprove/reprove/debian/debfile/debtest"
)

var suite = archivetest.Suite{Name: "testing", Arch: "amd64", Date: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC),
	Packages: []debtest.Package{{Name: "hello", Version: "1.0-1", Arch: "amd64", Files: map[string]string{"usr/bin/hello": "#!/bin/sh\necho hi\n"}}}}

func client(t *testing.T, base string, keyPath string) *archive.Client {
	kr, err := archive.LoadKeyring(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	return &archive.Client{Base: base, Keyring: kr}
}

// A signed suite verifies and its index parses; each tampering is
// refused with an error that says what.
func TestTamperingRefused(t *testing.T) {
	key := archivetest.NewKey(t, "archive")
	files := suite.Files(t, key)
	m := archivetest.NewMirror(t, files)
	ctx := context.Background()
	c := client(t, m.URL, archivetest.Keyring(t, key))
	rel, err := c.Release(ctx, "testing")
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := c.Packages(ctx, rel, "testing", "main", "amd64")
	if err != nil || len(pkgs) != 1 || pkgs[0].Package != "hello" {
		t.Fatalf("Packages = %v, %v", pkgs, err)
	}

	// Another key's keyring.
	other := client(t, m.URL, archivetest.Keyring(t, archivetest.NewKey(t, "other")))
	var se *archive.SignatureError
	if _, err := other.Release(ctx, "testing"); !errors.As(err, &se) {
		t.Errorf("signed by an unknown key: %v, want a SignatureError", err)
	}

	// The signed text changed (a hash of the index swapped).
	inr := files["dists/testing/InRelease"]
	tampered := bytes.Replace(inr, []byte("Suite: testing"), []byte("Suite: testinG"), 1)
	m.Put("dists/testing/InRelease", tampered)
	if _, err := c.Release(ctx, "testing"); !errors.As(err, &se) {
		t.Errorf("tampered text: %v, want a SignatureError", err)
	}

	// The signature itself damaged.
	i := bytes.Index(inr, []byte("-----BEGIN PGP SIGNATURE-----")) + 40
	sig := bytes.Clone(inr)
	sig[i] ^= 1
	m.Put("dists/testing/InRelease", sig)
	if _, err := c.Release(ctx, "testing"); err == nil {
		t.Error("a damaged signature was accepted")
	}

	// Text after the signed block.
	m.Put("dists/testing/InRelease", append(bytes.Clone(inr), "\nSHA256:\n 00 1 x\n"...))
	if _, err := c.Release(ctx, "testing"); !errors.As(err, &se) {
		t.Errorf("trailing text: %v, want a SignatureError", err)
	}

	// The index served is not the one the Release signs.
	m.Put("dists/testing/InRelease", inr)
	idx := bytes.Clone(files["dists/testing/main/binary-amd64/Packages.gz"])
	idx[len(idx)-1] ^= 1
	m.Put("dists/testing/main/binary-amd64/Packages.gz", idx)
	var ie *archive.IndexError
	if _, err := c.Packages(ctx, rel, "testing", "main", "amd64"); !errors.As(err, &ie) {
		t.Errorf("tampered index: %v, want an IndexError", err)
	} else {
		t.Log(err)
	}
}

// An expired Release is refused unless it is a snapshot's.
func TestValidUntil(t *testing.T) {
	key := archivetest.NewKey(t, "archive")
	now := time.Now().UTC()
	text := []byte("Suite: s\nCodename: s\nDate: " + now.Add(-48*time.Hour).Format(time.RFC1123) + "\nValid-Until: " + now.Add(-24*time.Hour).Format(time.RFC1123) + "\nSHA256:\n")
	signed := archivetest.Sign(t, key, text)
	kr, err := archive.LoadKeyring(archivetest.Keyring(t, key))
	if err != nil {
		t.Fatal(err)
	}
	late := now.Add(time.Minute)
	if _, err := archive.Verify("InRelease", signed, kr, archive.VerifyOptions{Now: late}); err == nil {
		t.Error("an expired Release was accepted")
	}
	if _, err := archive.Verify("InRelease", signed, kr, archive.VerifyOptions{Now: late, IgnoreValidUntil: true}); err != nil {
		t.Errorf("a snapshot's expired Release: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add([]byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nSuite: s\n-----BEGIN PGP SIGNATURE-----\n\nAA==\n-----END PGP SIGNATURE-----\n"))
	kr, err := archive.LoadKeyring(archive.DefaultKeyring)
	if err != nil {
		f.Skip("no keyring")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := archive.Verify("fuzz", b, kr, archive.VerifyOptions{}); err == nil {
			t.Fatal("an unsigned document verified")
		}
	})
}
