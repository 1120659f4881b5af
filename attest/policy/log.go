package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/internal/strictyaml"
)

// The policy's log section: the transparency log whose checkpoints count,
// the witnesses that must have cosigned them, and how old a checkpoint may
// be. What it means is attest/logproof's (Policy); this file only reads it.
//
//	log:
//	  key: centre.example/log+1a2b3c4d+AbCd…     # the log's note key, or a file
//	  witnesses:
//	    threshold: 2                              # distinct witnesses that must cosign
//	    keys:
//	      - name: witness-a
//	        key: witness-a.example+5e6f7a8b+BE…   # a witness's note key, or a file
//	  maxAge: 168h                                # optional; needs witnesses

type logFile struct {
	// Key is the log's note verifier key ("origin+hash+base64") or a file
	// holding it, relative to the policy.
	Key       string         `yaml:"key"`
	Witnesses *witnessesFile `yaml:"witnesses"`
	// MaxAge is a Go duration (168h, 90m): Threshold witnesses must have
	// cosigned a bundle's checkpoint no longer ago than this.
	MaxAge string `yaml:"maxAge"`
}

type witnessesFile struct {
	Threshold *int          `yaml:"threshold"`
	Keys      []witnessFile `yaml:"keys"`
}

type witnessFile struct {
	Name string `yaml:"name"`
	Key  string `yaml:"key"`
}

// MinMaxAge is the least maxAge a policy may set: a witness is asked for a
// new cosignature every so often, not every second.
const MinMaxAge = time.Minute

func (ps *parser) log(lf *logFile) *logproof.Policy {
	if lf.Key == "" {
		ps.fail("log.key", "%w: the log's note verifier key (origin+hash+base64) or a file holding it", strictyaml.ErrRequired)
		return nil
	}
	vkey, err := ps.noteKey(lf.Key, func(k string) error {
		_, err := logproof.NewVerifier(k)
		return err
	})
	if err != nil {
		ps.fail("log.key", "%v", err)
		return nil
	}
	v, _ := logproof.NewVerifier(vkey)
	p := &logproof.Policy{Log: v, Key: vkey}
	if lf.Witnesses != nil {
		p.Witnesses, p.Threshold = ps.witnesses(lf.Witnesses)
	}
	if lf.MaxAge != "" {
		d, err := time.ParseDuration(lf.MaxAge)
		switch {
		case err != nil:
			ps.fail("log.maxAge", "%q is not a duration such as 168h or 90m", lf.MaxAge)
		case d < MinMaxAge:
			ps.fail("log.maxAge", "%s is less than %s", d, MinMaxAge)
		case lf.Witnesses == nil:
			ps.fail("log.maxAge", "maxAge needs log.witnesses: the witnesses' cosignatures are what date a checkpoint")
		default:
			p.MaxAge = d
		}
	}
	return p
}

// witnesses reads log.witnesses: distinct keys and a threshold of them.
func (ps *parser) witnesses(wf *witnessesFile) ([]*logproof.Witness, int) {
	var out []*logproof.Witness
	names := map[string]bool{}
	for i, k := range wf.Keys {
		field := fmt.Sprintf("log.witnesses.keys[%d]", i)
		switch {
		case k.Name == "":
			ps.fail(field+".name", "%w", strictyaml.ErrRequired)
			continue
		case names[k.Name]:
			ps.fail(field+".name", "%q is used twice", k.Name)
			continue
		case k.Key == "":
			ps.fail(field+".key", "%w: the witness's note verifier key or a file holding it", strictyaml.ErrRequired)
			continue
		}
		names[k.Name] = true
		vkey, err := ps.noteKey(k.Key, func(key string) error {
			_, err := logproof.NewWitness(k.Name, key)
			return err
		})
		if err != nil {
			ps.fail(field+".key", "%v", err)
			continue
		}
		w, _ := logproof.NewWitness(k.Name, vkey)
		dup := false
		for _, o := range out {
			if o.Same(w) {
				ps.fail(field+".key", "witness %q has the key of witness %q: a witness counts once", k.Name, o.Name)
				dup = true
			}
		}
		if !dup {
			out = append(out, w)
		}
	}
	switch {
	case len(wf.Keys) == 0:
		ps.fail("log.witnesses.keys", "%w: at least one witness", strictyaml.ErrRequired)
	case wf.Threshold == nil:
		if !ps.doc.Has("log.witnesses.threshold") {
			ps.fail("log.witnesses.threshold", "%w: how many distinct witnesses must have cosigned a checkpoint", strictyaml.ErrRequired)
		}
	case *wf.Threshold < 1:
		ps.fail("log.witnesses.threshold", "%d; want at least 1", *wf.Threshold)
	case len(out) > 0 && *wf.Threshold > len(out):
		ps.fail("log.witnesses.threshold", "%d is more than the %d distinct witnesses listed", *wf.Threshold, len(out))
	default:
		return out, *wf.Threshold
	}
	return out, 0
}

// noteKey reads a note verifier key written in the policy, or else the file
// it names (relative to the policy); check says whether text is a key.
func (ps *parser) noteKey(s string, check func(string) error) (string, error) {
	vkey := strings.TrimSpace(s)
	err := check(vkey)
	if err == nil {
		return vkey, nil
	}
	b, rerr := ps.readKey(s)
	if rerr != nil {
		return "", fmt.Errorf("neither a note verifier key (%v) nor a readable file (%v)", err, rerr)
	}
	vkey = strings.TrimSpace(string(b))
	if err := check(vkey); err != nil {
		return "", fmt.Errorf("%s: %v", s, err)
	}
	return vkey, nil
}
