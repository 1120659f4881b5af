// Package logprooftest makes witness cosignatures for tests at whatever
// time a test names (C2SP tlog-cosignature, cosignature/v1), which a real
// witness (litewitness, in the centre's tests) only makes at its own time.
package logprooftest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// Witness is a witness's key pair.
type Witness struct {
	// Name is the name in its key and signature lines; Key is its
	// cosignature/v1 verifier key, as a policy names it.
	Name, Key string
	priv      ed25519.PrivateKey
	hash      uint32
}

// NewWitness makes a witness with a fresh key.
func NewWitness(name string) (*Witness, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return nil, err
	}
	key, err := fnote.VKeyToCosignatureV1(vkey)
	if err != nil {
		return nil, err
	}
	v, err := fnote.NewVerifierForCosignatureV1(key)
	if err != nil {
		return nil, err
	}
	return &Witness{Name: name, Key: key, priv: priv, hash: v.KeyHash()}, nil
}

// Cosign returns the witness's signature line on a signed note's text (a
// checkpoint), dated at.
func (w *Witness) Cosign(signed []byte, at time.Time) []byte {
	text, _, _ := strings.Cut(string(signed), "\n\n")
	msg := fmt.Sprintf("cosignature/v1\ntime %d\n%s\n", at.Unix(), text)
	sig := binary.BigEndian.AppendUint32(nil, w.hash)
	sig = binary.BigEndian.AppendUint64(sig, uint64(at.Unix()))
	sig = append(sig, ed25519.Sign(w.priv, []byte(msg))...)
	return []byte("— " + w.Name + " " + base64.StdEncoding.EncodeToString(sig) + "\n")
}
