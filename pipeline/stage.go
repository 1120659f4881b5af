package pipeline

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// stage is an output directory being written: everything goes into a
// sibling staging directory that is renamed into place only when the work
// is complete, so the output appears whole or not at all. A stage that is
// aborted removes the staging directory and the parent directories it had
// to create, so a failed run leaves nothing behind (not even an empty
// reprove-out/).
type stage struct {
	final   string // absolute
	dir     string // staging
	created []string
}

// ExistsError reports an output directory that is there already.
type ExistsError struct{ Dir string }

func (e *ExistsError) Error() string {
	return fmt.Sprintf("%s already exists", e.Dir)
}

func newStage(out string, replace bool) (*stage, error) {
	abs, err := filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(abs); err == nil && !replace {
		return nil, &ExistsError{Dir: out}
	}
	s := &stage{final: abs}
	for p := filepath.Dir(abs); ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil || p == filepath.Dir(p) {
			break
		}
		s.created = append(s.created, p)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, err
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	s.dir = abs + ".partial-" + hex.EncodeToString(rnd[:])
	if err := os.Mkdir(s.dir, 0o755); err != nil {
		s.abort()
		return nil, err
	}
	return s, nil
}

// path is a file inside the staging directory, by slash-separated name.
func (s *stage) path(name string) string { return filepath.Join(s.dir, filepath.FromSlash(name)) }

// finalPath is where that file will be once committed.
func (s *stage) finalPath(name string) string {
	return filepath.Join(s.final, filepath.FromSlash(name))
}

// commit moves the staging directory into place, replacing what was there
// when replace is set.
func (s *stage) commit(replace bool) error {
	if replace {
		if err := os.RemoveAll(s.final); err != nil {
			return err
		}
	}
	if err := os.Rename(s.dir, s.final); err != nil {
		return fmt.Errorf("move results into %s: %w", s.final, err)
	}
	s.dir = ""
	return nil
}

// abort removes whatever the stage made. It is a no-op after commit.
func (s *stage) abort() {
	if s.dir != "" {
		os.RemoveAll(s.dir)
		s.dir = ""
	}
	for _, p := range s.created { // innermost first
		if os.Remove(p) != nil {
			break
		}
	}
	s.created = nil
}

// writeFile writes a new file inside the staging directory, making its
// parents. The rename of the whole directory is what makes results appear
// atomically; the files in it need no rename or sync of their own.
func (s *stage) writeFile(name string, write func(io.Writer) error) error {
	p := s.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	return f.Close()
}
