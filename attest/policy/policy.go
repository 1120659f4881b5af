// Package policy reads a customer's trust policy for `reprove verify`: which
// reviewer and rebuilder keys are trusted, how many of each must agree,
// which normalizers may turn "different" into "equivalent", what happens when
// a trusted rebuilder disagrees, and when the policy itself expires.
//
// The file is YAML (JSON is YAML too), decoded strictly by
// internal/strictyaml, as recipes are: unknown keys (the known ones are
// listed), duplicate keys, a value of the wrong type (an integer written
// 1.5, 1e0 or 0x1), a missing or unknown version are errors, each located
// (file:line:col: field). The format is documented in the README ("The
// trust policy").
//
//	version: 1
//	expires: 2027-06-30T00:00:00Z      # optional
//	reviewers:
//	  threshold: 1
//	  keys:
//	    - name: Example Audits
//	      key: keys/audits.pub          # a file, relative to this policy
//	rebuilders:
//	  threshold: 2
//	  keys:
//	    - name: rebuilder-a
//	      key: |                        # or the PEM itself
//	        -----BEGIN PUBLIC KEY-----
//	        ...
//	      expires: 2027-01-01T00:00:00Z # optional, per key
//	normalizers: []                     # allowed normalizers; none by default
//	dissent: fail                       # fail (default) or report
//	selfReview: refuse                  # refuse (default) or allow one key in both roles
//	log:                                # optional: count only logged attestations
//	  key: transparency.example+1a2b3c4d+AbCd…  # the log's note key, or a file
//	  witnesses:                        # optional: checkpoints must be cosigned
//	    threshold: 2
//	    keys:
//	      - name: witness-a
//	        key: witness-a.example+5e6f7a8b+BE…  # a witness's note key, or a file
//	  maxAge: 168h                      # optional: cosigned no longer ago than this
//
// A rebuilder-only policy says reviewers: {required: false}; listed
// reviewers' findings then still fail a verification.
package policy

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/keys"
	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/internal/strictyaml"
)

// Version is the policy format version this package reads.
const Version = 1

// MaxSize bounds a policy file.
const MaxSize = 1 << 20

// Dissent says what a disagreeing trusted rebuilder does to a verification.
type Dissent int

const (
	// DissentFail: any trusted rebuilder that disagrees fails verification.
	DissentFail Dissent = iota
	// DissentReport: disagreement is reported; the threshold decides.
	DissentReport
)

// Policy is a parsed, validated trust policy.
type Policy struct {
	// Expires is when the policy stops being valid; zero means never.
	Expires     time.Time
	Reviewers   Role
	Rebuilders  Role
	Normalizers []string
	Dissent     Dissent
	// ReviewsOptional is set by reviewers.required: false. The zero value
	// (reviews required) is the safe one.
	ReviewsOptional bool
	// AllowSelfReview is set by selfReview: allow: one key may be both a
	// trusted reviewer and a trusted rebuilder. The zero value refuses
	// such a policy.
	AllowSelfReview bool
	// Log, when set, is the transparency log every counted attestation
	// must be in (with an inclusion proof to a checkpoint it signed), with
	// the witnesses that must have cosigned that checkpoint (log.go).
	Log *logproof.Policy
	// Digest is the sha256 of the policy file as read.
	Digest digest.Digest
	// Source says where the policy came from, for messages.
	Source string
}

// Role is a set of trusted keys and how many distinct ones must agree.
type Role struct {
	Threshold int
	// Keys are distinct public keys: entries naming the same key are merged.
	Keys []Key
}

// Key is one trusted public key.
type Key struct {
	// Name is the policy's name for the key (names of merged duplicate
	// entries are joined with " = ").
	Name    string
	Expires time.Time
	*keys.Verifier
	entry int // index of its (first) entry in the file, for errors
}

// Lookup returns the role's key with fingerprint fp.
func (r Role) Lookup(fp digest.Digest) (Key, bool) {
	for _, k := range r.Keys {
		if k.Fingerprint == fp {
			return k, true
		}
	}
	return Key{}, false
}

type file struct {
	Version     *int      `yaml:"version"`
	Expires     string    `yaml:"expires"`
	Reviewers   *roleFile `yaml:"reviewers"`
	Rebuilders  *roleFile `yaml:"rebuilders"`
	Normalizers []string  `yaml:"normalizers"`
	Dissent     string    `yaml:"dissent"`
	SelfReview  string    `yaml:"selfReview"`
	Log         *logFile  `yaml:"log"`
}

type roleFile struct {
	// Required is read for reviewers only: false makes reviews optional.
	Required  *bool     `yaml:"required"`
	Threshold *int      `yaml:"threshold"`
	Keys      []keyFile `yaml:"keys"`
}

type keyFile struct {
	Name    string `yaml:"name"`
	Key     string `yaml:"key"`
	Expires string `yaml:"expires"`
}

// Load reads and validates the policy file at path. Key files it names are
// read relative to the policy's directory.
func Load(ctx context.Context, path string) (*Policy, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("load policy: %s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("load policy %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	return Parse(b, path, func(name string) ([]byte, error) {
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		return readSmall(name)
	})
}

// readSmall reads a key file named by a policy: a regular file of at most
// keys.MaxKeyFileSize bytes.
func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, keys.MaxKeyFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > keys.MaxKeyFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes; not a key file", path, keys.MaxKeyFileSize)
	}
	return b, nil
}

// Parse decodes and validates a policy. readKey reads a key file named in
// the policy; source names the policy in errors, which are located
// (source:line:col: field: problem), all of them at once.
func Parse(b []byte, source string, readKey func(string) ([]byte, error)) (*Policy, error) {
	var pf file
	doc, errs := strictyaml.Decode(source, b, MaxSize, &pf)
	if doc == nil {
		return nil, errs.Err()
	}
	ps := &parser{doc: doc, errs: errs, readKey: readKey}
	p := ps.policy(&pf)
	if err := ps.errs.Err(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	p.Digest = digest.NewDigestFromBytes(digest.SHA256, sum[:])
	p.Source = source
	return p, nil
}

type parser struct {
	doc     *strictyaml.Doc
	errs    strictyaml.Errors
	readKey func(string) ([]byte, error)
}

func (ps *parser) fail(field string, format string, a ...any) {
	ps.errs = append(ps.errs, ps.doc.Locate(field, fmt.Errorf(format, a...)))
}

func (ps *parser) policy(pf *file) *Policy {
	p := &Policy{}
	switch {
	case pf.Version == nil:
		if !ps.doc.Has("version") {
			ps.errs = append(ps.errs, ps.doc.Locate("version", strictyaml.ErrRequired))
		}
	case *pf.Version != Version:
		ps.fail("version", "unsupported version %d (this reprove reads version %d)", *pf.Version, Version)
	}
	p.Expires = ps.time(pf.Expires, "expires")
	switch pf.Dissent {
	case "", "fail":
		p.Dissent = DissentFail
	case "report":
		p.Dissent = DissentReport
	default:
		ps.fail("dissent", "%q is not fail or report", pf.Dissent)
	}
	switch pf.SelfReview {
	case "", "refuse":
	case "allow":
		p.AllowSelfReview = true
	default:
		ps.fail("selfReview", "%q is not refuse or allow", pf.SelfReview)
	}
	seen := map[string]bool{}
	for i, n := range pf.Normalizers {
		field := fmt.Sprintf("normalizers[%d]", i)
		switch _, known := verdict.Lookup(n); {
		case n == "" || strings.TrimSpace(n) != n:
			ps.fail(field, "normalizer name %q is empty or has spaces", n)
		case seen[n]:
			ps.fail(field, "normalizer %q is listed twice", n)
		case !known:
			ps.errs = append(ps.errs, ps.doc.Locate(field, &verdict.UnknownNormalizerError{Name: n}))
		default:
			seen[n] = true
			p.Normalizers = append(p.Normalizers, n)
		}
	}
	sort.Strings(p.Normalizers)
	p.Reviewers, p.ReviewsOptional = ps.role(pf.Reviewers, "reviewers", true)
	p.Rebuilders, _ = ps.role(pf.Rebuilders, "rebuilders", false)
	if !p.AllowSelfReview {
		for _, k := range p.Rebuilders.Keys {
			if r, ok := p.Reviewers.Lookup(k.Fingerprint); ok {
				ps.fail(fmt.Sprintf("rebuilders.keys[%d].key", k.entry),
					"the key of rebuilder %q is also the key of reviewer %q: a review and a rebuild signed by one key are not independent checks (write selfReview: allow to accept it; verify then says so)", k.Name, r.Name)
			}
		}
	}
	if pf.Log != nil {
		p.Log = ps.log(pf.Log)
	}
	return p
}

func (ps *parser) role(rf *roleFile, role string, reviewers bool) (r Role, optional bool) {
	if rf == nil {
		ps.fail(role, "%w: a policy must name trusted %s", strictyaml.ErrRequired, role)
		return Role{}, false
	}
	if rf.Required != nil {
		if !reviewers {
			ps.fail(role+".required", "only reviews can be made optional")
		} else {
			optional = !*rf.Required
		}
	}
	names := map[string]bool{}
	for i, kf := range rf.Keys {
		field := fmt.Sprintf("%s.keys[%d]", role, i)
		if kf.Name == "" {
			ps.fail(field+".name", "%w", strictyaml.ErrRequired)
			continue
		}
		if names[kf.Name] {
			ps.fail(field+".name", "%q is used twice", kf.Name)
			continue
		}
		names[kf.Name] = true
		if kf.Key == "" {
			ps.fail(field+".key", "%w", strictyaml.ErrRequired)
			continue
		}
		pemBytes, keyName := []byte(kf.Key), "(inline PEM)"
		if !strings.HasPrefix(strings.TrimSpace(kf.Key), "-----BEGIN") {
			keyName = kf.Key
			b, err := ps.readKey(kf.Key)
			if err != nil {
				ps.fail(field+".key", "%v", err)
				continue
			}
			pemBytes = b
		}
		v, err := keys.ParseVerifier(pemBytes, keyName)
		if err != nil {
			ps.fail(field+".key", "%v", err)
			continue
		}
		k := Key{Name: kf.Name, Verifier: v, entry: i}
		k.Expires = ps.time(kf.Expires, field+".expires")
		merged := false
		for j := range r.Keys {
			if r.Keys[j].Fingerprint == v.Fingerprint {
				// The same public key under another name counts once.
				r.Keys[j].Name += " = " + k.Name
				if !k.Expires.IsZero() && (r.Keys[j].Expires.IsZero() || k.Expires.Before(r.Keys[j].Expires)) {
					r.Keys[j].Expires = k.Expires
				}
				merged = true
			}
		}
		if !merged {
			r.Keys = append(r.Keys, k)
		}
	}
	if optional {
		if rf.Threshold != nil {
			ps.fail(role+".threshold", "a threshold applies only when reviews are required (required: true)")
		}
		return r, true
	}
	switch {
	case len(rf.Keys) == 0:
		ps.fail(role+".keys", "%w: at least one trusted key", strictyaml.ErrRequired)
	case rf.Threshold == nil:
		if !ps.doc.Has(role + ".threshold") { // else already reported
			ps.fail(role+".threshold", "%w: how many distinct keys must agree", strictyaml.ErrRequired)
		}
	case *rf.Threshold < 1:
		ps.fail(role+".threshold", "%d; want at least 1", *rf.Threshold)
	case len(r.Keys) > 0 && *rf.Threshold > len(r.Keys):
		ps.fail(role+".threshold", "%d is more than the %d distinct keys listed (entries naming the same key count once)", *rf.Threshold, len(r.Keys))
	default:
		r.Threshold = *rf.Threshold
	}
	return r, false
}

// Allows reports whether every normalizer in names is allowed.
func (p *Policy) Allows(names []string) (bool, []string) {
	var bad []string
	for _, n := range names {
		i := sort.SearchStrings(p.Normalizers, n)
		if i >= len(p.Normalizers) || p.Normalizers[i] != n {
			bad = append(bad, n)
		}
	}
	return len(bad) == 0, bad
}

// time reads an optional RFC 3339 time (YAML timestamps are decoded as
// strings first so that a bad one is reported with its field name).
func (ps *parser) time(s, field string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		ps.fail(field, "%q is not an RFC 3339 time such as 2027-06-30T00:00:00Z", s)
		return time.Time{}
	}
	return t.UTC()
}
