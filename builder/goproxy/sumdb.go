package goproxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb"
)

// SumGolangOrgKey is the public verifier key of the Go checksum database,
// sum.golang.org, as the go command knows it.
const SumGolangOrgKey = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"

// SumDB looks up go.sum lines in a checksum database, verifying the
// database's signed tree heads and inclusion proofs (golang.org/x/mod/sumdb
// does the verification; this type only supplies its I/O).
type SumDB struct {
	client *sumdb.Client
	ops    *sumdbOps
}

// NewSumDB returns a checksum-database client for key (SumGolangOrgKey for
// the public one), reached through the module proxy's /sumdb/ endpoint (the
// database itself need not be reachable), caching verified tiles and the
// latest tree head under cacheDir.
func NewSumDB(proxy, key, cacheDir string, hc *http.Client) *SumDB {
	if proxy == "" {
		proxy = DefaultProxy
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	name, _, _ := strings.Cut(key, "+")
	ops := &sumdbOps{
		base: strings.TrimRight(proxy, "/") + "/sumdb/" + name,
		name: name,
		key:  key,
		dir:  cacheDir,
		http: hc,
		ctx:  context.Background(),
	}
	return &SumDB{client: sumdb.NewClient(ops), ops: ops}
}

// Lookup returns the database's h1: hash for path@version (version may end
// in "/go.mod").
func (s *SumDB) Lookup(ctx context.Context, path, version string) (string, error) {
	s.ops.mu.Lock()
	s.ops.ctx = ctx
	s.ops.mu.Unlock()
	lines, err := s.client.Lookup(path, version)
	if err != nil {
		if msg := s.ops.securityError(); msg != "" {
			return "", fmt.Errorf("checksum database security error: %s", msg)
		}
		return "", err
	}
	prefix := path + " " + version + " "
	for _, l := range lines {
		if strings.HasPrefix(l, prefix+"h1:") {
			return strings.TrimPrefix(l, prefix), nil
		}
	}
	return "", fmt.Errorf("checksum database has no h1 hash for %s@%s", path, version)
}

// sumdbOps is the I/O of a sumdb.Client: HTTP through the proxy, a file
// cache, and configuration files holding the latest signed tree head.
type sumdbOps struct {
	base, name, key, dir string
	http                 *http.Client

	mu       sync.Mutex
	ctx      context.Context
	security string
}

func (o *sumdbOps) context() context.Context {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ctx
}

func (o *sumdbOps) ReadRemote(path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(o.context(), http.MethodGet, o.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := o.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", o.base+path, resp.Status)
	}
	// Tiles and lookups are small; bound them anyway.
	return io.ReadAll(io.LimitReader(resp.Body, 16<<20))
}

func (o *sumdbOps) ReadConfig(file string) ([]byte, error) {
	if file == "key" {
		return []byte(o.key), nil
	}
	b, err := os.ReadFile(filepath.Join(o.dir, "config", filepath.FromSlash(file)))
	if os.IsNotExist(err) {
		return nil, nil // start from an empty tree
	}
	return b, err
}

func (o *sumdbOps) WriteConfig(file string, old, new []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := filepath.Join(o.dir, "config", filepath.FromSlash(file))
	cur, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	if !bytes.Equal(cur, old) {
		return sumdb.ErrWriteConflict
	}
	return writeAtomic(p, bytes.NewReader(new))
}

func (o *sumdbOps) ReadCache(file string) ([]byte, error) {
	return os.ReadFile(filepath.Join(o.dir, "cache", filepath.FromSlash(file)))
}

func (o *sumdbOps) WriteCache(file string, data []byte) {
	writeAtomic(filepath.Join(o.dir, "cache", filepath.FromSlash(file)), bytes.NewReader(data))
}

func (o *sumdbOps) Log(string) {}

func (o *sumdbOps) SecurityError(msg string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.security = msg
}

func (o *sumdbOps) securityError() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.security
}
