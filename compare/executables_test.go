package compare_test

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprove/reprove/compare"
	"github.com/reprove/reprove/compare/internal/testexe"
	"github.com/reprove/reprove/compare/pe"
	"github.com/reprove/reprove/compare/report"
	"github.com/reprove/reprove/compare/verdict"
)

func filesReport(t *testing.T, a, b string, norms ...string) *report.Report {
	t.Helper()
	r, err := compare.Files(context.Background(), a, b, compare.Options{Normalizers: norms})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func hasLeaf(ls []string, prefix string) bool {
	return slices.ContainsFunc(ls, func(s string) bool { return strings.HasPrefix(s, prefix) })
}

// A string literal edited in place (same length): no code or header
// changes, so the strings say what changed.
func TestELFSameLengthString(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go programs")
	}
	a := testexe.Build(t, "linux", "amd64", testexe.Hello("hello, world"))
	b := testexe.Build(t, "linux", "amd64", testexe.Hello("hello, World"))
	r := filesReport(t, a, b, verdict.NormalizerNames()...)
	if r.Verdict != verdict.Different {
		t.Fatalf("verdict = %v, want different", r.Verdict)
	}
	ls := leaves(r)
	for _, want := range []string{`strings/"hello, world": removed string`, `strings/"hello, World": added string`, "sections/.rodata/bytes: bytes"} {
		if !slices.Contains(ls, want) {
			t.Errorf("no %q in %q", want, ls)
		}
	}
	if r.Suggested != nil {
		t.Errorf("Suggested = %v for a content change", r.Suggested)
	}
}

func TestELFBuildInfo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go programs")
	}
	a := testexe.Build(t, "linux", "amd64", testexe.Hello("hi"), "-tags=one")
	b := testexe.Build(t, "linux", "amd64", testexe.Hello("hi"), "-tags=two")
	r := filesReport(t, a, b)
	ls := leaves(r)
	if !slices.Contains(ls, "go build info/setting -tags: buildinfo") {
		t.Errorf("no -tags build-info difference in %q", ls)
	}
}

func TestAuthenticode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Windows program and signs it with osslsigncode")
	}
	unsigned := testexe.Build(t, "windows", "amd64", testexe.Hello("hi"))
	signed := testexe.Sign(t, unsigned, "Example Vendor Code Signing")

	// Unsigned rebuild vs signed release, normalizer not allowed.
	r := filesReport(t, unsigned, signed)
	if diff := cmp.Diff(sorted([]string{"checksum: pe-checksum (authenticode not allowed)", "authenticode signature: signature (authenticode not allowed)"}), leaves(r)); diff != "" {
		t.Errorf("leaves (-want +got):\n%s", diff)
	}
	if r.Verdict != verdict.Different || !slices.Equal(r.Suggested, []string{"authenticode"}) {
		t.Errorf("verdict %v suggested %v; want different, suggested authenticode", r.Verdict, r.Suggested)
	}

	// Allowed: equivalent, and the signer is reported.
	r = filesReport(t, unsigned, signed, "authenticode")
	if r.Verdict != verdict.Equivalent || !slices.Equal(r.Normalizers, []string{"authenticode"}) {
		t.Fatalf("verdict %v normalizers %v; want equivalent under authenticode; leaves %q", r.Verdict, r.Normalizers, leaves(r))
	}
	sig := findKind(r.Differences, verdict.KindSignature)
	if sig == nil || sig.Signature == nil || !strings.Contains(sig.Signature.Signer, "CN=Example Vendor Code Signing") ||
		!sig.Signature.DigestMatches || !sig.Signature.SignatureValid || sig.Rebuilt != "unsigned" || !strings.Contains(sig.Shipped, "signed by CN=Example Vendor Code Signing") {
		t.Errorf("signature node = %+v", sig)
	}

	// A signed release whose code was changed after the rebuild is
	// different, signature stripped or not.
	data, err := os.ReadFile(signed)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(unsigned)
	st, _ := f.Stat()
	l, err := pe.ReadLayout(f, st.Size())
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	tampered := slices.Clone(data)
	tampered[0x600] ^= 0x01 // inside .text
	tp := filepath.Join(t.TempDir(), "tampered.exe")
	os.WriteFile(tp, tampered, 0o644)
	r = filesReport(t, unsigned, tp, verdict.NormalizerNames()...)
	if r.Verdict != verdict.Different || !hasLeaf(leaves(r), "sections/.text/bytes: bytes") || !hasLeaf(leaves(r), "data/.text (outside functions): changed data") {
		t.Errorf("tampered .text: verdict %v, leaves %q", r.Verdict, leaves(r))
	}
	// Bytes appended after the signature: the table is no longer last.
	appended := append(slices.Clone(data), "hidden"...)
	ap := filepath.Join(t.TempDir(), "appended.exe")
	os.WriteFile(ap, appended, 0o644)
	r = filesReport(t, unsigned, ap, verdict.NormalizerNames()...)
	if r.Verdict != verdict.Different {
		t.Errorf("data after the signature: verdict %v, leaves %q", r.Verdict, leaves(r))
	}
	// The PE timestamp normalizer.
	stamped := mustRead(t, unsigned)
	binary.LittleEndian.PutUint32(stamped[l.TimestampOff:], 0x65000000)
	binary.LittleEndian.PutUint32(stamped[l.ChecksumOff:], 0x1234)
	sp := filepath.Join(t.TempDir(), "stamped.exe")
	os.WriteFile(sp, stamped, 0o644)
	r = filesReport(t, unsigned, sp, "pe-timestamp")
	if r.Verdict != verdict.Equivalent || !slices.Equal(r.Normalizers, []string{"pe-timestamp"}) {
		t.Errorf("timestamp: verdict %v normalizers %v leaves %q", r.Verdict, r.Normalizers, leaves(r))
	}
	// authenticode does not cover a checksum when no signature differs.
	r = filesReport(t, unsigned, sp, "authenticode")
	if r.Verdict != verdict.Different || !slices.Equal(r.Suggested, []string{"pe-timestamp"}) {
		t.Errorf("timestamp under authenticode: verdict %v suggested %v leaves %q", r.Verdict, r.Suggested, leaves(r))
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func findKind(n *report.Node, k verdict.Kind) *report.Node {
	if n == nil {
		return nil
	}
	if n.Kind == k {
		return n
	}
	for _, c := range n.Children {
		if f := findKind(c, k); f != nil {
			return f
		}
	}
	return nil
}

func TestMachO(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go programs")
	}
	a := testexe.Build(t, "darwin", "arm64", testexe.Hello("hello, world"))
	b := testexe.Build(t, "darwin", "arm64", testexe.Hello("hello, World"))
	r := filesReport(t, a, b)
	if r.Verdict != verdict.Different || r.Rebuilt.Format.String() != "macho" {
		t.Fatalf("verdict %v format %v", r.Verdict, r.Rebuilt.Format)
	}
	ls := leaves(r)
	for _, want := range []string{`strings/"hello, world": removed string`, `strings/"hello, World": added string`, "sections/__TEXT,__rodata/bytes: bytes"} {
		if !slices.Contains(ls, want) {
			t.Errorf("no %q in %q", want, ls)
		}
	}
}
