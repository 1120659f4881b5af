// Package treehash computes one sha256 digest over a directory tree: the
// pin reprove uses for a git checkout, since a commit id is SHA-1 and SHA-1
// alone is not accepted as a pin.
//
// The digest covers what git itself tracks: each regular file's contents
// and executable bit, each symlink's target, and every path. Directories
// are implied by the paths (git does not track empty ones), and the
// top-level .git directory is skipped.
//
// Written by hand because golang.org/x/mod/sumdb/dirhash, the closest
// library, ignores file modes and symlinks, both of which change a build.
//
// The listing hashed is one line per entry, sorted by path:
//
//	file <sha256 hex> <644|755> <path>
//	link <sha256 hex of target> <path>
package treehash

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"syscall"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/internal/ctxio"
)

// Dir returns the tree digest of the directory root.
func Dir(ctx context.Context, root string) (digest.Digest, error) {
	lines, err := listing(ctx, root)
	if err != nil {
		return "", err
	}
	return digest.FromBytes(lines), nil
}

type entry struct {
	path string
	line string
}

// listing walks root through an os.Root: symlinks are hashed as links and
// never followed, so no link in the tree (absolute, relative, a chain, one
// to ..) makes the walk read a file outside it.
func listing(ctx context.Context, root string) ([]byte, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("hash tree: %w", err)
	}
	defer r.Close()
	var entries []entry
	err = fs.WalkDir(r.FS(), ".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		if d.IsDir() {
			if rel == ".git" {
				return fs.SkipDir
			}
			return nil
		}
		if strings.ContainsAny(rel, "\n\r") {
			return fmt.Errorf("hash tree %s: path %q contains a newline", root, rel)
		}
		switch typ := d.Type(); {
		case typ.IsRegular():
			sum, exec, err := fileSum(ctx, r, rel)
			if err != nil {
				return err
			}
			mode := "644"
			if exec {
				mode = "755"
			}
			entries = append(entries, entry{rel, fmt.Sprintf("file %s %s %s\n", sum, mode, rel)})
		case typ&fs.ModeSymlink != 0:
			target, err := r.Readlink(rel)
			if err != nil {
				return err
			}
			s := sha256.Sum256([]byte(target))
			entries = append(entries, entry{rel, fmt.Sprintf("link %s %s\n", hex.EncodeToString(s[:]), rel)})
		default:
			return fmt.Errorf("hash tree %s: %s is a %s, not a file, symlink or directory", root, rel, typ)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hash tree: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].path < entries[j].path })
	var b bytes.Buffer
	for _, e := range entries {
		b.WriteString(e.line)
	}
	return b.Bytes(), nil
}

// fileSum hashes the regular file rel inside r and says whether it is
// executable, from the file it opened (not from a second look at the path).
func fileSum(ctx context.Context, r *os.Root, rel string) (string, bool, error) {
	f, err := r.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", false, err
	}
	if !info.Mode().IsRegular() {
		return "", false, fmt.Errorf("%s changed into a %s while the tree was hashed", rel, info.Mode().Type())
	}
	d, err := ctxio.HashReader(ctx, f, nil)
	if err != nil {
		return "", false, fmt.Errorf("hash %s: %w", rel, err)
	}
	return d.Encoded(), info.Mode().Perm()&0o111 != 0, nil
}
