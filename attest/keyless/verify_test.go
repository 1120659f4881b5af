package keyless_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	prototrust "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/reprove/reprove/attest/keyless"
	"github.com/reprove/reprove/attest/keyless/keylesstest"
	"github.com/reprove/reprove/attest/sigbundle"
)

// workflow is the identity the tests sign as: a GitHub Actions workflow.
const workflow = "https://github.com/example/hello/.github/workflows/release.yml@refs/tags/v1.0"

// shipped is the file the statements are about.
var shipped = []byte("#!/bin/sh\necho hello, keyless world\n")

const predicateType = "https://example.com/predicate/v1"

func statement(t testing.TB, file []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(file)
	return []byte(fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"hello","digest":{"sha256":"%s"}}],"predicateType":"%s","predicate":{"note":"keyless"}}`,
		hex.EncodeToString(sum[:]), predicateType))
}

// world is one test's Sigstore, its trusted root and a signer.
type world struct {
	s      *keylesstest.Sigstore
	root   *keyless.TrustedRoot
	rootJS []byte
	signer *keylesstest.Signer
}

func newWorld(t testing.TB, o keylesstest.RootOptions) *world {
	t.Helper()
	s, err := keylesstest.New()
	if err != nil {
		t.Fatal(err)
	}
	w := &world{s: s}
	if w.rootJS, err = s.TrustedRoot(o); err != nil {
		t.Fatal(err)
	}
	if w.root, err = keyless.ParseTrustedRoot(w.rootJS, "trusted_root.json"); err != nil {
		t.Fatal(err)
	}
	if w.signer, err = s.Signer(workflow, keylesstest.Issuer); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) bundle(t testing.TB, g *keylesstest.Signer, o keylesstest.Options) []byte {
	t.Helper()
	b, err := w.s.Bundle(context.Background(), g, statement(t, shipped), o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func verify(b []byte, root *keyless.TrustedRoot) (*keyless.Signer, error) {
	bu, err := sigbundle.Parse(b)
	if err != nil {
		return nil, err
	}
	return keyless.Verify(bu, root)
}

// edit decodes a bundle, lets fn change it, and encodes it again.
func edit(t testing.TB, b []byte, fn func(*protobundle.Bundle)) []byte {
	t.Helper()
	var pb protobundle.Bundle
	if err := protojson.Unmarshal(b, &pb); err != nil {
		t.Fatal(err)
	}
	fn(&pb)
	out, err := protojson.Marshal(&pb)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// cosign runs cosign v3's verify-blob-attestation on a bundle, as the
// README shows it, and returns its error (nil when it verified).
func cosign(t *testing.T, dir string, bundle, root []byte, typ, identity, issuer string, extra ...string) error {
	t.Helper()
	const path = "/usr/local/bin/cosign-v3"
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("cosign v3 is not installed at %s: run bash ci/setup.sh --test", path)
	}
	bp, rp, fp := filepath.Join(dir, "att.sigstore.json"), filepath.Join(dir, "trusted_root.json"), filepath.Join(dir, "hello")
	for p, b := range map[string][]byte{bp: bundle, rp: root, fp: shipped} {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := append([]string{"verify-blob-attestation", "--bundle", bp, "--trusted-root", rp,
		"--certificate-identity", identity, "--certificate-oidc-issuer", issuer, "--type", typ}, extra...)
	cmd := exec.Command(path, append(args, fp)...)
	cmd.Env = append(os.Environ(), "HOME="+dir, "SIGSTORE_NO_CACHE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// TestVerify: bundles made by a Sigstore in the test verify, in each form
// Sigstore's clients write (a log entry with its signed entry timestamp and
// inclusion proof and a signed timestamp; without the timestamp; without
// the proof, as bundle v0.1; with only the proof and the timestamp; with
// no log under a root that lists none), and cosign v3 verifies the same
// files with the same trusted root and identity.
func TestVerify(t *testing.T) {
	tests := []struct {
		name  string
		root  keylesstest.RootOptions
		opts  keylesstest.Options
		times []string // what proves each time
		// cosignFlags are what cosign needs beside the reprove check
		// (it requires a log entry unless told otherwise).
		cosignFlags []string
	}{
		{name: "log entry and timestamp", times: []string{"log https://rekor.keylesstest.example", "timestamp authority https://tsa.keylesstest.example"}},
		{name: "log entry only", opts: keylesstest.Options{NoTimestamp: true}, times: []string{"log https://rekor.keylesstest.example"}},
		{name: "signed entry timestamp only (bundle v0.1)", opts: keylesstest.Options{NoProof: true, NoTimestamp: true}, times: []string{"log https://rekor.keylesstest.example"}},
		{name: "inclusion proof and timestamp", opts: keylesstest.Options{NoPromise: true}, times: []string{"timestamp authority https://tsa.keylesstest.example"},
			cosignFlags: []string{"--use-signed-timestamps"}},
		{name: "timestamp only, under a root without logs", root: keylesstest.RootOptions{NoLog: true}, opts: keylesstest.Options{NoTlog: true},
			times: []string{"timestamp authority https://tsa.keylesstest.example"}, cosignFlags: []string{"--use-signed-timestamps", "--insecure-ignore-tlog"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, tt.root)
			b := w.bundle(t, w.signer, tt.opts)
			s, err := verify(b, w.root)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if s.Subject != workflow || s.Issuer != keylesstest.Issuer {
				t.Errorf("claim %v", s.Claim)
			}
			var by []string
			for _, pt := range s.Times {
				by = append(by, pt.By)
				if d := time.Since(pt.Time); d < -time.Minute || d > time.Minute {
					t.Errorf("proven time %s is not now", pt.Time)
				}
			}
			if strings.Join(by, "; ") != strings.Join(tt.times, "; ") {
				t.Errorf("times proven by %q, want %q", by, tt.times)
			}
			if testing.Short() {
				return
			}
			if err := cosign(t, t.TempDir(), b, w.rootJS, predicateType, workflow, keylesstest.Issuer, tt.cosignFlags...); err != nil {
				t.Errorf("cosign v3 refuses what reprove verifies: %v", err)
			}
		})
	}
}

// TestVerifyRefuses is the tamper suite: each way a keyless bundle can be
// wrong is refused with the kind of failure named, and cosign v3 refuses
// the same file (where it checks the same thing).
func TestVerifyRefuses(t *testing.T) {
	w := newWorld(t, keylesstest.RootOptions{})
	good := w.bundle(t, w.signer, keylesstest.Options{})
	other, err := w.s.Bundle(context.Background(), w.signer, statement(t, []byte("another file")), keylesstest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := w.s.Signer(workflow, keylesstest.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	strangers := w.bundle(t, stranger, keylesstest.Options{})
	untrusted, err := w.s.SignerWith(workflow, keylesstest.Issuer, keylesstest.CertOptions{Untrusted: true})
	if err != nil {
		t.Fatal(err)
	}
	noSCT, err := w.s.SignerWith(workflow, keylesstest.Issuer, keylesstest.CertOptions{NoSCT: true})
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := newWorld(t, keylesstest.RootOptions{})
	theirs := elsewhere.bundle(t, elsewhere.signer, keylesstest.Options{})
	foreignTSA := edit(t, good, func(pb *protobundle.Bundle) {
		tsr, err := elsewhere.s.Timestamp(pb.GetDsseEnvelope().GetSignatures()[0].GetSig())
		if err != nil {
			t.Fatal(err)
		}
		pb.VerificationMaterial.TimestampVerificationData.Rfc3161Timestamps[0].SignedTimestamp = tsr
	})
	// A root may name a timestamp authority without its signing
	// certificate: then the token's chain is what holds.
	noLeafJS, err := w.s.TrustedRoot(keylesstest.RootOptions{NoTSALeaf: true})
	if err != nil {
		t.Fatal(err)
	}
	noLeaf, err := keyless.ParseTrustedRoot(noLeafJS, "no-leaf")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(w.bundle(t, w.signer, keylesstest.Options{TimestampCert: true}), noLeaf); err != nil {
		t.Errorf("a root naming no TSA leaf, a token carrying it: %v", err)
	}
	tsaExpired := editRoot(t, w.rootJS, func(r *prototrust.TrustedRoot) {
		r.TimestampAuthorities[0].ValidFor.End = timestamppb.New(time.Now().Add(-time.Hour))
	})
	tests := []struct {
		name   string
		bundle []byte
		root   *keyless.TrustedRoot // nil: w.root
		kind   error
		want   string
		// cosign: whether cosign v3 is run on it (it refuses it too).
		cosign bool
	}{
		{name: "a certificate outside the proven time (the log's integrated time is after it expired)",
			bundle: w.bundle(t, w.signer, keylesstest.Options{IntegratedTime: time.Now().Add(20 * time.Minute), NoTimestamp: true}),
			kind:   keyless.ErrChain, want: "certificate has expired or is not yet valid", cosign: true},
		{name: "a certificate outside one of the proven times (the timestamp is within it, the log's is not)",
			bundle: w.bundle(t, w.signer, keylesstest.Options{IntegratedTime: time.Now().Add(20 * time.Minute)}),
			kind:   keyless.ErrChain, want: "(proven by log https://rekor.keylesstest.example)", cosign: true},
		{name: "a certificate from an untrusted authority", bundle: w.bundle(t, untrusted, keylesstest.Options{}),
			kind: keyless.ErrChain, want: "certificate signed by unknown authority", cosign: true},
		{name: "no signed certificate timestamp while the root lists a CT log", bundle: w.bundle(t, noSCT, keylesstest.Options{}),
			kind: keyless.ErrSCT, want: "no signed certificate timestamp", cosign: true},
		{name: "a log entry for another signature", bundle: edit(t, good, func(pb *protobundle.Bundle) {
			pb.VerificationMaterial.TlogEntries = entries(t, other)
		}), kind: keyless.ErrLog, want: "it logs another payload", cosign: true},
		{name: "a log entry for another certificate's signature of the same payload", bundle: edit(t, good, func(pb *protobundle.Bundle) {
			pb.VerificationMaterial.TlogEntries = entries(t, strangers)
		}), kind: keyless.ErrLog, want: "it logs another signature", cosign: true},
		{name: "a bad inclusion proof", bundle: edit(t, good, func(pb *protobundle.Bundle) {
			pb.VerificationMaterial.TlogEntries[0].InclusionProof.Hashes[0][0] ^= 1
		}), kind: keyless.ErrLog, want: "inclusion proof", cosign: true},
		{name: "an inclusion proof for another tree than the checkpoint's", bundle: edit(t, good, func(pb *protobundle.Bundle) {
			pb.VerificationMaterial.TlogEntries[0].InclusionProof.TreeSize++
		}), kind: keyless.ErrLog, want: "the checkpoint the log signed is of size", cosign: false},
		{name: "a checkpoint the log did not sign", bundle: edit(t, good, func(pb *protobundle.Bundle) {
			cp := &pb.VerificationMaterial.TlogEntries[0].InclusionProof.Checkpoint.Envelope
			*cp = strings.Replace(*cp, "\nTimestamp: ", "\nTimestamp: 1", 1)
		}), kind: keyless.ErrLog, want: "checkpoint: not signed by the log", cosign: true},
		{name: "a signed entry timestamp over another integrated time", bundle: edit(t, good, func(pb *protobundle.Bundle) {
			pb.VerificationMaterial.TlogEntries[0].IntegratedTime--
		}), kind: keyless.ErrLog, want: "signed entry timestamp is not the log's signature", cosign: true},
		{name: "an entry of another kind than it says", bundle: edit(t, good, func(pb *protobundle.Bundle) {
			pb.VerificationMaterial.TlogEntries[0].KindVersion.Kind = "dsse"
		}), kind: keyless.ErrLog, want: "its body is a intoto 0.0.2 entry, but the bundle says dsse 0.0.2",
			cosign: false}, // cosign does not compare them: the kind is not signed, but it says how to read the body
		{name: "no log entry while the root lists a log", bundle: w.bundle(t, w.signer, keylesstest.Options{NoTlog: true}),
			kind: keyless.ErrLog, want: "no entry in a transparency log of the trusted root (of 0 entries)", cosign: true},
		{name: "only an entry of a log the root does not list", bundle: edit(t, good, func(pb *protobundle.Bundle) {
			pb.VerificationMaterial.TlogEntries = entries(t, theirs)
		}), kind: keyless.ErrLog, want: "no entry in a transparency log of the trusted root (of 1 entries)", cosign: true},
		{name: "a missing timestamp (an inclusion proof proves no time)",
			bundle: w.bundle(t, w.signer, keylesstest.Options{NoPromise: true, NoTimestamp: true}),
			kind:   keyless.ErrNoTime, want: "neither a signed entry timestamp of a trusted log nor a signed timestamp", cosign: true},
		{name: "a timestamp of other bytes", bundle: edit(t, good, func(pb *protobundle.Bundle) {
			pb.VerificationMaterial.TimestampVerificationData = timestamps(t, other)
		}), kind: keyless.ErrTimestamp, want: "it stamps other bytes than the bundle's signature",
			cosign: false}, // cosign skips a timestamp that fails when the log's time suffices; reprove refuses the bundle
		{name: "a timestamp by an untrusted authority", bundle: foreignTSA, kind: keyless.ErrTimestamp, want: "signed by no timestamp authority of the trusted root", cosign: false},
		{name: "a timestamp by an untrusted authority, under a root naming no TSA leaf", bundle: foreignTSA, root: noLeaf,
			kind: keyless.ErrTimestamp, want: "certificate signed by unknown authority"},
		{name: "a timestamp outside the authority's validity", bundle: good, root: tsaExpired,
			kind: keyless.ErrTimestamp, want: "outside the period the trusted root trusts it"},
		{name: "a timestamp by a certificate of the authority that the root does not name", bundle: edit(t, good, func(pb *protobundle.Bundle) {
			tsr, err := w.s.TimestampByAnotherLeaf(pb.GetDsseEnvelope().GetSignatures()[0].GetSig())
			if err != nil {
				t.Fatal(err)
			}
			pb.VerificationMaterial.TimestampVerificationData.Rfc3161Timestamps[0].SignedTimestamp = tsr
		}), kind: keyless.ErrTimestamp, want: "signed by another certificate than the authority's own"},
		{name: "a signature not made with the certificate's key", bundle: edit(t, good, func(pb *protobundle.Bundle) {
			pb.GetDsseEnvelope().Payload = append(pb.GetDsseEnvelope().Payload, ' ')
		}), kind: keyless.ErrSignature, cosign: true},
		{name: "another certificate than the signer's", bundle: edit(t, good, func(pb *protobundle.Bundle) {
			pb.VerificationMaterial.Content.(*protobundle.VerificationMaterial_Certificate).Certificate.RawBytes = stranger.Cert.Raw
		}), kind: keyless.ErrSignature, cosign: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := w.root
			if tt.root != nil {
				root = tt.root
			}
			_, err := verify(tt.bundle, root)
			if !errors.Is(err, tt.kind) || !strings.Contains(fmt.Sprint(err), tt.want) {
				t.Fatalf("Verify = %v; want %v containing %q", err, tt.kind, tt.want)
			}
			if testing.Short() || !tt.cosign {
				return
			}
			if err := cosign(t, t.TempDir(), tt.bundle, w.rootJS, predicateType, workflow, keylesstest.Issuer); err == nil {
				t.Errorf("cosign v3 verifies what reprove refuses")
			}
		})
	}
	if _, err := verify(good, w.root); err != nil {
		t.Fatalf("the untampered bundle: %v", err)
	}
}

// entries are the log entries of a bundle.
func entries(t testing.TB, b []byte) []*protorekor.TransparencyLogEntry {
	var pb protobundle.Bundle
	if err := protojson.Unmarshal(b, &pb); err != nil {
		t.Fatal(err)
	}
	return pb.GetVerificationMaterial().GetTlogEntries()
}

// timestamps are the signed timestamps of a bundle.
func timestamps(t testing.TB, b []byte) *protobundle.TimestampVerificationData {
	var pb protobundle.Bundle
	if err := protojson.Unmarshal(b, &pb); err != nil {
		t.Fatal(err)
	}
	return pb.GetVerificationMaterial().GetTimestampVerificationData()
}
