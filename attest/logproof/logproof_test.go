package logproof

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	"github.com/opencontainers/go-digest"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// memLog is a log kept in memory the way tlog expects: the stored hashes.
type memLog struct {
	hashes []tlog.Hash
	leaves [][]byte
}

func (l *memLog) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(l.hashes)) {
			return nil, fmt.Errorf("no stored hash %d", x)
		}
		out[i] = l.hashes[x]
	}
	return out, nil
}

func (l *memLog) add(leaf []byte) int64 {
	n := int64(len(l.leaves))
	hs, err := tlog.StoredHashes(n, leaf, l)
	if err != nil {
		panic(err)
	}
	l.hashes = append(l.hashes, hs...)
	l.leaves = append(l.leaves, leaf)
	return n
}

func (l *memLog) checkpoint(t testing.TB, origin string) Checkpoint {
	t.Helper()
	n := int64(len(l.leaves))
	h, err := tlog.TreeHash(n, l)
	if err != nil {
		t.Fatal(err)
	}
	return Checkpoint{Origin: origin, Size: n, Hash: h}
}

func newKey(t testing.TB, name string) (skey, vkey string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	return skey, vkey
}

func leafN(t testing.TB, i int) []byte {
	t.Helper()
	b, err := EnvelopeLeaf("application/vnd.in-toto+json", []byte(fmt.Sprintf(`{"n":%d}`, i)),
		[]Signature{{KeyID: "k", Sig: []byte{byte(i), 1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The leaf written directly is the one encoding/json and RFC 8785 make.
func TestPlainEnvelopeLeaf(t *testing.T) {
	for _, tt := range []struct {
		pt    string
		sigs  []Signature
		plain bool
	}{
		{"application/vnd.in-toto+json", []Signature{{KeyID: "", Sig: []byte("s")}}, true},
		{"application/vnd.in-toto+json", []Signature{{KeyID: "sha256:abc", Sig: []byte{0xff, 0}}, {KeyID: "k2", Sig: []byte("t")}}, true},
		{`type "quoted"`, []Signature{{Sig: []byte("s")}}, false},
		{"t", []Signature{{KeyID: `back\slash`, Sig: []byte("s")}}, false},
		{"t", []Signature{{KeyID: "a&b", Sig: []byte("s")}}, false},
		{"t\x7f", []Signature{{Sig: []byte("s")}}, false},
	} {
		payload := []byte(`{"_type":"x","n":"<&>"}`)
		got, ok := plainEnvelopeLeaf(tt.pt, payload, tt.sigs)
		if ok != tt.plain {
			t.Errorf("%q %q: written directly: %v, want %v", tt.pt, tt.sigs, ok, tt.plain)
		}
		// The general path, as EnvelopeLeaf took it for every envelope.
		type wsig struct {
			KeyID string `json:"keyid"`
			Sig   []byte `json:"sig"`
		}
		w := struct {
			Payload     []byte `json:"payload"`
			PayloadType string `json:"payloadType"`
			Signatures  []wsig `json:"signatures"`
		}{Payload: payload, PayloadType: tt.pt}
		for _, s := range tt.sigs {
			w.Signatures = append(w.Signatures, wsig(s))
		}
		b, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		want, err := jsoncanonicalizer.Transform(b)
		if err != nil {
			t.Fatal(err)
		}
		if ok && string(got) != string(want) {
			t.Errorf("written directly:\n%s\nwant\n%s", got, want)
		}
		if all, err := EnvelopeLeaf(tt.pt, payload, tt.sigs); err != nil || string(all) != string(want) {
			t.Errorf("EnvelopeLeaf:\n%s (%v)\nwant\n%s", all, err, want)
		}
	}
}

func TestEnvelopeLeafCanonical(t *testing.T) {
	a, err := EnvelopeLeaf("application/vnd.in-toto+json", []byte("<&>\u2028"), []Signature{{KeyID: "", Sig: []byte("s")}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"payload":"PCY+4oCo","payloadType":"application/vnd.in-toto+json","signatures":[{"keyid":"","sig":"cw=="}]}`
	if string(a) != want {
		t.Errorf("leaf\n got %s\nwant %s", a, want)
	}
	if _, err := EnvelopeLeaf("", []byte("x"), []Signature{{Sig: []byte("s")}}); err == nil {
		t.Error("an envelope without a payload type became a leaf")
	}
	if _, err := EnvelopeLeaf("t", []byte("x"), nil); err == nil {
		t.Error("an unsigned envelope became a leaf")
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	skey, vkey := newKey(t, "centre.example/log")
	var l memLog
	for i := range 5 {
		l.add(leafN(t, i))
	}
	c := l.checkpoint(t, "centre.example/log")
	c.Extensions = []string{"ext one"}
	signed, err := Sign(c, skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Open(signed)
	if err != nil {
		t.Fatal(err)
	}
	if got.Size != 5 || got.Hash != c.Hash || got.Origin != c.Origin || len(got.Extensions) != 1 {
		t.Errorf("opened %+v, want %+v", got, c)
	}
}

func TestCheckpointRefused(t *testing.T) {
	skey, vkey := newKey(t, "centre.example/log")
	otherS, otherV := newKey(t, "other.example/log")
	_ = otherS
	var l memLog
	l.add(leafN(t, 0))
	c := l.checkpoint(t, "centre.example/log")
	signed, err := Sign(c, skey)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := NewVerifier(vkey)
	ov, _ := NewVerifier(otherV)
	if _, err := ov.Open(signed); err == nil {
		t.Error("a checkpoint opened with another log's key")
	}
	tampered := bytes.Replace(signed, []byte("\n1\n"), []byte("\n2\n"), 1)
	if _, err := v.Open(tampered); err == nil {
		t.Error("a checkpoint whose size was changed still verified")
	}
	// A key named after another origin cannot sign this origin's checkpoint.
	if _, err := Sign(c, otherS); err == nil {
		t.Error("signed a checkpoint for an origin the key does not name")
	}
	for _, body := range []string{"", "o\n1\n", "o\n-1\nAAAA\n", "o\n01\n" + strings.Repeat("A", 43) + "=\n",
		"o\n1\nnot base64\n", "o\n1\n" + strings.Repeat("A", 43) + "=\n\n", " o\n1\n" + strings.Repeat("A", 43) + "=\n"} {
		if _, err := ParseCheckpoint([]byte(body)); err == nil {
			t.Errorf("ParseCheckpoint(%q) accepted", body)
		}
	}
}

func TestInclusionAndConsistency(t *testing.T) {
	var l memLog
	var olds []Checkpoint
	for i := range 37 {
		l.add(leafN(t, i))
		olds = append(olds, l.checkpoint(t, "o"))
	}
	c := l.checkpoint(t, "o")
	for i := range l.leaves {
		p, err := tlog.ProveRecord(c.Size, int64(i), &l)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyInclusion(l.leaves[i], int64(i), p, c); err != nil {
			t.Errorf("leaf %d: %v", i, err)
		}
		// The proof of one leaf does not prove another.
		j := (i + 1) % len(l.leaves)
		if err := VerifyInclusion(l.leaves[j], int64(i), p, c); err == nil {
			t.Errorf("leaf %d's proof proved leaf %d", i, j)
		}
		if err := VerifyInclusion(l.leaves[i], c.Size, p, c); err == nil {
			t.Errorf("leaf %d: an index past the tree verified", i)
		}
	}
	for _, old := range olds {
		p, err := tlog.ProveTree(c.Size, old.Size, &l)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyConsistency(old, c, p); err != nil {
			t.Errorf("size %d -> %d: %v", old.Size, c.Size, err)
		}
	}
	// A fork: the same size, another history.
	var fork memLog
	for i := range 37 {
		if i == 20 {
			fork.add([]byte("rewritten"))
			continue
		}
		fork.add(leafN(t, i))
	}
	fc := fork.checkpoint(t, "o")
	if err := VerifyConsistency(olds[30], fc, nil); err == nil {
		t.Error("a forked tree passed as consistent")
	}
	p, _ := tlog.ProveTree(fc.Size, 25, &fork)
	if err := VerifyConsistency(olds[24], fc, p); err == nil {
		t.Error("a fork after entry 20 passed as consistent with the tree of size 25")
	}
	if err := VerifyConsistency(c, olds[3], nil); err == nil {
		t.Error("a shrunken log passed as consistent")
	}
}

func TestBundle(t *testing.T) {
	skey, vkey := newKey(t, "centre.example/log")
	var l memLog
	env := json.RawMessage(`{"payloadType":"application/vnd.in-toto+json","payload":"eyJuIjowfQ==","signatures":[{"keyid":"k","sig":"AAEC"}]}`)
	for i := range 9 {
		l.add(leafN(t, i))
	}
	c := l.checkpoint(t, "centre.example/log")
	signed, err := Sign(c, skey)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := tlog.ProveRecord(c.Size, 0, &l)
	bu := &Bundle{Checkpoint: string(signed), Entries: []BundleEntry{{Index: 0, Envelope: env, InclusionProof: EncodeHashes(p)}}}
	b, err := bu.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := NewVerifier(vkey)
	oc, err := got.OpenCheckpoint(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Entries[0].VerifyEntry(leafN(t, 0), oc); err != nil {
		t.Fatal(err)
	}
	if err := got.Entries[0].VerifyEntry(leafN(t, 1), oc); err == nil {
		t.Error("an entry's proof verified another leaf")
	}
	for name, mut := range map[string]func(s string) string{
		"unknown key":    func(s string) string { return strings.Replace(s, `"entries"`, `"extra": 1, "entries"`, 1) },
		"media type":     func(s string) string { return strings.Replace(s, "log-bundle", "log-bundel", 1) },
		"schema version": func(s string) string { return strings.Replace(s, `"schemaVersion": 1`, `"schemaVersion": 2`, 1) },
		"negative index": func(s string) string { return strings.Replace(s, `"index": 0`, `"index": -1`, 1) },
		"short hash": func(s string) string {
			return strings.Replace(s, `"inclusionProof": [`, `"inclusionProof": ["AAAA",`, 1)
		},
		"duplicate key":  func(s string) string { return strings.Replace(s, `"index": 0`, `"index": 0, "index": 1`, 1) },
		"no entries":     func(s string) string { return s[:strings.Index(s, `"entries"`)] + `"entries": []}` },
		"envelope array": func(s string) string { return strings.Replace(s, `"envelope": {`, `"envelope": [{`, 1) },
	} {
		if _, err := ParseBundle([]byte(mut(string(b)))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseBundle(f *testing.F) {
	f.Add([]byte(`{"mediaType":"application/vnd.reprove.log-bundle+json;version=1","schemaVersion":1,"checkpoint":"o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— o x\n","entries":[{"index":0,"envelope":{},"inclusionProof":[]}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		bu, err := ParseBundle(b)
		if err != nil {
			return
		}
		out, err := bu.Marshal()
		if err != nil {
			t.Fatalf("a parsed bundle does not marshal: %v", err)
		}
		if _, err := ParseBundle(out); err != nil {
			t.Fatalf("a marshalled bundle does not parse: %v", err)
		}
	})
}

func FuzzParseCheckpoint(f *testing.F) {
	f.Add([]byte("o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCheckpoint(b)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Body(), b) {
			t.Fatalf("body %q reformats as %q", b, c.Body())
		}
	})
}

func TestCompareReportLeaf(t *testing.T) {
	d := digest.FromString("report")
	b, err := CompareReportLeaf(d)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"compareReport":"`+d.String()+`"}` {
		t.Errorf("leaf %s", b)
	}
	if _, err := CompareReportLeaf("sha256:abc"); err == nil {
		t.Error("a malformed digest became a leaf")
	}
}

func TestArtifactIndex(t *testing.T) {
	skey, vkey := newKey(t, "centre.example/log")
	_, otherV := newKey(t, "centre.example/log")
	v, _ := NewVerifier(vkey)
	ov, _ := NewVerifier(otherV)
	var l memLog
	for i := range 6 {
		l.add(leafN(t, i))
	}
	c := l.checkpoint(t, "centre.example/log")
	subject := digest.FromString("the shipped file")
	x := Index{Origin: "centre.example/log", Size: c.Size, Subject: subject, Entries: []int64{1, 3, 4}}
	signed, err := SignIndex(x, skey)
	if err != nil {
		t.Fatal(err)
	}
	entries := func(idx ...int64) []BundleEntry {
		var es []BundleEntry
		for _, i := range idx {
			es = append(es, BundleEntry{Index: i})
		}
		return es
	}
	bu := &Bundle{ArtifactIndex: string(signed), Entries: entries(1, 3, 4)}
	if err := bu.CheckComplete(v, c, subject); err != nil {
		t.Fatalf("a whole bundle: %v", err)
	}
	tests := []struct {
		name string
		bu   *Bundle
		v    *Verifier
		c    Checkpoint
		subj digest.Digest
		want string
	}{
		{"item removed", &Bundle{ArtifactIndex: string(signed), Entries: entries(1, 4)}, v, c, subject, "entries 3"},
		{"no index", &Bundle{Entries: entries(1, 3, 4)}, v, c, subject, "no artifact index"},
		{"another subject", bu, v, c, digest.FromString("other"), "is for"},
		{"another size", bu, v, Checkpoint{Origin: c.Origin, Size: 7}, subject, "tree size 6"},
		{"another key", bu, ov, c, subject, "open artifact index"},
		{"tampered", &Bundle{ArtifactIndex: strings.Replace(string(signed), "\n3\n", "\n2\n", 1), Entries: entries(1, 2, 4)}, v, c, subject, "open artifact index"},
	}
	for _, tc := range tests {
		err := tc.bu.CheckComplete(tc.v, tc.c, tc.subj)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	// An index never opens as a checkpoint, though one key signs both.
	if _, err := v.Open(signed); err == nil {
		t.Error("an artifact index opened as a checkpoint")
	}
	cs, _ := Sign(c, skey)
	if _, err := v.OpenIndex(cs); err == nil {
		t.Error("a checkpoint opened as an artifact index")
	}
	for _, body := range []string{
		"reprove artifact index v1\no\n5\n" + subject.String() + "\n3\n2\n",
		"reprove artifact index v1\no\n5\n" + subject.String() + "\n5\n",
		"reprove artifact index v1\no\n5\nsha256:00\n",
		"artifact index\no\n5\n" + subject.String() + "\n",
	} {
		if _, err := ParseIndex([]byte(body)); err == nil {
			t.Errorf("ParseIndex(%q) accepted", body)
		}
	}
}
