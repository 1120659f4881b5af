// Package fetch gets everything a build needs before the build starts,
// while there is network, and checks each input against the digest the
// recipe pins: the source (git checkout, archive, Go module, directory) and
// the shipped artifacts to compare with.
package fetch

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/builder/goproxy"
	"github.com/reprove/reprove/internal/verified"
)

// Fetcher fetches and verifies inputs.
type Fetcher struct {
	// CacheDir holds downloads (by digest) and git mirrors.
	CacheDir string
	// Proxy fetches Go modules (with its checksum database).
	Proxy *goproxy.Client
	// HTTP is the client for URL downloads (http.DefaultClient when nil).
	HTTP *http.Client
	// Log reports progress; it may be nil.
	Log func(string)
	// Prepare, if set, is applied to a freshly fetched and verified source
	// tree before Prepared hands it out (the builder gives it to the
	// build user).
	Prepare func(dir string) error
}

func (f *Fetcher) log(format string, args ...any) {
	if f.Log != nil {
		f.Log(fmt.Sprintf(format, args...))
	}
}

func (f *Fetcher) http() *http.Client {
	if f.HTTP == nil {
		return http.DefaultClient
	}
	return f.HTTP
}

// DigestError is an input whose digest is not the one the recipe pins.
type DigestError struct {
	// What names the input ("source archive https://…", "shipped artifact …").
	What string
	Want digest.Digest
	Got  digest.Digest
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("%s: digest mismatch: the recipe pins %s, the file is %s", e.What, e.Want, e.Got)
}

// newHash returns a hash for d's algorithm; only sha256 and stronger are
// accepted as pins.
func newHash(d digest.Digest) (hash.Hash, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("invalid digest %q: %w", d, err)
	}
	switch d.Algorithm() {
	case digest.SHA256:
		return sha256.New(), nil
	case digest.SHA384:
		return sha512.New384(), nil
	case digest.SHA512:
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("digest %s: algorithm %s is not accepted (sha256 or stronger)", d, d.Algorithm())
}

// FileDigest computes the digest of a file with d's algorithm.
func FileDigest(path string, alg digest.Algorithm) (digest.Digest, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	v := alg.Digester()
	if _, err := io.Copy(v.Hash(), f); err != nil {
		return "", err
	}
	return v.Digest(), nil
}

// Get returns a local file holding the bytes at location (an http(s) URL,
// or a path) after checking them against want. URL downloads are cached by
// digest; a local path is copied into the cache so that the bytes checked
// are the bytes used.
func (f *Fetcher) Get(ctx context.Context, what, location string, want digest.Digest) (string, error) {
	if _, err := newHash(want); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if u, err := url.Parse(location); err == nil && len(u.Scheme) > 1 {
		switch u.Scheme {
		case "http", "https", "file":
		default:
			return "", fmt.Errorf("%s: %s: unsupported URL scheme %q (use http, https or a local path)", what, location, u.Scheme)
		}
	}
	dest := filepath.Join(f.CacheDir, "downloads", string(want.Algorithm()), want.Encoded())
	if verified.Check(dest, want.String()) {
		return dest, nil
	}
	if got, err := FileDigest(dest, want.Algorithm()); err == nil && got == want {
		return dest, verified.Stamp(dest, want.String())
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".tmp-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	v := want.Algorithm().Digester()
	w := io.MultiWriter(tmp, v.Hash())
	if err := f.copyFrom(ctx, location, w); err != nil {
		tmp.Close()
		return "", fmt.Errorf("%s: fetch %s: %w", what, location, err)
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if got := v.Digest(); got != want {
		return "", &DigestError{What: what + " " + location, Want: want, Got: got}
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return "", err
	}
	return dest, verified.Stamp(dest, want.String())
}

func (f *Fetcher) copyFrom(ctx context.Context, location string, w io.Writer) error {
	u, err := url.Parse(location)
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		f.log("downloading %s", location)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, location, nil)
		if err != nil {
			return err
		}
		resp, err := f.http().Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET: %s", resp.Status)
		}
		_, err = io.Copy(w, &ctxReader{ctx, resp.Body})
		return err
	}
	path := strings.TrimPrefix(location, "file://")
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	_, err = io.Copy(w, &ctxReader{ctx, src})
	return err
}

// ctxReader stops a long copy when ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
