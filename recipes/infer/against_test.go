package infer

import (
	"strings"

	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/debian/deb822"
	"github.com/reprove/reprove/recipes"
)

// rebuiltAgainst reads what a binNMU's changelog entry says it was rebuilt
// against (the entries are the real ones of bookworm's tini 0.19.0-1+b3,
// libmath-libm-perl 1.0-2+b1 and python-kyotocabinet 1.23-3+b3, and a
// Built-Using rebuild), and finds each source's version in the lock by
// the pool directory its .debs sit in.
func TestRebuiltAgainst(t *testing.T) {
	lk := &recipes.DebianLock{Packages: []recipes.DebianPackage{
		{Name: "libc6", Version: "2.36-9+deb12u14", Path: "pool/main/g/glibc/libc6_2.36-9+deb12u14_amd64.deb"},
		{Name: "libc6-dev", Version: "2.36-9+deb12u14", Path: "pool/main/g/glibc/libc6-dev_2.36-9+deb12u14_amd64.deb"},
		{Name: "perl", Version: "5.36.0-7+deb12u3", Path: "pool/main/p/perl/perl_5.36.0-7+deb12u3_amd64.deb"},
		{Name: "libgcc-s1", Version: "12.2.0-14+deb12u1", Path: "pool/main/g/gcc-12/libgcc-s1_12.2.0-14+deb12u1_amd64.deb"},
		{Name: "libfoo1", Version: "1:2.0-1+b2", Path: "pool/main/f/foo/libfoo1_2.0-1+b2_amd64.deb"},
	}}
	head := "x (1-1+b1) bookworm; urgency=low, binary-only=yes\n\n  * Binary-only non-maintainer upload for amd64; no source changes.\n"
	tail := "\n -- amd64 / i386 Build Daemon (x86-ubc-01) <buildd_amd64-x86-ubc-01@buildd.debian.org>  Fri, 06 Jun 2025 14:53:49 +0000\n"
	for _, tc := range []struct {
		name, line string
		want       []against
	}{
		{"glibc", "  * Rebuild against glibc 2.36-9+deb12u12\n", []against{{"glibc", "2.36-9+deb12u12", "2.36-9+deb12u14"}}},
		{"same glibc", "  * Rebuild against glibc 2.36-9+deb12u14.\n", []against{{"glibc", "2.36-9+deb12u14", "2.36-9+deb12u14"}}},
		{"perl series", "  * Rebuild against perl 5.36.\n", []against{{"perl", "5.36", "5.36.0-7+deb12u3"}}},
		{"python", "  * Rebuild with Python 3.11 only\n", nil},
		{"built-using", "  * Rebuild for outdated Built-Using (gcc-12/12.2.0-14, glibc/2.36-9+deb12u4)\n",
			[]against{{"gcc-12", "12.2.0-14", "12.2.0-14+deb12u1"}, {"glibc", "2.36-9+deb12u4", "2.36-9+deb12u14"}}},
		{"epoch and binNMU of the lock's", "  * Rebuild against foo 1:2.0-1\n", []against{{"foo", "2.0-1", "2.0-1"}}},
		{"not in the lock", "  * Rebuild against libbar 3.1-2\n", []against{{"libbar", "3.1-2", ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rebuiltAgainst(head+tc.line+tail, lk)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(against{})); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// InferDeb says, as a guess, that a binNMU rebuilt against an older glibc
// than the lock's will differ where it takes from glibc at build time
// (tini-static links it in), and says nothing of a version series.
func TestInferDebRebuiltAgainst(t *testing.T) {
	lk := &recipes.DebianLock{Architecture: "amd64", Packages: []recipes.DebianPackage{
		{Name: "libc6", Version: "2.36-9+deb12u14", Arch: "amd64", Path: "pool/main/g/glibc/libc6_2.36-9+deb12u14_amd64.deb", Size: 1, SHA256: digest.Digest("sha256:" + strings.Repeat("a", 64))},
		{Name: "perl", Version: "5.36.0-7+deb12u3", Arch: "amd64", Path: "pool/main/p/perl/perl_5.36.0-7+deb12u3_amd64.deb", Size: 1, SHA256: digest.Digest("sha256:" + strings.Repeat("b", 64))},
	}}
	facts := func(line string) *DebFacts {
		return &DebFacts{
			Control: &deb822.BinaryPackage{Package: "tini", Version: "0.19.0-1+b3", Architecture: "amd64"},
			Source: &deb822.SourcePackage{Package: "tini", Version: "0.19.0-1", Directory: "pool/main/t/tini",
				Files: []deb822.File{{Name: "tini_0.19.0-1.dsc", SHA256: digest.Digest("sha256:" + strings.Repeat("c", 64))}}},
			Lock:   lk,
			BinNMU: "tini (0.19.0-1+b3) bookworm; urgency=low, binary-only=yes\n\n  * Binary-only non-maintainer upload for amd64; no source changes.\n" + line + "\n -- amd64 / i386 Build Daemon (x86-ubc-01) <buildd_amd64-x86-ubc-01@buildd.debian.org>  Fri, 06 Jun 2025 14:53:49 +0000\n",
			Mirror: "https://deb.debian.org/debian",
			Suite:  "bookworm",
		}
	}
	for _, tc := range []struct {
		line string
		want []Finding
	}{
		{"  * Rebuild against glibc 2.36-9+deb12u12\n", []Finding{{Certainty: Guess, Topic: "rebuilt against", Value: "glibc 2.36-9+deb12u12"}}},
		{"  * Rebuild against perl 5.36.\n", nil},
	} {
		res, err := InferDeb(facts(tc.line))
		if err != nil {
			t.Fatal(err)
		}
		var got []Finding
		for _, f := range res.Findings {
			if f.Topic == "rebuilt against" {
				if !strings.Contains(f.Reason, "the lock has glibc 2.36-9+deb12u14") {
					t.Errorf("reason %q does not name the lock's version", f.Reason)
				}
				f.Reason = ""
				got = append(got, f)
			}
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", strings.TrimSpace(tc.line), diff)
		}
	}
}
