package item

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/centretest/fixture"
)

// counting is verifySig, counting the signatures it checks in n.
func counting(n *atomic.Int64) func(k *Key, pae, sig []byte) error {
	return func(k *Key, pae, sig []byte) error {
		n.Add(1)
		return verifySig(k, pae, sig)
	}
}

// keysEndingWith registers n keys of role, the last one p's.
func keysEndingWith(t *testing.T, n int, role Role, p *fixture.Party) []Key {
	t.Helper()
	var ks []Key
	for i := range n - 1 {
		q := fixture.MustParty(fmt.Sprintf("key-%d", i))
		ks = append(ks, Key{Name: q.Name, Role: role, Verifier: q.Verifier})
	}
	return append(ks, Key{Name: p.Name, Role: role, Verifier: p.Verifier})
}

// withSignatures is env with its signatures replaced by sigs.
func withSignatures(t *testing.T, env []byte, sigs []envelope.Signature) *envelope.Envelope {
	t.Helper()
	e, err := envelope.Parse(env)
	if err != nil {
		t.Fatal(err)
	}
	out, err := envelope.FromParts(e.PayloadType, e.Payload, sigs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wrong is n signatures that verify under no key, each with key id.
func wrong(n int, keyID string) []envelope.Signature {
	var sigs []envelope.Signature
	for i := range n {
		sum := sha256.Sum256([]byte{byte(i)})
		sigs = append(sigs, envelope.Signature{KeyID: keyID, Sig: append(sum[:], sum[:]...)})
	}
	return sigs
}

// A hostile envelope costs at most one pass over the registered keys: the
// signatures are counted before any is verified, a key id that names a
// registered key picks it alone, and the first signature that verifies
// under no key refuses the envelope. (It used to cost signatures × keys:
// 64 × 32 verifications, 0.3 s of CPU for one 8.6 kB request.)
func TestSignatureCost(t *testing.T) {
	ctx := context.Background()
	review, err := fixture.Review(ctx, alice, "hello", "1.0", "x")
	if err != nil {
		t.Fatal(err)
	}
	var count atomic.Int64
	known := keysEndingWith(t, 32, Reviewer, alice)
	good, _ := envelope.Parse(review)
	pemID := sha256.Sum256(alice.Verifier.PEM)
	tests := []struct {
		name  string
		e     *envelope.Envelope
		code  Code
		most  int64
		least int64
	}{
		{"64 wrong signatures", withSignatures(t, review, wrong(64, "")), CodeTooLarge, 0, 0},
		{"16 wrong signatures, no key ids", withSignatures(t, review, wrong(16, "")), CodeUnknownKey, 32, 32},
		{"16 wrong signatures naming a registered key", withSignatures(t, review, wrong(16, alice.Verifier.Fingerprint.String())), CodeUnknownKey, 1, 1},
		{"16 wrong signatures naming no registered key", withSignatures(t, review, wrong(16, "someone")), CodeUnknownKey, 32, 32},
		{"a good signature, then wrong ones", withSignatures(t, review, append(good.Signatures, wrong(15, "")...)), CodeUnknownKey, 64, 33},
		{"a good signature by the last key tried", good, "", 32, 32},
		{"a good signature, its key named by fingerprint", withSignatures(t, review, []envelope.Signature{{KeyID: alice.Verifier.Fingerprint.Encoded(), Sig: good.Signatures[0].Sig}}), "", 1, 1},
		{"a good signature, its key named as DSSE libraries name it", withSignatures(t, review, []envelope.Signature{{KeyID: hex.EncodeToString(pemID[:]), Sig: good.Signatures[0].Sig}}), "", 1, 1},
	}
	for _, tc := range tests {
		count.Store(0)
		// Check's signature checks, counted.
		var err error
		var signed []Key
		if len(tc.e.Signatures) > MaxSignatures {
			_, err = Check(ctx, tc.e, known)
		} else {
			signed, err = signers(ctx, tc.e, known, Reviewer, Review, counting(&count))
		}
		var ie *Error
		switch {
		case tc.code == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.code != "" && (!errors.As(err, &ie) || ie.Code != tc.code):
			t.Errorf("%s: %v, want code %s", tc.name, err, tc.code)
		case tc.code == "" && (len(signed) != 1 || signed[0].Name != "alice"):
			t.Errorf("%s: signers %v", tc.name, signed)
		}
		if tc.code == "" {
			if it, err := Check(ctx, tc.e, known); err != nil || len(it.Signers) != 1 || it.Signers[0] != "alice" {
				t.Errorf("%s: Check: %v", tc.name, err)
			}
		}
		if n := count.Load(); n > tc.most || n < tc.least {
			t.Errorf("%s: %d signature checks, want %d to %d", tc.name, n, tc.least, tc.most)
		}
	}
	// The key tried first (the centre puts the key that signed last there)
	// costs one check.
	count.Store(0)
	first := append([]Key{known[31]}, known[:31]...)
	if _, err := signers(ctx, good, first, Reviewer, Review, counting(&count)); err != nil || count.Load() != 1 {
		t.Errorf("the signer's key first: %d checks, %v", count.Load(), err)
	}
}

func TestSignerRefusals(t *testing.T) {
	ctx := context.Background()
	bob := fixture.MustParty("bob")
	stranger := fixture.MustParty("stranger")
	review, _ := fixture.Review(ctx, alice, "hello", "1.0", "x")
	e, _ := envelope.Parse(review)
	cosigned, err := envelope.Sign(ctx, e.Payload, alice.Signer, bob.Signer)
	if err != nil {
		t.Fatal(err)
	}
	withStranger, _ := envelope.Sign(ctx, e.Payload, alice.Signer, stranger.Signer)
	twice, _ := envelope.Sign(ctx, e.Payload, alice.Signer, alice.Signer)
	withBob := append([]Key{{Name: "bob", Role: Reviewer, Verifier: bob.Verifier}}, known...)
	revoked := append([]Key{{Name: "bob", Role: Reviewer, Verifier: bob.Verifier, Revoked: true}}, known...)

	// Co-signed by two registered keys: both are signers.
	it, err := CheckEnvelope(ctx, cosigned, withBob)
	if err != nil || strings.Join(it.Signers, ",") != "alice,bob" || len(it.SignerKeys) != 2 {
		t.Errorf("co-signed: %+v %v", it, err)
	}
	// One key signing twice counts once.
	if it, err := CheckEnvelope(ctx, twice, known); err != nil || len(it.Signers) != 1 {
		t.Errorf("signed twice by one key: %+v %v", it, err)
	}
	for _, tc := range []struct {
		name  string
		env   []byte
		known []Key
		code  Code
		msg   string
	}{
		{"a signature by an unregistered key beside a registered one", withStranger, withBob, CodeUnknownKey, "signature 2 of 2"},
		{"a signature by a revoked key", cosigned, revoked, CodeRevokedKey, "signed by bob, whose key"},
		{"only a revoked key", review, []Key{{Name: "alice", Role: Reviewer, Verifier: alice.Verifier, Revoked: true}}, CodeRevokedKey, "revoked"},
	} {
		_, err := CheckEnvelope(ctx, tc.env, tc.known)
		var ie *Error
		if !errors.As(err, &ie) || ie.Code != tc.code || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want code %s and %q", tc.name, err, tc.code, tc.msg)
		}
	}
}

// A review may name only the source it reviews: an extra subject would file
// it under another artifact, and one key could crowd that artifact's
// lookup with thousands of small reviews.
func TestReviewSubjects(t *testing.T) {
	ctx := context.Background()
	other := digest.FromString("another release's file")
	src := fixture.Source("hello", "1.0")
	pred := `{"reviewer":{"id":"mailto:alice@audits.example"},"source":{"archive":"` + src.Archive.String() + `"},"scope":{"paths":["cmd/"]},"verdict":"approved","reviewedAt":"2026-11-01T09:30:00Z"}`
	stmt := func(subjects string) []byte {
		return []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[` + subjects + `],"predicateType":"` + attest.ReviewPredicateType + `","predicate":` + pred + `}`)
	}
	source := `{"name":"src","digest":{"sha256":"` + src.Archive.Encoded() + `"}}`
	for _, tc := range []struct {
		name     string
		subjects string
		ok       bool
	}{
		{"the source alone", source, true},
		{"the source twice", source + "," + source, true},
		{"the source and another file", source + `,{"name":"victim","digest":{"sha256":"` + other.Encoded() + `"}}`, false},
	} {
		env, err := envelope.Sign(ctx, stmt(tc.subjects), alice.Signer)
		if err != nil {
			t.Fatal(err)
		}
		it, err := CheckEnvelope(ctx, env, known)
		var ie *Error
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case !tc.ok && (!errors.As(err, &ie) || ie.Code != CodeBadStatement || !strings.Contains(err.Error(), "must be the source it reviews")):
			t.Errorf("%s: %v, want bad-statement", tc.name, err)
		case tc.ok && it.Subjects[0].Digest != src.Archive:
			t.Errorf("%s: subjects %+v", tc.name, it.Subjects)
		}
	}
}

func TestRevocationItem(t *testing.T) {
	r := logproof.Revocation{Key: alice.Verifier.Fingerprint, Name: "alice", Role: "reviewer", RevokedAt: fixture.Time, Reason: "key lost"}
	it, err := RevocationItem(r)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Describe(it.Leaf)
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != Revocation || d.Revocation.Name != "alice" || d.Line() != "revocation of the reviewer key alice ("+alice.Verifier.Fingerprint.String()+"): key lost" {
		t.Errorf("described: %+v %q", d, d.Line())
	}
}
