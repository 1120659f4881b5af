package goproxy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
)

// viewFormat changes when the layout of a view changes.
const viewFormat = 1

// View returns a module cache directory holding only mods, made once under
// viewsDir and reused by every build whose go.sum pins the same modules.
// A build mounts it (read-only) as GOMODCACHE, so it sees the modules its
// own go.sum pins and nothing else the shared cache holds for other
// recipes.
//
// A view holds, for each module, its go.mod file and, for modules with a
// zip hash, the .info, .zip and .ziphash files and the extracted tree, all
// hard-linked from c.ModCache (copied where a link is impossible). The
// modules must have been fetched and verified first (FetchAll). It returns
// "" for no modules.
func (c *Client) View(ctx context.Context, mods []Module, viewsDir string) (string, error) {
	if len(mods) == 0 {
		return "", nil
	}
	mods = uniqueModules(mods)
	key, err := viewKey(mods)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(viewsDir, key)
	if _, err := os.Stat(filepath.Join(dir, "cache")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(viewsDir, 0o755); err != nil {
		return "", fmt.Errorf("make module cache view: %w", err)
	}
	tmp, err := os.MkdirTemp(viewsDir, ".tmp-")
	if err != nil {
		return "", fmt.Errorf("make module cache view: %w", err)
	}
	defer removeAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	for _, m := range mods {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		if err := c.linkModule(ctx, m, tmp); err != nil {
			return "", fmt.Errorf("make module cache view: %s@%s: %w", m.Path, m.Version, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, "cache")); serr == nil {
			return dir, nil // another process made it meanwhile
		}
		return "", fmt.Errorf("make module cache view: %w", err)
	}
	return dir, nil
}

// uniqueModules sorts mods and drops repeats (two go.sum files may list
// the same module).
func uniqueModules(mods []Module) []Module {
	out := append([]Module(nil), mods...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Version < out[j].Version
	})
	var uniq []Module
	for i, m := range out {
		if i > 0 && m == out[i-1] {
			continue
		}
		uniq = append(uniq, m)
	}
	return uniq
}

func viewKey(mods []Module) (string, error) {
	b, err := json.Marshal(struct {
		Format  int
		Modules []Module
	}{viewFormat, mods})
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}

// linkModule links one module's files from the cache into the view.
func (c *Client) linkModule(ctx context.Context, m Module, view string) error {
	exts := []string{".mod"}
	if m.Sum != "" {
		exts = append(exts, ".info", ".zip", ".ziphash")
	}
	for _, ext := range exts {
		src, err := c.file(m.Path, m.Version, ext)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(c.ModCache, src)
		if err != nil {
			return err
		}
		if err := linkFile(src, filepath.Join(view, rel)); err != nil {
			return err
		}
	}
	if m.Sum == "" {
		return nil
	}
	src, err := c.ExtractedDir(m.Path, m.Version)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(c.ModCache, src)
	if err != nil {
		return err
	}
	return linkTree(ctx, src, filepath.Join(view, rel))
}

// linkTree links every regular file of the extracted module tree src into
// dst. The tree is the cache's own (extracted from a verified zip, which
// holds regular files only); it is read through an os.Root all the same.
func linkTree(ctx context.Context, src, dst string) error {
	root, err := os.OpenRoot(src)
	if err != nil {
		return err
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		target := filepath.Join(dst, filepath.FromSlash(rel))
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			return linkFile(filepath.Join(src, filepath.FromSlash(rel)), target)
		}
		return fmt.Errorf("%s in the extracted module is a %s, not a file", rel, d.Type())
	})
}

// linkFile hard-links src to dst, or copies it when the two are on
// different file systems.
func linkFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	err := os.Link(src, dst)
	if err == nil || !errors.Is(err, syscall.EXDEV) {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
