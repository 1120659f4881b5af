package archive

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/opencontainers/go-digest"
	"github.com/ulikunitz/xz"

	"github.com/reprove/reprove/debian/deb822"
	"github.com/reprove/reprove/internal/atomicfile"
)

// DefaultMirror is Debian's mirror network.
const DefaultMirror = "http://deb.debian.org/debian"

// DefaultSnapshot is Debian's snapshot archive. Its layout is
// BASE/archive/debian/TIMESTAMP/… (dists/ and pool/ as on a mirror), a
// timestamp giving the archive as it was then (the closest earlier
// snapshot).
const DefaultSnapshot = "https://snapshot.debian.org"

// SnapshotDelay is how long after a lock's Release date the snapshot
// archive is asked for its state. A snapshot archive serves, for a
// timestamp, the latest state it took at or before it; the state that
// holds a Release of date D is the first one taken after D, and Debian's
// snapshot archive takes one at least every six hours. Files dropped from
// the index stay in the pool for a day and a half, so the state six hours
// on still holds every file the lock names.
const SnapshotDelay = 6 * time.Hour

// SnapshotURL is the base URL of the archive as a snapshot archive at base
// holds it at time t.
func SnapshotURL(base string, t time.Time) string {
	return SnapshotArchiveURL(base, "debian", t)
}

// SnapshotArchiveURL is the base URL of the archive called name
// ("debian-security") as a snapshot archive at base holds it at time t:
// BASE/archive/NAME/TIMESTAMP, with dists/ and pool/ below as on the
// archive itself.
func SnapshotArchiveURL(base, name string, t time.Time) string {
	return strings.TrimSuffix(base, "/") + "/archive/" + name + "/" + SnapshotTimestamp(t)
}

// ArchiveName is the name a snapshot archive gives the archive at the base
// URL u: its last path element ("debian-security" for
// http://deb.debian.org/debian-security).
func ArchiveName(u string) string {
	u = strings.TrimSuffix(u, "/")
	if i := strings.LastIndex(u, "/"); i >= 0 && !strings.HasSuffix(u[:i], "/") {
		return u[i+1:]
	}
	return "debian"
}

// DefaultSecurity is Debian's security archive: a stable suite's
// security updates are its suite SUITE-security.
const DefaultSecurity = "http://deb.debian.org/debian-security"

// SnapshotTimestamp formats t as snapshot archives name their states
// ("20240101T000000Z").
func SnapshotTimestamp(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// Client reads one archive.
type Client struct {
	// Base is the archive's base URL (a mirror, or SnapshotURL).
	Base string
	// Keyring holds the keys a Release must be signed by.
	Keyring openpgp.EntityList
	// HTTP is the client (http.DefaultClient when nil).
	HTTP *http.Client
	// CacheDir, if set, keeps fetched indexes by their SHA-256 (they are
	// checked again when read).
	CacheDir string
	// Verify tunes signature checking (IgnoreValidUntil for snapshots).
	Verify VerifyOptions
	// Log reports progress; it may be nil.
	Log func(string)
}

func (c *Client) log(format string, args ...any) {
	if c.Log != nil {
		c.Log(fmt.Sprintf(format, args...))
	}
}

func (c *Client) http() *http.Client {
	if c.HTTP == nil {
		return http.DefaultClient
	}
	return c.HTTP
}

// StatusError is an HTTP answer other than 200 OK.
type StatusError struct {
	URL    string
	Status string
	Code   int
}

func (e *StatusError) Error() string { return fmt.Sprintf("GET %s: %s", e.URL, e.Status) }

// NotFound reports whether err is a 404 (or 410) from the archive.
func NotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && (se.Code == http.StatusNotFound || se.Code == http.StatusGone)
}

// get fetches url, at most limit bytes.
func (c *Client) get(ctx context.Context, url string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{URL: url, Status: resp.Status, Code: resp.StatusCode}
	}
	b, err := readAllLimited(resp.Body, limit)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	return b, nil
}

func (c *Client) base() string {
	if c.Base == "" {
		return DefaultMirror
	}
	return strings.TrimSuffix(c.Base, "/")
}

// Release fetches and verifies dists/SUITE/InRelease.
func (c *Client) Release(ctx context.Context, suite string) (*Release, error) {
	if len(c.Keyring) == 0 {
		return nil, errors.New("fetch Release: no keyring")
	}
	url := c.base() + "/dists/" + suite + "/InRelease"
	c.log("fetching %s", url)
	b, err := c.get(ctx, url, deb822.MaxDocument)
	if err != nil {
		return nil, fmt.Errorf("fetch Release: %w", err)
	}
	rel, err := Verify(url, b, c.Keyring, c.Verify)
	if err != nil {
		return nil, err
	}
	if rel.Codename != suite && rel.Suite != suite {
		return nil, fmt.Errorf("%s: signed for suite %q (%s), not %s", url, rel.Suite, rel.Codename, suite)
	}
	return rel, nil
}

// IndexError is an index whose bytes are not the ones the signed Release
// lists.
type IndexError struct {
	URL        string
	Want, Got  digest.Digest
	WantSize   int64
	GotSize    int64
	TooLargeAt bool
}

func (e *IndexError) Error() string {
	if e.Want != e.Got {
		return fmt.Sprintf("%s: does not match the signed Release: SHA-256 %s, the Release lists %s", e.URL, e.Got, e.Want)
	}
	return fmt.Sprintf("%s: does not match the signed Release: %d bytes, the Release lists %d", e.URL, e.GotSize, e.WantSize)
}

// index fetches one index the Release lists (name without compression
// suffix, "main/binary-amd64/Packages"), checks it and returns its
// uncompressed bytes.
func (c *Client) index(ctx context.Context, rel *Release, suite, name string) ([]byte, string, error) {
	var f IndexFile
	var ok bool
	for _, ext := range []string{".gz", ".xz", ""} {
		if f, ok = rel.Files[name+ext]; ok {
			break
		}
	}
	if !ok {
		return nil, "", fmt.Errorf("fetch index: the Release of %s lists no %s", suite, name)
	}
	dir := c.base() + "/dists/" + suite + "/"
	url := dir + f.Path
	raw, err := c.cached(f.SHA256)
	if err != nil {
		var urls []string
		if rel.AcquireByHash {
			urls = append(urls, dir+filepathDir(f.Path)+"by-hash/SHA256/"+f.SHA256.Encoded())
		}
		urls = append(urls, url)
		for i, u := range urls {
			c.log("fetching %s", u)
			raw, err = c.get(ctx, u, deb822.MaxIndex)
			if err == nil || !NotFound(err) || i == len(urls)-1 {
				break
			}
		}
		if err != nil {
			return nil, "", fmt.Errorf("fetch index: %w", err)
		}
		if got := digest.FromBytes(raw); got != f.SHA256 || int64(len(raw)) != f.Size {
			return nil, "", &IndexError{URL: url, Want: f.SHA256, Got: got, WantSize: f.Size, GotSize: int64(len(raw))}
		}
		c.store(f.SHA256, raw)
	}
	var r io.Reader = bytes.NewReader(raw)
	switch {
	case strings.HasSuffix(f.Path, ".gz"):
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", url, err)
		}
		r = zr
	case strings.HasSuffix(f.Path, ".xz"):
		zr, err := xz.NewReader(r)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", url, err)
		}
		r = zr
	}
	out, err := readAllLimited(r, deb822.MaxIndex)
	if err != nil {
		return nil, "", fmt.Errorf("%s: decompress: %w", url, err)
	}
	return out, url, nil
}

func filepathDir(p string) string {
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[:i+1]
	}
	return ""
}

// cached returns an index kept by digest, checked again.
func (c *Client) cached(d digest.Digest) ([]byte, error) {
	if c.CacheDir == "" {
		return nil, os.ErrNotExist
	}
	b, err := os.ReadFile(filepath.Join(c.CacheDir, d.Encoded()))
	if err != nil {
		return nil, err
	}
	if digest.FromBytes(b) != d {
		return nil, errors.New("cached index changed")
	}
	return b, nil
}

func (c *Client) store(d digest.Digest, b []byte) {
	if c.CacheDir == "" {
		return
	}
	if os.MkdirAll(c.CacheDir, 0o755) == nil {
		atomicfile.Write(filepath.Join(c.CacheDir, d.Encoded()), b, 0o644)
	}
}

// Packages fetches, checks and parses component/binary-ARCH/Packages.
func (c *Client) Packages(ctx context.Context, rel *Release, suite, component, arch string) ([]*deb822.BinaryPackage, error) {
	b, url, err := c.index(ctx, rel, suite, component+"/binary-"+arch+"/Packages")
	if err != nil {
		return nil, err
	}
	return deb822.ParsePackages(url, bytes.NewReader(b))
}

// Sources fetches, checks and parses component/source/Sources.
func (c *Client) Sources(ctx context.Context, rel *Release, suite, component string) ([]*deb822.SourcePackage, error) {
	b, url, err := c.index(ctx, rel, suite, component+"/source/Sources")
	if err != nil {
		return nil, err
	}
	return deb822.ParseSources(url, bytes.NewReader(b))
}
