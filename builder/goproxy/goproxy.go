// Package goproxy fetches Go modules (including golang.org/toolchain
// distributions) from a Go module proxy into a module cache laid out as the
// go command's GOMODCACHE, verifying every file against an expected go.sum
// hash and, where asked, against the Go checksum database.
//
// The cache it fills can be mounted read-only into a build as GOMODCACHE
// with GOPROXY=off: the go command then finds every module it needs without
// network.
package goproxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"

	"github.com/reprove/reprove/internal/atomicfile"
	"github.com/reprove/reprove/internal/ctxio"
	"github.com/reprove/reprove/internal/verified"
)

// DefaultProxy is the public Go module proxy.
const DefaultProxy = "https://proxy.golang.org"

// Client downloads modules into a module cache.
type Client struct {
	// Proxy is the module proxy's base URL (DefaultProxy when empty).
	Proxy string
	// ModCache is the module cache directory (GOMODCACHE layout).
	ModCache string
	// HTTP is the HTTP client (http.DefaultClient when nil).
	HTTP *http.Client
	// SumDB checks hashes against the checksum database; nil disables
	// those checks (the expected hash given by the caller still applies).
	SumDB *SumDB
	// Progress, when set, is told about downloads.
	Progress func(msg string)
	// Bytes, when set, hears how each download goes (a toolchain zip is
	// tens of MiB), for byte progress on a terminal.
	Bytes ctxio.Meter
	// Shared are other module caches (GOMODCACHE layout), read-only: a
	// module zip missing here is copied from one of them before the proxy
	// is asked, and then checked as a download is (its go.sum hash, and
	// the checksum database), so a shared cache can save a fetch but never
	// change a module.
	Shared []string
}

// Module is a module version with its go.sum hashes.
type Module struct {
	Path    string
	Version string
	// Sum is the h1: hash of the module zip ("" if only go.mod is known).
	Sum string
	// ModSum is the h1: hash of the module's go.mod file.
	ModSum string
}

// Info is the proxy's .info answer.
type Info struct {
	Version string
	Time    time.Time
}

func (c *Client) proxy() string {
	if c.Proxy == "" {
		return DefaultProxy
	}
	return strings.TrimRight(c.Proxy, "/")
}

func (c *Client) http() *http.Client {
	if c.HTTP == nil {
		return http.DefaultClient
	}
	return c.HTTP
}

func (c *Client) progress(format string, args ...any) {
	if c.Progress != nil {
		c.Progress(fmt.Sprintf(format, args...))
	}
}

// downloadDir is the directory of path's cached files (.info, .mod, .zip).
func (c *Client) downloadDir(path string) (string, error) {
	esc, err := module.EscapePath(path)
	if err != nil {
		return "", err
	}
	return filepath.Join(c.ModCache, "cache", "download", esc, "@v"), nil
}

func (c *Client) file(path, version, ext string) (string, error) {
	dir, err := c.downloadDir(path)
	if err != nil {
		return "", err
	}
	ev, err := module.EscapeVersion(version)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, ev+ext), nil
}

// ExtractedDir is where the module's files are unpacked in the cache.
func (c *Client) ExtractedDir(path, version string) (string, error) {
	esc, err := module.EscapePath(path)
	if err != nil {
		return "", err
	}
	ev, err := module.EscapeVersion(version)
	if err != nil {
		return "", err
	}
	return filepath.Join(c.ModCache, esc+"@"+ev), nil
}

func (c *Client) url(path, version, ext string) (string, error) {
	esc, err := module.EscapePath(path)
	if err != nil {
		return "", err
	}
	ev, err := module.EscapeVersion(version)
	if err != nil {
		return "", err
	}
	return c.proxy() + "/" + esc + "/@v/" + ev + ext, nil
}

// get fetches url into dest atomically.
func (c *Client) get(ctx context.Context, url, dest string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(msg)))
	}
	return writeAtomic(dest, c.Bytes.Reader(ctx, resp.Body, "downloading "+url, max(resp.ContentLength, 0)))
}

func writeAtomic(dest string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFrom(dest, r, 0o644)
}

// Info fetches (or reads from the cache) the module version's .info.
func (c *Client) Info(ctx context.Context, path, version string) (*Info, error) {
	dest, err := c.file(path, version, ".info")
	if err != nil {
		return nil, fmt.Errorf("module %s@%s: %w", path, version, err)
	}
	if _, err := os.Stat(dest); err != nil {
		u, err := c.url(path, version, ".info")
		if err != nil {
			return nil, err
		}
		if err := c.get(ctx, u, dest); err != nil {
			return nil, fmt.Errorf("fetch info of %s@%s: %w", path, version, err)
		}
	}
	b, err := os.ReadFile(dest)
	if err != nil {
		return nil, err
	}
	var info Info
	if err := json.Unmarshal(b, &info); err != nil {
		os.Remove(dest)
		return nil, fmt.Errorf("fetch info of %s@%s: %w", path, version, err)
	}
	if info.Version != version {
		os.Remove(dest)
		return nil, fmt.Errorf("fetch info of %s@%s: proxy answered for version %q", path, version, info.Version)
	}
	return &info, nil
}

// GoMod fetches the module's go.mod and checks it against wantSum (an h1:
// hash; "" means: take the checksum database's word, which then must be
// available). It returns the hash.
func (c *Client) GoMod(ctx context.Context, path, version, wantSum string) (string, error) {
	dest, err := c.file(path, version, ".mod")
	if err != nil {
		return "", fmt.Errorf("module %s@%s: %w", path, version, err)
	}
	if _, err := os.Stat(dest); err != nil {
		u, err := c.url(path, version, ".mod")
		if err != nil {
			return "", err
		}
		if err := c.get(ctx, u, dest); err != nil {
			return "", fmt.Errorf("fetch go.mod of %s@%s: %w", path, version, err)
		}
	}
	got, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) { return os.Open(dest) })
	if err != nil {
		return "", err
	}
	if err := c.check(ctx, path, version+"/go.mod", wantSum, got); err != nil {
		os.Remove(dest)
		return "", err
	}
	return got, nil
}

// Zip fetches the module zip and checks it against wantSum (an h1: hash;
// "" means: take the checksum database's word). It returns the zip's path
// in the cache and its hash.
func (c *Client) Zip(ctx context.Context, path, version, wantSum string) (string, string, error) {
	dest, err := c.file(path, version, ".zip")
	if err != nil {
		return "", "", fmt.Errorf("module %s@%s: %w", path, version, err)
	}
	if _, err := os.Stat(dest); err != nil && c.fromShared(ctx, path, version, wantSum, dest) {
		c.progress("%s@%s from a shared module cache", path, version)
	}
	if _, err := os.Stat(dest); err != nil {
		u, err := c.url(path, version, ".zip")
		if err != nil {
			return "", "", err
		}
		c.progress("downloading %s@%s", path, version)
		if err := c.get(ctx, u, dest); err != nil {
			return "", "", fmt.Errorf("fetch %s@%s: %w", path, version, err)
		}
	}
	hashFile, _ := c.file(path, version, ".ziphash")
	if prev, err := os.ReadFile(hashFile); err == nil && verified.Check(dest, string(prev)) {
		// Verified before and unchanged since: only the expectations
		// are checked again (the checksum database answer is cached).
		if err := c.check(ctx, path, version, wantSum, string(prev)); err != nil {
			return "", "", err
		}
		return dest, string(prev), nil
	}
	verified.Clear(dest)
	got, err := dirhash.HashZip(dest, dirhash.Hash1)
	if err != nil {
		os.Remove(dest)
		return "", "", fmt.Errorf("hash %s@%s: %w", path, version, err)
	}
	if err := c.check(ctx, path, version, wantSum, got); err != nil {
		os.Remove(dest)
		return "", "", err
	}
	// The go command reads .ziphash to trust the extracted directory.
	if err := writeAtomic(hashFile, strings.NewReader(got)); err != nil {
		return "", "", err
	}
	if err := verified.Stamp(dest, got); err != nil {
		return "", "", err
	}
	return dest, got, nil
}

// fromShared copies a module zip from a shared cache to dest when one
// holds a copy whose hash is the expected one (or the checksum
// database's); a copy that is not is left where it is.
func (c *Client) fromShared(ctx context.Context, path, version, wantSum, dest string) bool {
	rel, err := filepath.Rel(c.ModCache, dest)
	if err != nil {
		return false
	}
	for _, dir := range c.Shared {
		f, err := os.Open(filepath.Join(dir, rel))
		if err != nil {
			continue
		}
		err = writeAtomic(dest, ctxio.NewReader(ctx, f))
		f.Close()
		if err != nil {
			continue
		}
		got, err := dirhash.HashZip(dest, dirhash.Hash1)
		if err == nil {
			err = c.check(ctx, path, version, wantSum, got)
		}
		if err != nil {
			os.Remove(dest)
			c.progress("%s@%s in the shared cache %s: %v (ignored)", path, version, dir, err)
			continue
		}
		return true
	}
	return false
}

// check compares a computed hash with what the caller expects and what the
// checksum database says.
func (c *Client) check(ctx context.Context, path, version, want, got string) error {
	if want != "" && want != got {
		return &MismatchError{Module: path + "@" + version, Want: want, Got: got, Source: "expected"}
	}
	if c.SumDB == nil {
		if want == "" {
			return fmt.Errorf("verify %s@%s: no expected hash and no checksum database", path, version)
		}
		return nil
	}
	db, err := c.SumDB.Lookup(ctx, path, version)
	if err != nil {
		return fmt.Errorf("verify %s@%s against the checksum database: %w", path, version, err)
	}
	if db != got {
		return &MismatchError{Module: path + "@" + version, Want: db, Got: got, Source: "checksum database"}
	}
	return nil
}

// MismatchError reports a downloaded file whose hash is not the one
// expected.
type MismatchError struct {
	Module string
	Want   string
	Got    string
	// Source says where Want came from ("go.sum", "recipe", "checksum
	// database", ...).
	Source string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("verify %s: hash mismatch: downloaded %s, %s has %s", e.Module, e.Got, e.Source, e.Want)
}

// Extract unpacks a verified module zip into the cache's extracted
// directory (read-only files, as the go command leaves them) and returns it.
// An existing directory is checked against sum instead.
func (c *Client) Extract(ctx context.Context, path, version, zipFile, sum string) (string, error) {
	dir, err := c.ExtractedDir(path, version)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(dir); err == nil {
		got, err := dirhash.HashDir(dir, path+"@"+version, dirhash.Hash1)
		if err == nil && got == sum {
			return dir, nil
		}
		// A damaged or foreign directory: replace it.
		if err := removeAll(dir); err != nil {
			return "", fmt.Errorf("replace damaged %s: %w", dir, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".tmp-extract-*")
	if err != nil {
		return "", err
	}
	defer removeAll(tmp)
	target := filepath.Join(tmp, "m")
	if err := modzip.Unzip(target, module.Version{Path: path, Version: version}, zipFile); err != nil {
		return "", fmt.Errorf("extract %s@%s: %w", path, version, err)
	}
	got, err := dirhash.HashDir(target, path+"@"+version, dirhash.Hash1)
	if err != nil {
		return "", err
	}
	if got != sum {
		return "", &MismatchError{Module: path + "@" + version, Want: sum, Got: got, Source: "extracted files vs zip"}
	}
	if err := readOnly(target); err != nil {
		return "", err
	}
	if err := os.Rename(target, dir); err != nil {
		if _, serr := os.Stat(dir); serr == nil {
			return dir, nil // another process extracted it meanwhile
		}
		return "", err
	}
	return dir, nil
}

// readOnly makes a tree read-only the way the go command leaves extracted
// modules.
func readOnly(root string) error {
	return filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			return os.Chmod(p, info.Mode().Perm()&^0o222)
		}
		return nil
	})
}

// removeAll removes a tree that readOnly made read-only.
func removeAll(root string) error {
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(root)
}
