package logproof

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// Witnessed checkpoints (C2SP tlog-witness, tlog-cosignature).
//
// A witness is an independent party that keeps, for each log it watches, the
// newest checkpoint it has cosigned, and cosigns a new one only when the log
// proves it extends that one. A checkpoint several witnesses cosigned is one
// the log cannot have shown to them and, in another version, to a customer:
// a fork would need the witnesses' help. Each cosignature carries the time
// it was made, which dates the checkpoint: a bundle whose cosignatures are
// all old is a stale view, however genuine its signatures.
//
// Cosignatures are checked with transparency-dev/formats' cosignature/v1
// verifier (the format C2SP specifies); x/mod's note package reads the
// signature lines.

// ClockSkew is how far in the future a cosignature's time may be before it
// is not counted.
const ClockSkew = 5 * time.Minute

// Witness is one witness a policy trusts.
type Witness struct {
	// Name is the policy's name for the witness, for messages.
	Name string
	// Key is its note verifier key (a cosignature/v1 key, type 0x04, as
	// litewitness prints it; a plain Ed25519 key is read as the same key).
	Key string
	v   note.Verifier
}

// NewWitness parses a witness's verifier key.
func NewWitness(name, vkey string) (*Witness, error) {
	vkey = strings.TrimSpace(vkey)
	v, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		return nil, fmt.Errorf("witness key %q: %w", vkey, err)
	}
	return &Witness{Name: name, Key: vkey, v: v}, nil
}

// KeyName is the name in the witness's key, which its cosignature lines
// carry.
func (w *Witness) KeyName() string { return w.v.Name() }

// Same reports whether two witnesses are one key.
func (w *Witness) Same(o *Witness) bool {
	return w.v.Name() == o.v.Name() && w.v.KeyHash() == o.v.KeyHash()
}

// Policy is the log section of a trust policy: the log whose checkpoints
// count and, optionally, the witnesses that must have cosigned them and how
// old their cosignatures may be.
type Policy struct {
	// Log checks the log's own signatures; Key is its verifier key.
	Log *Verifier
	Key string
	// Witnesses are the witnesses the policy names (distinct keys);
	// Threshold of them must have cosigned a checkpoint for it to count.
	Witnesses []*Witness
	Threshold int
	// MaxAge, when positive, bounds a checkpoint's age: Threshold of the
	// witnesses must have cosigned it no longer than MaxAge before now.
	MaxAge time.Duration
}

// Name is the log's name (its origin).
func (p *Policy) Name() string { return p.Log.Name() }

// Checked is a checkpoint that passed a policy.
type Checked struct {
	Checkpoint
	// Note is the signed checkpoint as it came, cosignatures included.
	Note []byte
	// Cosigned lists the policy's witnesses whose valid cosignature the
	// note carries, with when each cosigned, newest first.
	Cosigned []Cosignature
}

// Cosignature is one witness's valid cosignature.
type Cosignature struct {
	Witness string
	At      time.Time
}

// WitnessError is a checkpoint that the policy's witnesses have not vouched
// for: too few of them cosigned it, or too long ago.
type WitnessError struct {
	// Size is the checkpoint's tree size.
	Size int64
	// Have counts the valid cosignatures by distinct witnesses of the
	// policy; Fresh those no older than MaxAge (when the policy sets it).
	Have, Fresh, Need, Of int
	MaxAge                time.Duration
	// Newest is the newest valid cosignature's time (zero when none).
	Newest time.Time
	Now    time.Time
	// Names are the policy's witnesses, for the message.
	Names []string
}

func (e *WitnessError) Error() string {
	if e.Have < e.Need {
		why := "no independent witness has seen this tree of the log, so it may be a fork shown to you alone"
		if e.Have > 0 {
			why = "too few independent witnesses have seen this tree of the log, so it may be a fork shown to you alone"
		}
		return fmt.Sprintf("the log's checkpoint at tree size %d is cosigned by %d of the %d witnesses the policy names (%s), and the policy requires %d: %s",
			e.Size, e.Have, e.Of, strings.Join(e.Names, ", "), e.Need, why)
	}
	return fmt.Sprintf("the log's checkpoint at tree size %d is stale: %d of the %d witnesses the policy requires cosigned it within maxAge %s (the newest cosignature is from %s, %s before now), so entries logged since may be left out",
		e.Size, e.Fresh, e.Need, e.MaxAge, e.Newest.UTC().Format(time.RFC3339), e.Now.Sub(e.Newest).Round(time.Second))
}

// CheckCheckpoint opens a signed checkpoint of the log and checks it
// against the policy's witnesses at time now.
func (p *Policy) CheckCheckpoint(signed []byte, now time.Time) (*Checked, error) {
	return p.checkCheckpoint(signed, now, "the checkpoint")
}

func (p *Policy) checkCheckpoint(signed []byte, now time.Time, what string) (*Checked, error) {
	c, err := p.Log.Open(signed)
	if err != nil {
		return nil, fmt.Errorf("%s is not signed by the log %s: %w", what, p.Name(), err)
	}
	ch := &Checked{Checkpoint: c, Note: signed}
	if len(p.Witnesses) == 0 {
		return ch, nil
	}
	vs := make([]note.Verifier, len(p.Witnesses))
	for i, w := range p.Witnesses {
		vs[i] = w.v
	}
	n, err := note.Open(signed, note.VerifierList(vs...))
	var une *note.UnverifiedNoteError
	var ise *note.InvalidSignatureError
	switch {
	case errors.As(err, &une):
		n = une.Note
	case errors.As(err, &ise):
		return nil, fmt.Errorf("the log's checkpoint at tree size %d carries a cosignature that claims to be by witness %s but does not verify", c.Size, ise.Name)
	case err != nil:
		return nil, fmt.Errorf("the log's checkpoint at tree size %d: cosignatures: %w", c.Size, err)
	}
	e := &WitnessError{Size: c.Size, Need: p.Threshold, Of: len(p.Witnesses), MaxAge: p.MaxAge, Now: now}
	for _, w := range p.Witnesses {
		e.Names = append(e.Names, w.Name)
	}
	for _, s := range n.Sigs {
		w := p.witness(s)
		if w == nil {
			continue
		}
		at, err := fnote.CoSigV1Timestamp(s)
		if err != nil || at.After(now.Add(ClockSkew)) {
			// A cosignature dated in the future vouches for nothing.
			continue
		}
		ch.Cosigned = append(ch.Cosigned, Cosignature{Witness: w.Name, At: at.UTC()})
	}
	sort.Slice(ch.Cosigned, func(i, j int) bool { return ch.Cosigned[i].At.After(ch.Cosigned[j].At) })
	e.Have = len(ch.Cosigned)
	if e.Have > 0 {
		e.Newest = ch.Cosigned[0].At
	}
	for _, cs := range ch.Cosigned {
		if p.MaxAge <= 0 || now.Sub(cs.At) <= p.MaxAge {
			e.Fresh++
		}
	}
	if e.Have < p.Threshold || e.Fresh < p.Threshold {
		return nil, e
	}
	return ch, nil
}

func (p *Policy) witness(s note.Signature) *Witness {
	for _, w := range p.Witnesses {
		if w.v.Name() == s.Name && w.v.KeyHash() == s.Hash {
			return w
		}
	}
	return nil
}

// CheckBundle checks a log bundle for subject against the policy offline:
// its checkpoint is the log's and vouched for by the witnesses the policy
// requires, and its signed artifact index shows it leaves nothing out. The
// entries' inclusion proofs are checked one by one with BundleEntry's
// VerifyEntry against the returned checkpoint.
func (p *Policy) CheckBundle(bu *Bundle, subject digest.Digest, now time.Time) (*Checked, error) {
	ch, err := p.checkCheckpoint([]byte(bu.Checkpoint), now, "its checkpoint")
	if err != nil {
		return nil, err
	}
	if err := bu.CheckComplete(p.Log, ch.Checkpoint, subject); err != nil {
		return nil, err
	}
	return ch, nil
}
