package keyless_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	prototrust "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/reprove/reprove/attest/keyless"
)

// The npm provenance of sigstore@2.0.0, as the registry publishes it, and
// Sigstore's public-good trusted root: where both came from is in
// testdata/npm/README.md.
const (
	npmBundle   = "testdata/npm/sigstore-2.0.0.provenance.sigstore.json"
	npmRoot     = "testdata/npm/trusted_root.json"
	npmWorkflow = "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"
)

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// editRoot decodes a trusted root, lets fn change it, and parses the
// result.
func editRoot(t testing.TB, b []byte, fn func(*prototrust.TrustedRoot)) *keyless.TrustedRoot {
	t.Helper()
	var pb prototrust.TrustedRoot
	if err := protojson.Unmarshal(b, &pb); err != nil {
		t.Fatal(err)
	}
	fn(&pb)
	out, err := protojson.Marshal(&pb)
	if err != nil {
		t.Fatal(err)
	}
	r, err := keyless.ParseTrustedRoot(out, "edited")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestNPMProvenance: a real npm provenance verifies offline against the
// public-good root (its Rekor entry's signed entry timestamp, its
// inclusion proof and checkpoint, its certificate's chain to Fulcio at the
// logged time and its embedded SCT), names the release workflow, and each
// part, tampered with, is refused. cosign v3 verifies the same file.
func TestNPMProvenance(t *testing.T) {
	b, rootJS := readFile(t, npmBundle), readFile(t, npmRoot)
	root, err := keyless.ParseTrustedRoot(rootJS, npmRoot)
	if err != nil {
		t.Fatal(err)
	}
	s, err := verify(b, root)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if s.Subject != npmWorkflow || s.Issuer != "https://token.actions.githubusercontent.com" {
		t.Errorf("claim %v", s.Claim)
	}
	want := time.Date(2023, 8, 18, 16, 5, 35, 0, time.UTC)
	if len(s.Times) != 1 || !s.Times[0].Time.Equal(want) || s.Times[0].By != "log https://rekor.sigstore.dev" {
		t.Errorf("times %v, want %s by the log", s.Times, want)
	}

	refuses := []struct {
		name   string
		bundle []byte
		root   *keyless.TrustedRoot
		kind   error
		want   string
	}{
		{name: "another CT log key", root: editRoot(t, rootJS, func(r *prototrust.TrustedRoot) {
			for _, l := range r.Ctlogs {
				l.PublicKey = r.Tlogs[0].PublicKey // a valid key, not the CT log's
			}
		}), kind: keyless.ErrSCT, want: "does not verify"},
		{name: "Fulcio's authority not valid at the logged time", root: editRoot(t, rootJS, func(r *prototrust.TrustedRoot) {
			for _, ca := range r.CertificateAuthorities {
				ca.ValidFor.End = timestamppb.New(want.Add(-time.Hour))
			}
		}), kind: keyless.ErrChain, want: "no certificate authority of the trusted root was valid then"},
		{name: "Rekor's key not valid at the logged time", root: editRoot(t, rootJS, func(r *prototrust.TrustedRoot) {
			r.Tlogs[0].PublicKey.ValidFor.Start = timestamppb.New(want.Add(time.Hour))
		}), kind: keyless.ErrLog, want: "outside the period the trusted root trusts the log"},
		{name: "a root without Rekor", root: editRoot(t, rootJS, func(r *prototrust.TrustedRoot) {
			r.Tlogs[0].LogId.KeyId = []byte("the id of another log, 32 bytes")
		}), kind: keyless.ErrLog, want: "no entry in a transparency log of the trusted root"},
		{name: "another payload", bundle: edit(t, b, func(pb *protobundle.Bundle) {
			p := pb.GetDsseEnvelope()
			p.Payload = []byte(strings.Replace(string(p.Payload), "sigstore@2.0.0", "sigstore@2.0.1", 1))
		}), kind: keyless.ErrSignature},
		{name: "an altered inclusion proof", bundle: edit(t, b, func(pb *protobundle.Bundle) {
			pb.VerificationMaterial.TlogEntries[0].InclusionProof.Hashes[3][7] ^= 0x40
		}), kind: keyless.ErrLog, want: "inclusion proof"},
		{name: "an altered checkpoint", bundle: edit(t, b, func(pb *protobundle.Bundle) {
			cp := &pb.VerificationMaterial.TlogEntries[0].InclusionProof.Checkpoint.Envelope
			*cp = strings.Replace(*cp, "\n27657875\n", "\n27657876\n", 1)
		}), kind: keyless.ErrLog, want: "checkpoint: not signed by the log"},
	}
	for _, tt := range refuses {
		t.Run(tt.name, func(t *testing.T) {
			bb, rr := tt.bundle, tt.root
			if bb == nil {
				bb = b
			}
			if rr == nil {
				rr = root
			}
			_, err := verify(bb, rr)
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Verify = %v; want %v containing %q", err, tt.kind, tt.want)
			}
		})
	}

	if testing.Short() {
		return
	}
	// cosign reads the same files; the tarball is not in testdata, so
	// its subject is not checked here (the attest tests check it).
	if err := cosign(t, t.TempDir(), b, rootJS, "slsaprovenance1", npmWorkflow, "https://token.actions.githubusercontent.com",
		"--check-claims=false"); err != nil {
		t.Errorf("cosign v3: %v", err)
	}
}
