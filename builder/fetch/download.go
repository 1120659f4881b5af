// Package fetch gets everything a build needs before the build starts,
// while there is network, and checks each input against the digest the
// recipe pins: the source (git checkout, archive, Go module, directory) and
// the shipped artifacts to compare with.
//
// Every input it hands out comes with a Fetched record saying whether this
// run read it from where the recipe says, or served it from reprove's cache
// (and then from which location and when it was fetched and checked), so
// that a result never names a URL this run did not contact as the place its
// bytes came from.
package fetch

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/builder/goproxy"
	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/internal/atomicfile"
	"github.com/reprove/reprove/internal/ctxio"
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
	// Bytes, if set, hears how downloads and the hashing of cached files
	// go, for byte progress on a terminal.
	Bytes ctxio.Meter
	// Prepare, if set, is applied to a freshly fetched and verified source
	// tree before Prepared hands it out (the builder gives it to the
	// build user).
	Prepare func(dir string) error
	// Refetch makes every URL (and git repository) be contacted again and
	// its bytes checked, even when the cache holds the pinned bytes
	// already: the Fetched records then all say Cached false.
	Refetch bool
	// Now is the clock for Fetched records (time.Now when nil).
	Now func() time.Time
	// Shared are other reprove caches, read-only (a fleet's shared cache):
	// a download missing here is taken from one of them, by digest, when
	// it holds it. Its bytes are copied into this cache and checked
	// against the pin on the way, so a shared cache can save a fetch but
	// never change an input; a copy that does not match is ignored.
	Shared []string
	// Snapshot is the snapshot archive the files of a Debian source
	// package are fetched from once the mirror has moved on
	// (archive.DefaultSnapshot when empty, none when "off").
	Snapshot string
}

// Fetched says where the bytes of one input came from in this run.
type Fetched struct {
	// Location is where the recipe says the input is: a URL, a local path
	// or a git repository URL.
	Location string `json:"location"`
	// Cached is true when this run did not read Location: the bytes came
	// from reprove's cache, checked against the same pin when they were
	// fetched from FetchedFrom at FetchedAt (and again now where a
	// checksum is cheap: the cache's verification stamp, a checkout's
	// tree digest).
	Cached bool `json:"cached"`
	// FetchedFrom is where the bytes were read from: Location itself when
	// Cached is false; for cached bytes, the location they were first
	// fetched from, which differs from Location when another recipe named
	// the same bytes elsewhere ("" when an older reprove cached them
	// without saying).
	FetchedFrom string `json:"fetchedFrom,omitempty"`
	// FetchedAt is when the bytes were read from FetchedFrom and checked:
	// this run's time when Cached is false (zero when unknown).
	FetchedAt time.Time `json:"fetchedAt,omitzero"`
}

// Describe says in words where the bytes came from, for logs.
func (f *Fetched) Describe() string {
	if f == nil {
		return ""
	}
	if !f.Cached {
		return "fetched " + f.Location
	}
	from := f.FetchedFrom
	if from == "" {
		from = "an unrecorded location"
	}
	when := "at an unrecorded time"
	if !f.FetchedAt.IsZero() {
		when = f.FetchedAt.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("from the cache (%s was not contacted; the bytes were fetched from %s %s)", f.Location, from, when)
}

func (f *Fetcher) log(format string, args ...any) {
	if f.Log != nil {
		f.Log(fmt.Sprintf(format, args...))
	}
}

func (f *Fetcher) now() time.Time {
	if f.Now == nil {
		return time.Now().UTC()
	}
	return f.Now().UTC()
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

// fileDigest computes the digest of a file with alg, honouring ctx and
// telling m (when set) how it goes.
func fileDigest(ctx context.Context, path string, alg digest.Algorithm, m ctxio.Meter, label string) (digest.Digest, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	h := alg.Hash()
	if _, err := ctxio.HashReaderAll(ctx, m.Reader(ctx, f, label, size), nil, h); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return digest.NewDigest(alg, h), nil
}

// origin is what the download cache remembers of where its bytes came from.
type origin struct {
	Location  string    `json:"location"`
	FetchedAt time.Time `json:"fetchedAt"`
}

func originPath(cached string) string { return cached + ".origin.json" }

func readOrigin(cached string) origin {
	var o origin
	if b, err := os.ReadFile(originPath(cached)); err == nil {
		json.Unmarshal(b, &o)
	}
	return o
}

// isURL reports whether location is fetched over the network.
func isURL(location string) bool {
	u, err := url.Parse(location)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https")
}

// Get returns a local file holding the bytes at location (an http(s) URL,
// or a path) after checking them against want, and says where they came
// from. URL downloads are cached by digest and, unless Refetch is set, a
// cached download is used without contacting the URL (the record then says
// so). A local path is read and checked on every call, since the file may
// have changed; it is copied into the cache so that the bytes checked are
// the bytes used.
func (f *Fetcher) Get(ctx context.Context, what, location string, want digest.Digest) (string, *Fetched, error) {
	if _, err := newHash(want); err != nil {
		return "", nil, fmt.Errorf("%s: %w", what, err)
	}
	if u, err := url.Parse(location); err == nil && len(u.Scheme) > 1 {
		switch u.Scheme {
		case "http", "https", "file":
		default:
			return "", nil, fmt.Errorf("%s: %s: unsupported URL scheme %q (use http, https or a local path)", what, location, u.Scheme)
		}
	}
	dest := filepath.Join(f.CacheDir, "downloads", string(want.Algorithm()), want.Encoded())
	if isURL(location) && !f.Refetch {
		cached := verified.Check(dest, want.String())
		if !cached {
			if got, err := fileDigest(ctx, dest, want.Algorithm(), f.Bytes, "checking the cached copy of "+location); err == nil && got == want {
				if err := verified.Stamp(dest, want.String()); err != nil {
					return "", nil, err
				}
				cached = true
			}
		}
		if cached {
			o := readOrigin(dest)
			rec := &Fetched{Location: location, Cached: true, FetchedFrom: o.Location, FetchedAt: o.FetchedAt}
			f.log("%s: %s", what, rec.Describe())
			return dest, rec, nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return "", nil, err
	}
	if isURL(location) && !f.Refetch {
		if rec, ok := f.fromShared(ctx, what, location, want, dest); ok {
			return dest, rec, nil
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".tmp-*")
	if err != nil {
		return "", nil, err
	}
	defer os.Remove(tmp.Name())
	h := want.Algorithm().Hash()
	w := io.MultiWriter(tmp, h)
	fetchedAt := f.now()
	if err := f.copyFrom(ctx, location, w); err != nil {
		tmp.Close()
		return "", nil, fmt.Errorf("%s: fetch %s: %w", what, location, err)
	}
	if err := tmp.Close(); err != nil {
		return "", nil, err
	}
	if got := digest.NewDigest(want.Algorithm(), h); got != want {
		return "", nil, &DigestError{What: what + " " + location, Want: want, Got: got}
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return "", nil, err
	}
	if err := verified.Stamp(dest, want.String()); err != nil {
		return "", nil, err
	}
	raw, err := json.Marshal(origin{Location: location, FetchedAt: fetchedAt})
	if err != nil {
		return "", nil, err
	}
	if err := atomicfile.Write(originPath(dest), raw, 0o644); err != nil {
		return "", nil, err
	}
	return dest, &Fetched{Location: location, FetchedFrom: location, FetchedAt: fetchedAt}, nil
}

// fromShared copies a download from a shared cache into dest, checking it
// against want on the way; it reports whether one held the right bytes.
func (f *Fetcher) fromShared(ctx context.Context, what, location string, want digest.Digest, dest string) (*Fetched, bool) {
	for _, dir := range f.Shared {
		src := filepath.Join(dir, "downloads", string(want.Algorithm()), want.Encoded())
		tmp, err := os.CreateTemp(filepath.Dir(dest), ".tmp-*")
		if err != nil {
			return nil, false
		}
		h := want.Algorithm().Hash()
		err = f.copyFrom(ctx, src, io.MultiWriter(tmp, h))
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil && digest.NewDigest(want.Algorithm(), h) == want {
			err = os.Rename(tmp.Name(), dest)
			if err == nil {
				err = verified.Stamp(dest, want.String())
			}
		} else if err == nil {
			err = fmt.Errorf("its digest is not %s", want)
		}
		os.Remove(tmp.Name())
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				f.log("%s: the shared cache %s: %v (ignored)", what, dir, err)
			}
			continue
		}
		// The shared cache's record of where the bytes came from is
		// kept as information; the pin is what vouches for them.
		o := readOrigin(src)
		from := "the shared cache " + dir
		if o.Location != "" {
			from += " (fetched there from " + o.Location + ")"
		}
		now := f.now()
		if raw, err := json.Marshal(origin{Location: from, FetchedAt: now}); err == nil {
			atomicfile.Write(originPath(dest), raw, 0o644)
		}
		rec := &Fetched{Location: location, Cached: true, FetchedFrom: from, FetchedAt: now}
		f.log("%s: %s", what, rec.Describe())
		return rec, true
	}
	return nil, false
}

func (f *Fetcher) copyFrom(ctx context.Context, location string, w io.Writer) error {
	if isURL(location) {
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
			return &archive.StatusError{URL: location, Status: resp.Status, Code: resp.StatusCode}
		}
		total := max(resp.ContentLength, 0)
		_, err = io.Copy(w, f.Bytes.Reader(ctx, resp.Body, "downloading "+location, total))
		return err
	}
	path := strings.TrimPrefix(location, "file://")
	// Non-blocking, so that a FIFO named as an input cannot hang the
	// open; it is refused below.
	src, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
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
	_, err = io.Copy(w, f.Bytes.Reader(ctx, src, "reading "+path, fi.Size()))
	return err
}
