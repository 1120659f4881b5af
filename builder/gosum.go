package builder

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"syscall"

	"github.com/reprove/reprove/recipes"
)

// goSum is the go.sum of a module a step builds in.
type goSum struct {
	// Rel is its path in the source tree.
	Rel  string
	Data []byte
}

// maxGoSum bounds a go.sum read on the host (real ones are well under a
// MiB).
const maxGoSum = 16 << 20

// goSumFiles finds the go.sum of the module each step builds in (the
// nearest go.mod at or above the step's directory, within the source), and
// whether the first step's module is vendored (then its go.sum is not
// needed: vendor/ holds the code).
//
// The source tree is untrusted: it is read through an os.Root, so a step
// directory, go.mod or go.sum that is a symlink out of the tree (absolute,
// to .., a chain) is an error, never a read of a host file.
func goSumFiles(srcDir string, r *recipes.Recipe) ([]goSum, bool, error) {
	root, err := os.OpenRoot(srcDir)
	if err != nil {
		return nil, false, fmt.Errorf("read the source's go.sum files: %w", err)
	}
	defer root.Close()
	exists := func(name string) (bool, error) {
		_, err := root.Stat(name)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, fs.ErrNotExist):
			return false, nil
		}
		return false, fmt.Errorf("source %s: %w (reprove reads only inside the source tree)", name, unwrapPath(err))
	}
	seen := map[string]bool{}
	var sums []goSum
	vendored := false
	for i, s := range r.Steps {
		dir := path.Clean(s.Dir)
		if dir == "" {
			dir = "."
		}
		for {
			mod, err := exists(path.Join(dir, "go.mod"))
			if err != nil {
				return nil, false, fmt.Errorf("steps[%d].dir %q: %w", i, s.Dir, err)
			}
			if mod {
				if seen[dir] {
					break
				}
				seen[dir] = true
				v, err := exists(path.Join(dir, "vendor", "modules.txt"))
				if err != nil {
					return nil, false, fmt.Errorf("steps[%d].dir %q: %w", i, s.Dir, err)
				}
				if v {
					if i == 0 {
						vendored = true
					}
					break
				}
				name := path.Join(dir, "go.sum")
				data, err := readBounded(root, name, maxGoSum)
				switch {
				case errors.Is(err, fs.ErrNotExist):
				case err != nil:
					return nil, false, fmt.Errorf("steps[%d].dir %q: source %s: %w (reprove reads only inside the source tree)", i, s.Dir, name, unwrapPath(err))
				default:
					sums = append(sums, goSum{Rel: name, Data: data})
				}
				break
			}
			if dir == "." {
				break
			}
			dir = path.Dir(dir)
		}
	}
	return sums, vendored, nil
}

// readBounded reads a regular file inside root, refusing one over max
// bytes.
func readBounded(root *os.Root, name string, max int64) ([]byte, error) {
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("is a %s, not a file", fi.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("is over %d bytes", max)
	}
	return data, nil
}

// unwrapPath drops the *PathError's operation and name (which would be
// "openat go.mod"): the caller names the file.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
