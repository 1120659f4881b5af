package logproof

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	"golang.org/x/mod/sumdb/tlog"
)

func TestIndexSignersAndSources(t *testing.T) {
	skey, vkey := newKey(t, "centre.example/log")
	v, _ := NewVerifier(vkey)
	subject := digest.FromString("the shipped file")
	k1, k2, k3 := digest.FromString("key 1"), digest.FromString("key 2"), digest.FromString("key 3")
	keys := []digest.Digest{k1, k2}
	if k2 < k1 {
		keys = []digest.Digest{k2, k1}
	}
	src := digest.FromString("the source")
	x := Index{Origin: "centre.example/log", Size: 9, Subject: subject, Signers: keys, Sources: []digest.Digest{src}, Entries: []int64{1, 5, 8}}
	body := string(x.Body())
	want := "reprove artifact index v2\ncentre.example/log\n9\n" + subject.String() + "\nsigner " + keys[0].String() + "\nsigner " + keys[1].String() +
		"\nsource " + src.String() + "\n1\n5\n8\n"
	if body != want {
		t.Fatalf("body\n%s\nwant\n%s", body, want)
	}
	got, err := ParseIndex([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(x, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if !got.CoversSource(src) || got.CoversSource(subject) {
		t.Error("CoversSource")
	}
	// An index of every signer and no source keeps the v1 form.
	if b := (Index{Origin: "o", Size: 2, Subject: subject, Entries: []int64{1}}).Body(); !strings.HasPrefix(string(b), "reprove artifact index v1\n") {
		t.Errorf("plain index: %q", b)
	}
	for _, bad := range []string{
		"reprove artifact index v1\no\n9\n" + subject.String() + "\nsource " + src.String() + "\n1\n",
		"reprove artifact index v2\no\n9\n" + subject.String() + "\n1\n",
		"reprove artifact index v2\no\n9\n" + subject.String() + "\nsigner " + keys[1].String() + "\nsigner " + keys[0].String() + "\n1\n",
		"reprove artifact index v2\no\n9\n" + subject.String() + "\nsource " + src.String() + "\nsigner " + keys[0].String() + "\n1\n",
		"reprove artifact index v2\no\n9\n" + subject.String() + "\nsigner sha256:00\n1\n",
		"reprove artifact index v2\no\n9\n" + subject.String() + "\nsigner  " + keys[0].String() + "\n1\n",
	} {
		if _, err := ParseIndex([]byte(bad)); err == nil {
			t.Errorf("ParseIndex(%q) accepted", bad)
		}
	}

	// A bundle whose index covers only some signers is complete for a
	// reader who trusts only those, and for nobody else.
	signed, err := SignIndex(x, skey)
	if err != nil {
		t.Fatal(err)
	}
	c := Checkpoint{Origin: "centre.example/log", Size: 9}
	bu := &Bundle{ArtifactIndex: string(signed), Entries: []BundleEntry{{Index: 1}, {Index: 8}}, Revocations: []BundleRevocation{{Index: 5}}}
	for _, tc := range []struct {
		name    string
		trusted []digest.Digest
		want    string
	}{
		{"both keys", keys, ""},
		{"one key", []digest.Digest{k2}, ""},
		{"a third key", []digest.Digest{k1, k3}, k3.String()},
		{"every key", nil, "every other key"},
	} {
		err := bu.CheckCompleteFor(v, c, subject, tc.trusted)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if err := bu.CheckComplete(v, c, subject); err == nil {
		t.Error("CheckComplete accepted an index of some signers")
	}
	// The revocation it lists must be in the bundle too.
	bu.Revocations = nil
	if err := bu.CheckCompleteFor(v, c, subject, keys); err == nil || !strings.Contains(err.Error(), "entries 5") {
		t.Errorf("a revocation left out: %v", err)
	}
}

func TestRevocation(t *testing.T) {
	r := Revocation{Key: digest.FromString("key"), Name: "alice", Role: "reviewer", RevokedAt: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Reason: "lost <laptop>"}
	leaf, err := RevocationLeaf(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"keyRevocation":{"key":"` + r.Key.String() + `","name":"alice","reason":"lost <laptop>","revokedAt":"2026-12-01T10:00:00Z","role":"reviewer"}}`
	if string(leaf) != want {
		t.Fatalf("leaf\n got %s\nwant %s", leaf, want)
	}
	if !IsRevocationLeaf(leaf) {
		t.Error("IsRevocationLeaf")
	}
	got, err := ParseRevocationLeaf(leaf)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	for _, bad := range []string{
		`{"keyRevocation":{"name":"alice","key":"` + r.Key.String() + `","revokedAt":"2026-12-01T10:00:00Z","role":"reviewer"}}`,
		`{"keyRevocation":{"key":"` + r.Key.String() + `","name":"alice","revokedAt":"2026-12-01T10:00:00Z","role":"reviewer","extra":1}}`,
		`{"keyRevocation":{"key":"sha256:00","name":"alice","revokedAt":"2026-12-01T10:00:00Z","role":"reviewer"}}`,
		`{"keyRevocation":{"key":"` + r.Key.String() + `","name":"alice","revokedAt":"2026-12-01T10:00:00.5Z","role":"reviewer"}}`,
		`{"keyRevocation":{"key":"` + r.Key.String() + `","name":"","revokedAt":"2026-12-01T10:00:00Z","role":"reviewer"}}`,
		`{"keyRevocation":null}`,
		`{"compareReport":"` + r.Key.String() + `"}`,
	} {
		if _, err := ParseRevocationLeaf([]byte(bad)); err == nil {
			t.Errorf("ParseRevocationLeaf(%s) accepted", bad)
		}
	}

	// In a bundle: checked against the checkpoint like any entry.
	skey, vkey := newKey(t, "centre.example/log")
	v, _ := NewVerifier(vkey)
	var l memLog
	l.add(leafN(t, 0))
	n := l.add(leaf)
	c := l.checkpoint(t, "centre.example/log")
	signed, _ := Sign(c, skey)
	p, _ := tlog.ProveRecord(c.Size, n, &l)
	env := json.RawMessage(`{"payloadType":"application/vnd.in-toto+json","payload":"eyJuIjowfQ==","signatures":[{"keyid":"k","sig":"AAEC"}]}`)
	p0, _ := tlog.ProveRecord(c.Size, 0, &l)
	bu := &Bundle{Checkpoint: string(signed), Entries: []BundleEntry{{Index: 0, Envelope: env, InclusionProof: EncodeHashes(p0)}},
		Revocations: []BundleRevocation{{Index: n, Revocation: leaf, InclusionProof: EncodeHashes(p)}}}
	b, err := bu.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	pb, err := ParseBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	oc, err := pb.OpenCheckpoint(v)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := pb.CheckRevocations(oc)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Index != n || rs[0].Name != "alice" {
		t.Errorf("revocations: %+v", rs)
	}
	pb.Revocations[0].Index = 0
	if _, err := pb.CheckRevocations(oc); err == nil {
		t.Error("a revocation proven at another index")
	}
	if _, err := ParseBundle([]byte(strings.Replace(string(b), `"name":"alice"`, `"name":"bob"`, 1))); err != nil {
		t.Errorf("a bundle with another (well-formed) revocation: %v", err)
	}
	if _, err := ParseBundle([]byte(strings.Replace(string(b), `"revokedAt"`, `"revokedat"`, 1))); err == nil {
		t.Error("a malformed revocation parsed")
	}
}

func FuzzParseIndex(f *testing.F) {
	s := digest.FromString("s").String()
	f.Add([]byte("reprove artifact index v1\no\n5\n" + s + "\n1\n3\n"))
	f.Add([]byte("reprove artifact index v2\no\n5\n" + s + "\nsigner " + s + "\nsource " + s + "\n4\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := ParseIndex(b)
		if err != nil {
			return
		}
		if string(x.Body()) != string(b) {
			t.Fatalf("index %q reformats as %q", b, x.Body())
		}
	})
}

func FuzzParseRevocation(f *testing.F) {
	f.Add([]byte(`{"keyRevocation":{"key":"` + digest.FromString("k").String() + `","name":"a","revokedAt":"2026-12-01T10:00:00Z","role":"reviewer"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRevocation(b)
		if err != nil {
			return
		}
		leaf, err := RevocationLeaf(r)
		if err != nil {
			t.Fatalf("a parsed revocation makes no leaf: %v", err)
		}
		again, err := ParseRevocationLeaf(leaf)
		if err != nil || !again.RevokedAt.Equal(r.RevokedAt) || again.Key != r.Key {
			t.Fatalf("the leaf %s does not parse back: %v", leaf, err)
		}
	})
}

// EnvelopeLeaf is RFC 8785's form of the envelope whichever way it made it.
func FuzzEnvelopeLeaf(f *testing.F) {
	f.Add("application/vnd.in-toto+json", []byte(`{"a":1}`), "", []byte("sig"))
	f.Add("text/<&>\u2028", []byte("x"), "key\x01", []byte{0xff})
	f.Fuzz(func(t *testing.T, pt string, payload []byte, keyID string, sig []byte) {
		leaf, err := EnvelopeLeaf(pt, payload, []Signature{{KeyID: keyID, Sig: sig}})
		if err != nil {
			return
		}
		want, err := jsoncanonicalizer.Transform(leaf)
		if err != nil {
			t.Fatalf("the leaf %q is not JSON: %v", leaf, err)
		}
		if string(want) != string(leaf) {
			t.Fatalf("leaf\n%q\nis not canonical:\n%q", leaf, want)
		}
		// And it says what it was given.
		var got struct {
			Payload     []byte `json:"payload"`
			PayloadType string `json:"payloadType"`
			Signatures  []struct {
				KeyID string `json:"keyid"`
				Sig   []byte `json:"sig"`
			} `json:"signatures"`
		}
		if err := json.Unmarshal(leaf, &got); err != nil {
			t.Fatalf("the leaf %q does not decode: %v", leaf, err)
		}
		if utf8.ValidString(pt) && utf8.ValidString(keyID) && (got.PayloadType != pt || !bytes.Equal(got.Payload, payload) ||
			len(got.Signatures) != 1 || got.Signatures[0].KeyID != keyID || !bytes.Equal(got.Signatures[0].Sig, sig)) {
			t.Fatalf("the leaf %q says other than it was given", leaf)
		}
	})
}
