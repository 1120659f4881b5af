package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/builder/runner"
	"github.com/reprove/reprove/internal/ctxio"
	"github.com/reprove/reprove/recipes"
)

// OutputError is a declared output the build did not leave as a regular
// file.
type OutputError struct {
	Path   string
	Reason string
}

func (e *OutputError) Error() string {
	return fmt.Sprintf("collect output %s: %s", e.Path, e.Reason)
}

// collect checks that the build left each of rels (paths relative to
// outDir, the build's /out) as a regular file reached through no symlink,
// that together they are within limit bytes, then copies each into staging
// while hashing it. outDir is the build's and untrusted: it is read
// through an os.Root, and sizes are checked before a byte is read, so a
// sparse file claiming terabytes is refused at once. ctx carries the
// build's deadline: collecting counts against the time limit.
func collect(ctx context.Context, outDir string, rels []string, staging string, limit int64, timeout string, m ctxio.Meter) ([]Output, error) {
	root, err := os.OpenRoot(outDir)
	if err != nil {
		return nil, fmt.Errorf("collect outputs: %w", err)
	}
	defer root.Close()
	sizes := make([]int64, len(rels))
	var total int64
	for i, rel := range rels {
		fi, err := checkOutput(root, rel)
		if err != nil {
			return nil, err
		}
		sizes[i] = fi.Size()
		total += fi.Size()
		if total > limit {
			detail := fmt.Sprintf("%s is %s", rel, humanBytes(fi.Size()))
			if i > 0 {
				detail += fmt.Sprintf(", %s with the outputs before it", humanBytes(total))
			}
			return nil, &runner.LimitError{Limit: runner.LimitOutputSize, Value: recipes.FormatSize(limit), Detail: detail}
		}
	}
	var outs []Output
	for i, rel := range rels {
		d, err := copyOutput(ctx, root, rel, sizes[i], filepath.Join(staging, filepath.FromSlash(rel)), m)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return nil, &runner.LimitError{Limit: runner.LimitTime, Value: timeout, Detail: "while hashing " + rel}
			}
			return nil, err
		}
		outs = append(outs, Output{Path: rel, Digest: d, Size: sizes[i]})
	}
	return outs, nil
}

// checkOutput refuses an output that is missing, not a regular file, or
// reached through a symlink (even one that stays inside /out: the recipe
// names a file, not a link).
func checkOutput(root *os.Root, rel string) (os.FileInfo, error) {
	parts := strings.Split(rel, "/")
	for i := range parts {
		cur := path.Join(parts[:i+1]...)
		fi, err := root.Lstat(cur)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, &OutputError{Path: rel, Reason: "the build did not write it"}
		case err != nil:
			return nil, &OutputError{Path: rel, Reason: err.Error()}
		case fi.Mode()&os.ModeSymlink != 0:
			if i == len(parts)-1 {
				return nil, &OutputError{Path: rel, Reason: "is a symlink, not a file"}
			}
			return nil, &OutputError{Path: rel, Reason: cur + " is a symlink, not a directory"}
		case i < len(parts)-1 && !fi.IsDir():
			return nil, &OutputError{Path: rel, Reason: cur + " is not a directory"}
		case i == len(parts)-1 && !fi.Mode().IsRegular():
			return nil, &OutputError{Path: rel, Reason: "is not a regular file"}
		case i == len(parts)-1:
			return fi, nil
		}
	}
	return nil, &OutputError{Path: rel, Reason: "empty path"}
}

// copyOutput copies the output rel (size bytes) from root to dst, hashing
// it on the way and telling m how it goes.
func copyOutput(ctx context.Context, root *os.Root, rel string, size int64, dst string, m ctxio.Meter) (digest.Digest, error) {
	in, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", &OutputError{Path: rel, Reason: err.Error()}
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() || fi.Size() != size {
		return "", &OutputError{Path: rel, Reason: "changed while it was collected"}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	// The build's mode, less setuid, setgid and sticky bits and write
	// for others.
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, fi.Mode().Perm()&0o755)
	if err != nil {
		return "", fmt.Errorf("collect output %s: %w", rel, err)
	}
	h := digest.SHA256.Hash()
	n, err := io.Copy(io.MultiWriter(out, h), m.Reader(ctx, io.LimitReader(in, size+1), "collecting "+rel, size))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("collect output %s: %w", rel, err)
	}
	if n != size {
		return "", &OutputError{Path: rel, Reason: "changed while it was collected"}
	}
	return digest.NewDigest(digest.SHA256, h), nil
}
