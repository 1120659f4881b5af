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
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Dir returns the tree digest of the directory root.
func Dir(ctx context.Context, root string) (digest.Digest, error) {
	lines, err := listing(ctx, root)
	if err != nil {
		return "", err
	}
	return digest.FromBytes(lines), nil
}

// Listing returns the text that Dir hashes, for explaining a mismatch.
func Listing(ctx context.Context, root string) ([]byte, error) {
	return listing(ctx, root)
}

type entry struct {
	path string
	line string
}

func listing(ctx context.Context, root string) ([]byte, error) {
	var entries []entry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if d.IsDir() {
			if rel == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.ContainsAny(rel, "\n\r") {
			return fmt.Errorf("hash tree %s: path %q contains a newline", root, rel)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case info.Mode().IsRegular():
			sum, err := fileSum(p)
			if err != nil {
				return err
			}
			mode := "644"
			if info.Mode().Perm()&0o111 != 0 {
				mode = "755"
			}
			entries = append(entries, entry{rel, fmt.Sprintf("file %s %s %s\n", sum, mode, rel)})
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			s := sha256.Sum256([]byte(target))
			entries = append(entries, entry{rel, fmt.Sprintf("link %s %s\n", hex.EncodeToString(s[:]), rel)})
		default:
			return fmt.Errorf("hash tree %s: %s is a %s, not a file, symlink or directory", root, rel, info.Mode().Type())
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

func fileSum(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
