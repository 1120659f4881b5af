// Package archive is a client of a Debian archive (a mirror, or a snapshot
// of one): it fetches a suite's InRelease, verifies its OpenPGP signature
// against the Debian archive keyring, and then fetches the indexes the
// Release file lists (Packages, Sources), each checked against the SHA-256
// and size the signed file gives before a byte of it is parsed.
//
// Signatures are checked with github.com/ProtonMail/go-crypto, the
// maintained fork of Go's OpenPGP package; nothing is taken on trust from
// the network but the keyring the caller loads.
package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/debian/deb822"
)

// DefaultKeyring is where Debian's debian-archive-keyring package puts the
// archive's keys.
const DefaultKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

// LoadKeyring reads OpenPGP public keys from files, binary (as
// debian-archive-keyring ships them) or ASCII-armoured.
func LoadKeyring(paths ...string) (openpgp.EntityList, error) {
	var all openpgp.EntityList
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("load keyring: %w", err)
		}
		var el openpgp.EntityList
		if bytes.HasPrefix(bytes.TrimSpace(b), []byte("-----BEGIN PGP")) {
			el, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(b))
		} else {
			el, err = openpgp.ReadKeyRing(bytes.NewReader(b))
		}
		if err != nil {
			return nil, fmt.Errorf("load keyring %s: %w", p, err)
		}
		all = append(all, el...)
	}
	if len(all) == 0 {
		return nil, errors.New("load keyring: no keys")
	}
	return all, nil
}

// IndexFile is one file a Release lists.
type IndexFile struct {
	Path   string
	Size   int64
	SHA256 digest.Digest
}

// Release is a verified Release file.
type Release struct {
	Origin, Suite, Codename, Version string
	Date                             time.Time
	// ValidUntil is zero when the file sets none.
	ValidUntil    time.Time
	Architectures []string
	Components    []string
	AcquireByHash bool
	// Files are the indexes it signs, by path below dists/SUITE/.
	Files map[string]IndexFile
	// Digest is the SHA-256 of the InRelease file as fetched.
	Digest digest.Digest
	// Signer is the fingerprint of the key whose signature was checked.
	Signer string
}

// SignatureError is an InRelease whose signature does not verify.
type SignatureError struct {
	What string
	Err  error
}

func (e *SignatureError) Error() string {
	return fmt.Sprintf("%s: the OpenPGP signature does not verify against the Debian archive keyring: %v", e.What, e.Err)
}

func (e *SignatureError) Unwrap() error { return e.Err }

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Now is the time signatures and Valid-Until are checked at (time.Now
	// when zero).
	Now time.Time
	// IgnoreValidUntil accepts a Release past its Valid-Until: a snapshot
	// of an old state of the archive is expired by design, and its files
	// are still what they were.
	IgnoreValidUntil bool
}

// Verify checks an InRelease file (a clearsigned Release) against the
// keyring and returns the Release it signs. what names it in errors (its
// URL). Nothing but the signed text is read: text around or after the
// signed block is refused.
func Verify(what string, inRelease []byte, keyring openpgp.EntityList, opts VerifyOptions) (*Release, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	block, rest := clearsign.Decode(inRelease)
	if block == nil {
		return nil, &SignatureError{What: what, Err: errors.New("not an OpenPGP clearsigned document")}
	}
	if len(bytes.TrimSpace(rest)) > 0 || len(bytes.TrimSpace(inRelease[:bytes.Index(inRelease, []byte("-----BEGIN PGP SIGNED MESSAGE-----"))])) > 0 {
		return nil, &SignatureError{What: what, Err: errors.New("text outside the signed block")}
	}
	cfg := &packet.Config{Time: func() time.Time { return now }}
	signer, err := openpgp.CheckDetachedSignature(keyring, bytes.NewReader(block.Bytes), block.ArmoredSignature.Body, cfg)
	if err != nil {
		return nil, &SignatureError{What: what, Err: err}
	}
	rel, err := parseRelease(what, block.Plaintext)
	if err != nil {
		return nil, err
	}
	if !opts.IgnoreValidUntil && !rel.ValidUntil.IsZero() && now.After(rel.ValidUntil) {
		return nil, fmt.Errorf("%s: expired: valid until %s", what, rel.ValidUntil.UTC().Format(time.RFC3339))
	}
	rel.Digest = digest.FromBytes(inRelease)
	rel.Signer = strings.ToUpper(fmt.Sprintf("%x", signer.PrimaryKey.Fingerprint))
	return rel, nil
}

// releaseTime parses a Release date ("Sat, 11 Jul 2026 10:16:37 UTC").
func releaseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC1123, time.RFC1123Z, "Mon, 2 Jan 2006 15:04:05 MST", "Mon, 2 Jan 2006 15:04:05 -0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date", s)
}

func parseRelease(what string, text []byte) (*Release, error) {
	rd, err := deb822.NewReader(what, bytes.NewReader(text), deb822.MaxDocument)
	if err != nil {
		return nil, err
	}
	ps, err := rd.All()
	if err != nil {
		return nil, err
	}
	if len(ps) != 1 {
		return nil, fmt.Errorf("%s: %d paragraphs, want 1", what, len(ps))
	}
	p := ps[0]
	fail := func(field string, err error) error {
		return &deb822.FieldError{What: what, Paragraph: 1, Field: field, Err: err}
	}
	r := &Release{
		Origin: p.Value("Origin"), Suite: p.Value("Suite"), Codename: p.Value("Codename"), Version: p.Value("Version"),
		Architectures: strings.Fields(p.Value("Architectures")), Components: strings.Fields(p.Value("Components")),
		AcquireByHash: p.Value("Acquire-By-Hash") == "yes",
		Files:         map[string]IndexFile{},
	}
	if r.Date, err = releaseTime(p.Value("Date")); err != nil {
		return nil, fail("Date", err)
	}
	if v, ok := p.Get("Valid-Until"); ok {
		if r.ValidUntil, err = releaseTime(v); err != nil {
			return nil, fail("Valid-Until", err)
		}
	}
	sums, ok := p.Get("SHA256")
	if !ok {
		return nil, fail("SHA256", errors.New("missing: the Release lists no SHA-256 sums"))
	}
	for _, line := range strings.Split(sums, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 || len(f[0]) != 64 {
			return nil, fail("SHA256", fmt.Errorf("line %q is not \"sha256 size path\"", line))
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || size < 0 {
			return nil, fail("SHA256", fmt.Errorf("%q is not a size", f[1]))
		}
		d := digest.NewDigestFromEncoded(digest.SHA256, strings.ToLower(f[0]))
		if d.Validate() != nil {
			return nil, fail("SHA256", fmt.Errorf("%q is not a SHA-256", f[0]))
		}
		r.Files[f[2]] = IndexFile{Path: f[2], Size: size, SHA256: d}
	}
	return r, nil
}

// readAllLimited reads at most limit bytes, failing beyond.
func readAllLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, deb822.ErrTooLarge
	}
	return b, nil
}
