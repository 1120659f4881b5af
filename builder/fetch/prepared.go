package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/reprove/reprove/recipes"
)

// preparedFormat changes when the way prepared trees are made changes.
// (Format 1 trees are the same; their source.json only lacks the Fetched
// record, which is then left out.)
const preparedFormat = 1

// Prepared returns r's source as a verified tree that the caller must not
// modify (mount it read-only, or as the lower layer of an overlay).
//
// Sources pinned by content (a git commit and tree digest, an archive
// digest, a module sum) are fetched and verified once, prepared by
// f.Prepare (for example, given to the build user), and kept under the
// cache's sources/ directory, which only its owner can enter; later builds
// reuse them. A local directory can change at any time, so it is copied
// into scratch and verified on every call; shared is then false and the
// tree is the caller's to use as it likes.
func (f *Fetcher) Prepared(ctx context.Context, r *recipes.Recipe, scratch string) (src *Source, shared bool, err error) {
	if r.Source.Dir != nil {
		src, err := f.Source(ctx, r, filepath.Join(scratch, "src"))
		if err != nil {
			return nil, false, err
		}
		if f.Prepare != nil {
			if err := f.Prepare(src.Dir); err != nil {
				return nil, false, err
			}
		}
		return src, false, nil
	}
	key, err := sourceKey(r)
	if err != nil {
		return nil, false, err
	}
	base := filepath.Join(f.CacheDir, "sources")
	if err := os.MkdirAll(base, 0o700); err != nil {
		return nil, false, err
	}
	if err := os.Chmod(base, 0o700); err != nil {
		return nil, false, err
	}
	dir := filepath.Join(base, key)
	if src, err := readPrepared(dir); err == nil {
		if f.Refetch {
			// The tree is as it was verified; what is checked again is
			// that its location still serves the pinned bytes.
			rec, err := f.recontact(ctx, r)
			if err != nil {
				return nil, false, err
			}
			src.Resolved.Fetched = rec
		}
		f.log("source: using the verified copy in the cache")
		return src, true, nil
	}
	tmp, err := os.MkdirTemp(base, ".tmp-")
	if err != nil {
		return nil, false, err
	}
	defer os.RemoveAll(tmp)
	src, err = f.Source(ctx, r, filepath.Join(tmp, "tree"))
	if err != nil {
		return nil, false, err
	}
	if f.Prepare != nil {
		if err := f.Prepare(src.Dir); err != nil {
			return nil, false, err
		}
	}
	meta, err := json.Marshal(preparedMeta{Format: preparedFormat, Epoch: src.Epoch, Resolved: src.Resolved})
	if err != nil {
		return nil, false, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "source.json"), meta, 0o600); err != nil {
		return nil, false, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another process prepared it meanwhile.
		if src, rerr := readPrepared(dir); rerr == nil {
			return src, true, nil
		}
		return nil, false, err
	}
	src, err = readPrepared(dir)
	return src, err == nil, err
}

type preparedMeta struct {
	Format   int      `json:"format"`
	Epoch    int64    `json:"epoch"`
	Resolved Resolved `json:"resolved"`
}

func readPrepared(dir string) (*Source, error) {
	b, err := os.ReadFile(filepath.Join(dir, "source.json"))
	if err != nil {
		return nil, err
	}
	var m preparedMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m.Format != preparedFormat {
		return nil, fmt.Errorf("prepared source %s: format %d", dir, m.Format)
	}
	res := m.Resolved
	if res.Fetched != nil {
		// The tree was fetched by an earlier run: this one did not
		// contact its location.
		rec := *res.Fetched
		rec.Cached = true
		res.Fetched = &rec
	}
	return &Source{Dir: filepath.Join(dir, "tree"), Epoch: m.Epoch, Resolved: res}, nil
}

// recontact fetches a content-pinned source's bytes from its location
// again and checks them against the pin, without preparing a tree: for
// Refetch, when a verified tree of those bytes is cached. A Go module has
// no location of its own (any proxy serves the bytes its sum pins) and
// gets no record.
func (f *Fetcher) recontact(ctx context.Context, r *recipes.Recipe) (*Fetched, error) {
	s := r.Source
	switch {
	case s.DSC != nil:
		_, rec, err := f.getPool(ctx, r, "source package", s.DSC.URL, s.DSC.Digest)
		return rec, err
	case s.Archive != nil:
		loc := s.Archive.URL
		if loc == "" {
			loc = r.ResolvePath(s.Archive.Path)
		}
		_, rec, err := f.Get(ctx, "source archive", loc, s.Archive.Digest)
		return rec, err
	case s.Git != nil:
		tmp, err := os.MkdirTemp(f.CacheDir, ".recontact-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		src, err := f.git(ctx, s.Git, filepath.Join(tmp, "checkout"))
		if err != nil {
			return nil, err
		}
		return src.Resolved.Fetched, nil
	}
	return nil, nil
}

// sourceKey names a content-pinned source: its pins and where it comes
// from (which provenance records).
func sourceKey(r *recipes.Recipe) (string, error) {
	s := r.Source
	k := struct {
		Format  int
		Git     *recipes.GitSource      `json:",omitempty"`
		Archive *recipes.ArchiveSource  `json:",omitempty"`
		Module  *recipes.GoModuleSource `json:",omitempty"`
		DSC     *recipes.DSCSource      `json:",omitempty"`
	}{Format: preparedFormat, Git: s.Git, Module: s.GoModule, DSC: s.DSC}
	if s.Archive != nil {
		a := *s.Archive
		if a.URL == "" {
			a.Path = r.ResolvePath(a.Path)
		}
		k.Archive = &a
	}
	if k.Git == nil && k.Archive == nil && k.Module == nil && k.DSC == nil {
		return "", fmt.Errorf("fetch source: the recipe names no source")
	}
	b, err := json.Marshal(k)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}
