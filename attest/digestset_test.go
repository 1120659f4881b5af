package attest

import (
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
)

// Go's directory hash is written as in-toto v1 names it (dirHash, hex
// without "h1:"), and read under every name it has had: dirHash,
// goModuleH1 as in-toto v0.1 defines it (hex), and goModuleH1 as reprove
// wrote it before (go.sum's "h1:" base64).
func TestDirHashNames(t *testing.T) {
	sum := digest.FromString("module zip")
	h := sum.Encoded()
	raw, _ := hex.DecodeString(h)
	goSum := "h1:" + base64.StdEncoding.EncodeToString(raw)

	src := Source{GoModule: "example.com/m@v1.0.0", GoSum: goSum}
	if diff := cmp.Diff(DigestSet{KeyDirHash: h}, src.DigestSet()); diff != "" {
		t.Errorf("written (-want +got):\n%s", diff)
	}
	for _, c := range []struct {
		name string
		in   DigestSet
		want DigestSet
		err  bool
	}{
		{"dirHash", DigestSet{KeyDirHash: h}, DigestSet{KeyDirHash: h}, false},
		{"in-toto v0.1 goModuleH1 (hex)", DigestSet{KeyGoModuleH1: h}, DigestSet{KeyDirHash: h}, false},
		{"reprove's old goModuleH1 (h1:)", DigestSet{KeyGoModuleH1: goSum, "sha256": h}, DigestSet{KeyDirHash: h, "sha256": h}, false},
		{"both, agreeing", DigestSet{KeyGoModuleH1: goSum, KeyDirHash: h}, DigestSet{KeyDirHash: h}, false},
		{"both, disagreeing", DigestSet{KeyGoModuleH1: goSum, KeyDirHash: digest.FromString("x").Encoded()}, nil, true},
		{"h1 of the wrong size", DigestSet{KeyGoModuleH1: "h1:AAAA"}, nil, true},
	} {
		got, err := c.in.Normalized()
		if (err != nil) != c.err {
			t.Errorf("%s: error %v", c.name, err)
			continue
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
	if err := (DigestSet{KeyDirHash: goSum}).Validate(); err == nil {
		t.Error("a dirHash in go.sum's form was accepted")
	}
	// Sets written before and after the rename name the same source.
	old, _ := DigestSet{KeyGoModuleH1: goSum}.Normalized()
	if ok, why := matchSets(old, src.DigestSet()); !ok {
		t.Errorf("an old set does not match a new one: %s", why)
	}
	if back := sourceFromSet("", src.DigestSet()); back.GoSum != goSum {
		t.Errorf("go.sum hash read back as %q", back.GoSum)
	}
}

// A rebuild attestation reprove wrote before (goModuleH1 in go.sum's form,
// testdata/rebuild-goModuleH1.json) still reads, its modules' digests as
// today's attestation carries them.
func TestOldGoModuleH1Reads(t *testing.T) {
	old, err := os.ReadFile(filepath.Join("testdata", "rebuild-goModuleH1.json"))
	if err != nil {
		t.Fatal(err)
	}
	now, err := os.ReadFile(filepath.Join("testdata", "golden", "rebuild.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ins [2][]Input
	for i, b := range [][]byte{old, now} {
		st, err := ParseStatement(b)
		if err != nil {
			t.Fatal(err)
		}
		if ins[i], err = ReadProvenanceInputs(st); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(ins[1], ins[0]); diff != "" {
		t.Errorf("old and new provenance read differently (-new +old):\n%s", diff)
	}
	found := false
	for _, in := range ins[0] {
		if in.Digest[KeyDirHash] != "" {
			found = true
		}
	}
	if !found {
		t.Error("no input carries a dirHash")
	}
}
