// Package policy reads a customer's trust policy for `reprove verify`: which
// reviewer and rebuilder keys are trusted, how many of each must agree,
// which normalizers may turn "different" into "equivalent", what happens when
// a trusted rebuilder disagrees, and when the policy itself expires.
//
// The file is YAML (JSON is YAML too), decoded strictly: unknown keys,
// duplicate keys and a missing or unknown version are errors. The format is
// documented in the README ("Attest and verify").
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
package policy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"go.yaml.in/yaml/v3"

	"github.com/reprove/reprove/attest/keys"
	"github.com/reprove/reprove/compare/verdict"
)

// goTypeSuffix matches the Go type yaml.v3 names in its errors.
var goTypeSuffix = regexp.MustCompile(` in type [\w.\[\]*]+`)

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

func (d Dissent) String() string {
	if d == DissentReport {
		return "report"
	}
	return "fail"
}

// MarshalText implements encoding.TextMarshaler.
func (d Dissent) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Policy is a parsed, validated trust policy.
type Policy struct {
	// Expires is when the policy stops being valid; zero means never.
	Expires     time.Time
	Reviewers   Role
	Rebuilders  Role
	Normalizers []string
	Dissent     Dissent
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

// Verifiers returns the role's keys for signature checks.
func (r Role) Verifiers() []*keys.Verifier {
	out := make([]*keys.Verifier, len(r.Keys))
	for i, k := range r.Keys {
		out[i] = k.Verifier
	}
	return out
}

type file struct {
	Version     int       `yaml:"version"`
	Expires     string    `yaml:"expires"`
	Reviewers   *roleFile `yaml:"reviewers"`
	Rebuilders  *roleFile `yaml:"rebuilders"`
	Normalizers []string  `yaml:"normalizers"`
	Dissent     string    `yaml:"dissent"`
}

type roleFile struct {
	Threshold int       `yaml:"threshold"`
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
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("load policy %s: %w", path, err)
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("load policy %s: larger than %d bytes", path, MaxSize)
	}
	dir := filepath.Dir(path)
	return Parse(b, path, func(name string) ([]byte, error) {
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		return os.ReadFile(name)
	})
}

// Parse decodes and validates a policy. readKey reads a key file named in
// the policy; source names the policy in errors.
func Parse(b []byte, source string, readKey func(string) ([]byte, error)) (*Policy, error) {
	fail := func(format string, a ...any) (*Policy, error) {
		return nil, fmt.Errorf("load policy %s: "+format, append([]any{source}, a...)...)
	}
	var pf file
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&pf); err != nil {
		if errors.Is(err, io.EOF) {
			return fail("empty file")
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			// One line per problem, without Go type names.
			msgs := make([]string, len(te.Errors))
			for i, m := range te.Errors {
				msgs[i] = goTypeSuffix.ReplaceAllString(m, "")
			}
			return fail("%s", strings.Join(msgs, "; "))
		}
		return fail("%w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fail("more than one YAML document")
	}
	if pf.Version != Version {
		return fail("version is %d, want %d", pf.Version, Version)
	}
	sum := sha256.Sum256(b)
	p := &Policy{Digest: digest.NewDigestFromBytes(digest.SHA256, sum[:]), Source: source}
	var err error
	if p.Expires, err = parseTime(pf.Expires, "expires"); err != nil {
		return fail("%w", err)
	}
	switch pf.Dissent {
	case "", "fail":
		p.Dissent = DissentFail
	case "report":
		p.Dissent = DissentReport
	default:
		return fail("dissent is %q, want fail or report", pf.Dissent)
	}
	seen := map[string]bool{}
	for _, n := range pf.Normalizers {
		if n == "" || strings.TrimSpace(n) != n {
			return fail("normalizer name %q is empty or has spaces", n)
		}
		if seen[n] {
			return fail("normalizer %q is listed twice", n)
		}
		if _, ok := verdict.Lookup(n); !ok {
			return fail("normalizers: %w", &verdict.UnknownNormalizerError{Name: n})
		}
		seen[n] = true
		p.Normalizers = append(p.Normalizers, n)
	}
	sort.Strings(p.Normalizers)
	if p.Reviewers, err = parseRole(pf.Reviewers, "reviewers", readKey); err != nil {
		return fail("%w", err)
	}
	if p.Rebuilders, err = parseRole(pf.Rebuilders, "rebuilders", readKey); err != nil {
		return fail("%w", err)
	}
	return p, nil
}

func parseRole(rf *roleFile, role string, readKey func(string) ([]byte, error)) (Role, error) {
	if rf == nil {
		return Role{}, fmt.Errorf("%s: missing (a policy must name trusted %s)", role, role)
	}
	if len(rf.Keys) == 0 {
		return Role{}, fmt.Errorf("%s: no keys", role)
	}
	var r Role
	names := map[string]bool{}
	for i, kf := range rf.Keys {
		where := fmt.Sprintf("%s key %d", role, i+1)
		if kf.Name == "" {
			return Role{}, fmt.Errorf("%s: no name", where)
		}
		where = fmt.Sprintf("%s key %q", role, kf.Name)
		if names[kf.Name] {
			return Role{}, fmt.Errorf("%s: name used twice", where)
		}
		names[kf.Name] = true
		if kf.Key == "" {
			return Role{}, fmt.Errorf("%s: no key", where)
		}
		pemBytes := []byte(kf.Key)
		if !strings.HasPrefix(strings.TrimSpace(kf.Key), "-----BEGIN") {
			b, err := readKey(kf.Key)
			if err != nil {
				return Role{}, fmt.Errorf("%s: %w", where, err)
			}
			pemBytes = b
		}
		v, err := keys.ParseVerifier(pemBytes, kf.Key)
		if err != nil {
			return Role{}, fmt.Errorf("%s: %w", where, err)
		}
		k := Key{Name: kf.Name, Verifier: v}
		if k.Expires, err = parseTime(kf.Expires, where+": expires"); err != nil {
			return Role{}, err
		}
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
	r.Threshold = rf.Threshold
	if r.Threshold < 1 {
		return Role{}, fmt.Errorf("%s: threshold is %d, want at least 1", role, r.Threshold)
	}
	if r.Threshold > len(r.Keys) {
		return Role{}, fmt.Errorf("%s: threshold %d is more than the %d distinct keys listed (entries naming the same key count once)", role, r.Threshold, len(r.Keys))
	}
	return r, nil
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

// parseTime reads an optional RFC 3339 time (YAML timestamps are decoded as
// strings first so that a bad one is reported with its field name).
func parseTime(s, field string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is not an RFC 3339 time such as 2027-06-30T00:00:00Z", field, s)
	}
	return t.UTC(), nil
}
