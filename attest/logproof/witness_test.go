package logproof

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	fnote "github.com/transparency-dev/formats/note"

	"github.com/reprove/reprove/attest/logproof/logprooftest"
)

func newTestWitness(t testing.TB, name string) *testWitness {
	t.Helper()
	w, err := logprooftest.NewWitness(name)
	if err != nil {
		t.Fatal(err)
	}
	return &testWitness{w}
}

type testWitness struct{ *logprooftest.Witness }

func (w *testWitness) cosign(signed []byte, at time.Time) string { return string(w.Cosign(signed, at)) }

func (w *testWitness) witness(t testing.TB, name string) *Witness {
	t.Helper()
	pw, err := NewWitness(name, w.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pw
}

func TestWitnessPolicy(t *testing.T) {
	skey, vkey := newKey(t, "log.example")
	v, _ := NewVerifier(vkey)
	var l memLog
	for i := range 5 {
		l.add(leafN(t, i))
	}
	signed, err := Sign(l.checkpoint(t, "log.example"), skey)
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := newTestWitness(t, "witness-a.example"), newTestWitness(t, "witness-b.example"), newTestWitness(t, "witness-c.example")
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	pol := &Policy{Log: v, Key: vkey, Witnesses: []*Witness{a.witness(t, "A"), b.witness(t, "B")}, Threshold: 2}
	aged := *pol
	aged.MaxAge = 24 * time.Hour
	with := func(lines ...string) []byte { return []byte(string(signed) + strings.Join(lines, "")) }

	tests := []struct {
		name string
		pol  *Policy
		note []byte
		want string // "" accepts
		have int
	}{
		{name: "both witnesses", pol: pol, note: with(a.cosign(signed, now.Add(-time.Hour)), b.cosign(signed, now)), have: 2},
		{name: "order does not matter", pol: pol, note: with(b.cosign(signed, now), a.cosign(signed, now)), have: 2},
		{name: "one of two", pol: pol, note: with(a.cosign(signed, now)), want: "cosigned by 1 of the 2 witnesses the policy names (A, B), and the policy requires 2: too few"},
		{name: "none", pol: pol, note: signed, want: "cosigned by 0 of the 2 witnesses the policy names (A, B), and the policy requires 2: no independent witness has seen this tree of the log, so it may be a fork"},
		{name: "a witness the policy does not name counts for nothing", pol: pol, note: with(a.cosign(signed, now), c.cosign(signed, now)), want: "cosigned by 1 of the 2"},
		{name: "one witness twice counts once", pol: pol, note: with(a.cosign(signed, now), a.cosign(signed, now.Add(-time.Minute))), want: "cosigned by 1 of the 2"},
		{name: "dated in the future", pol: pol, note: with(a.cosign(signed, now), b.cosign(signed, now.Add(time.Hour))), want: "cosigned by 1 of the 2"},
		{name: "within maxAge", pol: &aged, note: with(a.cosign(signed, now.Add(-23*time.Hour)), b.cosign(signed, now.Add(-time.Hour))), have: 2},
		{name: "older than maxAge", pol: &aged, note: with(a.cosign(signed, now.Add(-25*time.Hour)), b.cosign(signed, now.Add(-time.Hour))),
			want: "is stale: 1 of the 2 witnesses the policy requires cosigned it within maxAge 24h0m0s (the newest cosignature is from 2026-12-07T11:00:00Z, 1h0m0s before now)"},
		{name: "a cosignature of another tree", pol: pol, note: with(a.cosign(signed, now), b.cosign(mustSign(t, l.checkpoint(t, "log.example"), skey, 4), now)),
			want: "carries a cosignature that claims to be by witness witness-b.example but does not verify"},
		{name: "not the log's", pol: pol, note: mustSign(t, l.checkpoint(t, "log.example"), newSkey(t, "log.example"), 5), want: "the checkpoint is not signed by the log log.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := tt.pol.CheckCheckpoint(tt.note, now)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(ch.Cosigned) != tt.have || ch.Size != 5 {
					t.Errorf("cosigned %v, size %d", ch.Cosigned, ch.Size)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
	// Without witnesses in the policy, only the log's signature counts.
	bare := &Policy{Log: v, Key: vkey}
	if _, err := bare.CheckCheckpoint(signed, now); err != nil {
		t.Error(err)
	}
	var we *WitnessError
	if _, err := pol.CheckCheckpoint(signed, now); !errors.As(err, &we) || we.Have != 0 || we.Need != 2 {
		t.Errorf("no cosignatures: %#v", err)
	}
}

// mustSign signs a checkpoint of another size (the hash of the first
// tree), so cosignatures of it do not fit the note under test.
func mustSign(t testing.TB, c Checkpoint, skey string, size int64) []byte {
	t.Helper()
	c.Size = size
	b, err := Sign(c, skey)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newSkey(t testing.TB, name string) string {
	t.Helper()
	skey, _ := newKey(t, name)
	return skey
}

func TestNewWitness(t *testing.T) {
	w := newTestWitness(t, "witness.example")
	_, plain := newKey(t, "witness.example")
	for _, k := range []string{w.Key, plain, " " + w.Key + "\n"} {
		if _, err := NewWitness("w", k); err != nil {
			t.Errorf("%q: %v", k, err)
		}
	}
	for _, k := range []string{"", "witness.example", "witness.example+00000000+AAAA", strings.Replace(w.Key, "+B", "+C", 1)} {
		if _, err := NewWitness("w", k); err == nil {
			t.Errorf("%q: accepted", k)
		}
	}
	// The key as litewitness prints it and the plain Ed25519 key of the
	// same witness are one witness.
	_, vk := newKey(t, "x.example")
	cv, _ := fnote.VKeyToCosignatureV1(vk)
	w1, _ := NewWitness("1", vk)
	w2, _ := NewWitness("2", cv)
	if !w1.Same(w2) {
		t.Error("a plain key and its cosignature/v1 form are not the same witness")
	}
}

// A bundle whose checkpoint the witnesses vouch for, checked whole.
func TestCheckBundleWithWitnesses(t *testing.T) {
	skey, vkey := newKey(t, "log.example")
	v, _ := NewVerifier(vkey)
	var l memLog
	leaf := leafN(t, 0)
	l.add(leaf)
	l.add(leafN(t, 1))
	c := l.checkpoint(t, "log.example")
	signed, _ := Sign(c, skey)
	a := newTestWitness(t, "witness-a.example")
	now := time.Now()
	subject := digest.FromString("file")
	x := Index{Origin: "log.example", Size: c.Size, Subject: subject, Entries: []int64{0}}
	idx, _ := SignIndex(x, skey)
	bu := &Bundle{Checkpoint: string(signed) + a.cosign(signed, now), ArtifactIndex: string(idx),
		Entries: []BundleEntry{{Index: 0, Envelope: []byte(`{}`)}}}
	pol := &Policy{Log: v, Witnesses: []*Witness{a.witness(t, "A")}, Threshold: 1}
	if _, err := pol.CheckBundle(bu, subject, now); err != nil {
		t.Fatal(err)
	}
	bu.Checkpoint = string(signed)
	if _, err := pol.CheckBundle(bu, subject, now); err == nil {
		t.Fatal("a bundle without the witness's cosignature passed")
	}
}

// FuzzCheckCheckpoint: the signature lines after a checkpoint come from
// outside (a centre, a distributor); reading them never panics, and what
// passes a policy needing one witness carries that witness's valid
// cosignature.
func FuzzCheckCheckpoint(f *testing.F) {
	skey, vkey := newKey(f, "log.example")
	v, _ := NewVerifier(vkey)
	var l memLog
	l.add(leafN(f, 0))
	signed, _ := Sign(l.checkpoint(f, "log.example"), skey)
	w := newTestWitness(f, "witness.example")
	pol := &Policy{Log: v, Key: vkey, Witnesses: []*Witness{w.witness(f, "W")}, Threshold: 1, MaxAge: time.Hour}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	f.Add([]byte(w.cosign(signed, now)))
	f.Add([]byte("— witness.example AAAAAAAAAAAA\n"))
	f.Add([]byte("— witness.example " + strings.Repeat("A", 100) + "\n"))
	f.Fuzz(func(t *testing.T, lines []byte) {
		ch, err := pol.CheckCheckpoint(append(append([]byte{}, signed...), lines...), now)
		if err != nil {
			return
		}
		if len(ch.Cosigned) < 1 || now.Sub(ch.Cosigned[0].At) > time.Hour {
			t.Fatalf("passed with %+v", ch.Cosigned)
		}
	})
}

// BenchmarkCheckCheckpoint: what two witnesses' cosignatures add to
// checking a checkpoint (the log's signature alone is the peer).
func BenchmarkCheckCheckpoint(b *testing.B) {
	skey, vkey := newKey(b, "log.example")
	v, _ := NewVerifier(vkey)
	var l memLog
	l.add(leafN(b, 0))
	signed, _ := Sign(l.checkpoint(b, "log.example"), skey)
	now := time.Now()
	wa, wb := newTestWitness(b, "witness-a.example"), newTestWitness(b, "witness-b.example")
	cosigned := []byte(string(signed) + wa.cosign(signed, now) + wb.cosign(signed, now))
	for _, bc := range []struct {
		name string
		pol  *Policy
		note []byte
	}{
		{"log", &Policy{Log: v, Key: vkey}, signed},
		{"two-witnesses", &Policy{Log: v, Key: vkey, Witnesses: []*Witness{wa.witness(b, "A"), wb.witness(b, "B")}, Threshold: 2, MaxAge: time.Hour}, cosigned},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := bc.pol.CheckCheckpoint(bc.note, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
