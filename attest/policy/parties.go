package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/keyless"
	"github.com/reprove/reprove/attest/keys"
	"github.com/reprove/reprove/internal/strictyaml"
)

// Party is one trusted signer of a role: a public key, or a keyless
// identity (a certificate subject and OIDC issuer, checked under the
// policy's Sigstore trusted root). Thresholds count parties: a key is one
// party however many entries name it, and so is an identity (an issuer
// with one subject, or one subject pattern).
type Party struct {
	// ID is the key's fingerprint, or the identity's ID.
	ID      digest.Digest
	Name    string
	Expires time.Time
	// Identity is set for a keyless identity, nil for a key.
	Identity *keyless.Identity
}

// Identity is one trusted keyless identity of a role.
type Identity struct {
	// Name is the policy's name for it (names of merged duplicate
	// entries are joined with " = ").
	Name    string
	Expires time.Time
	*keyless.Identity
	entry int
}

// Len is the number of distinct parties (keys and identities) of the
// role: the most a threshold can ask for.
func (r Role) Len() int { return len(r.Keys) + len(r.Identities) }

// Party returns the role's party with this ID.
func (r Role) Party(id digest.Digest) (Party, bool) {
	if k, ok := r.Lookup(id); ok {
		return Party{ID: id, Name: k.Name, Expires: k.Expires}, true
	}
	for _, i := range r.Identities {
		if i.ID() == id {
			return Party{ID: id, Name: i.Name, Expires: i.Expires, Identity: i.Identity}, true
		}
	}
	return Party{}, false
}

// Match returns the first of the role's identities, in the policy's
// order, that a verified certificate claim is. One certificate counts for
// one identity of a role, even when several entries would match it.
func (r Role) Match(c keyless.Claim) (Identity, bool) {
	for _, i := range r.Identities {
		if i.Matches(c) {
			return i, true
		}
	}
	return Identity{}, false
}

// HasIdentities reports whether any role trusts a keyless identity.
func (p *Policy) HasIdentities() bool {
	return len(p.Reviewers.Identities)+len(p.Rebuilders.Identities)+len(p.Builders.Identities) > 0
}

// identityFile is one entry of a role's identities.
type identityFile struct {
	Name           string `yaml:"name"`
	Issuer         string `yaml:"issuer"`
	Subject        string `yaml:"subject"`
	SubjectPattern string `yaml:"subjectPattern"`
	Expires        string `yaml:"expires"`
}

// identities reads a role's identities into r, merging entries for the
// same identity; names holds the names the role's keys use already.
func (ps *parser) identities(ifs []identityFile, role string, names map[string]bool, r *Role) {
	for i, f := range ifs {
		field := fmt.Sprintf("%s.identities[%d]", role, i)
		switch {
		case f.Name == "":
			ps.fail(field+".name", "%w", strictyaml.ErrRequired)
			continue
		case names[f.Name]:
			ps.fail(field+".name", "%q is used twice", f.Name)
			continue
		case f.Issuer == "":
			ps.fail(field+".issuer", "%w: the OIDC issuer that vouches for the identity (for GitHub Actions, %s)", strictyaml.ErrRequired, "https://token.actions.githubusercontent.com")
			continue
		case f.Subject == "" && f.SubjectPattern == "":
			ps.fail(field+".subject", "%w: the certificate subject (an email address, or a workflow URI), or a subjectPattern", strictyaml.ErrRequired)
			continue
		case f.Subject != "" && f.SubjectPattern != "":
			ps.fail(field+".subjectPattern", "give a subject or a subjectPattern, not both")
			continue
		}
		names[f.Name] = true
		id, err := keyless.NewIdentity(f.Issuer, f.Subject, f.SubjectPattern)
		if err != nil {
			at := field + ".subject"
			if f.SubjectPattern != "" {
				at = field + ".subjectPattern"
			}
			ps.fail(at, "%v", err)
			continue
		}
		e := Identity{Name: f.Name, Identity: id, entry: i}
		e.Expires = ps.time(f.Expires, field+".expires")
		merged := false
		for j := range r.Identities {
			if r.Identities[j].ID() == id.ID() {
				r.Identities[j].Name += " = " + e.Name
				if !e.Expires.IsZero() && (r.Identities[j].Expires.IsZero() || e.Expires.Before(r.Identities[j].Expires)) {
					r.Identities[j].Expires = e.Expires
				}
				merged = true
			}
		}
		if !merged {
			r.Identities = append(r.Identities, e)
		}
	}
}

// builders reads the optional builders section: the parties whose build
// provenance of the file verify shows, and requires when required is true.
// A builder has no threshold; it may not also be a rebuilder.
func (ps *parser) builders(rf *roleFile, p *Policy) {
	if rf == nil {
		return
	}
	if rf.Threshold != nil {
		ps.fail("builders.threshold", "builders have no threshold: their provenance is shown, and with required: true one is needed")
	}
	p.BuildersRequired = rf.Required != nil && *rf.Required
	names := map[string]bool{}
	p.Builders = ps.keys(rf.Keys, "builders", names)
	ps.identities(rf.Identities, "builders", names, &p.Builders)
	if len(rf.Keys)+len(rf.Identities) == 0 {
		ps.fail("builders", "%w: at least one trusted key or identity", strictyaml.ErrRequired)
	}
	for _, k := range p.Builders.Keys {
		if r, ok := p.Rebuilders.Lookup(k.Fingerprint); ok {
			ps.fail(fmt.Sprintf("builders.keys[%d].key", k.entry), "the key of builder %q is also the key of rebuilder %q: a rebuild by the builder is no independent check", k.Name, r.Name)
		}
	}
	for _, i := range p.Builders.Identities {
		if r, ok := p.Rebuilders.Party(i.ID()); ok {
			ps.fail(fmt.Sprintf("builders.identities[%d]", i.entry), "builder %q is also rebuilder %q: a rebuild by the builder is no independent check", i.Name, r.Name)
		}
	}
}

// trustedRoot reads the Sigstore trusted root that identities are checked
// under: required when a role names an identity, refused otherwise (a
// root that nothing uses is a policy that does not say what its author
// thinks).
func (ps *parser) trustedRoot(name string, p *Policy) {
	switch {
	case name == "" && p.HasIdentities():
		ps.fail("trustedRoot", "%w: identities are checked under a Sigstore trusted root (trusted_root.json, as cosign's --trusted-root takes it)", strictyaml.ErrRequired)
		return
	case name == "":
		return
	case !p.HasIdentities():
		ps.fail("trustedRoot", "no role names an identity, so the trusted root would not be used")
		return
	}
	b, err := ps.readKey(name)
	if err != nil {
		ps.fail("trustedRoot", "%v", err)
		return
	}
	r, err := keyless.ParseTrustedRoot(b, name)
	if err != nil {
		ps.fail("trustedRoot", "%v", err)
		return
	}
	p.TrustedRoot, p.TrustedRootFile = r, name
}

// selfReviewIdentities refuses, unless selfReview: allow, an identity
// trusted both as a reviewer and as a rebuilder.
func (ps *parser) selfReviewIdentities(p *Policy) {
	if p.AllowSelfReview {
		return
	}
	for _, i := range p.Rebuilders.Identities {
		if r, ok := p.Reviewers.Party(i.ID()); ok {
			ps.fail(fmt.Sprintf("rebuilders.identities[%d]", i.entry),
				"rebuilder %q is the same identity as reviewer %q: a review and a rebuild signed by one identity are not independent checks (write selfReview: allow to accept it; verify then says so)", i.Name, r.Name)
		}
	}
}

// keyBytes reads a key named in the policy: inline PEM, or a file of at
// most keys.MaxKeyFileSize bytes.
func (ps *parser) keyBytes(key string) ([]byte, string, error) {
	if strings.HasPrefix(strings.TrimSpace(key), "-----BEGIN") {
		return []byte(key), "(inline PEM)", nil
	}
	b, err := ps.readKey(key)
	if err != nil {
		return nil, key, err
	}
	if len(b) > keys.MaxKeyFileSize {
		return nil, key, fmt.Errorf("%s: larger than %d bytes; not a key file", key, keys.MaxKeyFileSize)
	}
	return b, key, nil
}
