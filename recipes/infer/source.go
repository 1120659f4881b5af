package infer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/mod/modfile"

	"github.com/reprove/reprove/internal/treehash"
	"github.com/reprove/reprove/recipes"
)

// SourceSpec is what the user said about the source (`--source`,
// `--commit`, `--source-url`).
type SourceSpec struct {
	// Location is a local directory (a git work tree or a plain
	// directory) or a git URL.
	Location string
	// Commit overrides the binary's vcs.revision (needed when it has none).
	Commit string
	// URL is the repository URL to write in the recipe when Location is a
	// local clone; by default its origin remote.
	URL string
	// TempDir is where a checkout is made; os.TempDir() when empty. The
	// checkout is removed before ResolveSource returns.
	TempDir string
	// Progress, if set, is told what is being done (cloning, hashing).
	Progress func(string)
}

func (s SourceSpec) progress(format string, args ...any) {
	if s.Progress != nil {
		s.Progress(fmt.Sprintf(format, args...))
	}
}

// ResolveSource pins the source the user pointed at: for git, a fresh
// checkout of the commit (the binary's vcs.revision unless spec.Commit
// says otherwise) is hashed with treehash, as the builder will hash its
// own; for a plain directory, the directory itself. It also finds the main
// module's directory (the go.mod declaring modulePath).
//
// It runs the git command rather than a Go git library: git is what the
// build image itself uses for VCS stamping, so the checkout here is made
// exactly as the rebuild's (same attributes, same line endings), and no
// Go git implementation is among the project's dependencies.
func ResolveSource(ctx context.Context, spec SourceSpec, f *Facts) (*Source, error) {
	rev := ""
	modulePath := ""
	if f != nil && f.BuildInfo != nil {
		modulePath = f.BuildInfo.Main.Path
		for _, s := range f.BuildInfo.Settings {
			if s.Key == "vcs.revision" {
				rev = s.Value
			}
		}
	}
	commit := spec.Commit
	if commit == "" {
		commit = rev
	}
	loc := spec.Location
	if st, err := os.Stat(loc); err == nil && st.IsDir() {
		abs, err := filepath.Abs(loc)
		if err != nil {
			return nil, fmt.Errorf("resolve source: %w", err)
		}
		if !isGitWorkTree(ctx, abs) {
			spec.progress("hashing %s", abs)
			tree, err := treehash.Dir(ctx, abs)
			if err != nil {
				return nil, fmt.Errorf("resolve source %s: %w", loc, err)
			}
			dir, err := moduleDir(abs, modulePath)
			if err != nil {
				return nil, err
			}
			src := &Source{Dir: &recipes.DirSource{Path: abs, Tree: tree}, ModuleDir: dir}
			readGoreleaser(abs, src)
			src.StampVars = findStampVars(abs, dir, modulePath)
			return src, nil
		}
		u := spec.URL
		if u == "" {
			out, err := git(ctx, abs, "config", "--get", "remote.origin.url")
			if err == nil && strings.TrimSpace(out) != "" {
				u = strings.TrimSpace(out)
			} else {
				u = (&url.URL{Scheme: "file", Path: abs}).String()
			}
		}
		return checkout(ctx, spec, abs, u, commit, modulePath)
	} else if err != nil && !looksLikeURL(loc) {
		return nil, fmt.Errorf("resolve source: %w", err)
	}
	if !looksLikeURL(loc) {
		return nil, fmt.Errorf("resolve source: %s is neither a directory nor a git URL", loc)
	}
	u := spec.URL
	if u == "" {
		u = loc
	}
	return checkout(ctx, spec, loc, u, commit, modulePath)
}

func looksLikeURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && (u.Host != "" || u.Scheme == "file")
}

func isGitWorkTree(ctx context.Context, dir string) bool {
	out, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return false
	}
	top, _ := filepath.EvalSymlinks(strings.TrimSpace(out))
	d, _ := filepath.EvalSymlinks(dir)
	return top == d
}

// git runs git with a fixed, minimal configuration: no user or system
// config, no prompts, so that the host's settings cannot change the
// checkout that is hashed.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
		"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=safe.directory", "GIT_CONFIG_VALUE_0=*")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("git %s: %s", strings.Join(args, " "), msg)
	}
	return stdout.String(), nil
}

// checkout clones from (a directory or URL), checks out commit in a
// temporary directory and pins it.
func checkout(ctx context.Context, spec SourceSpec, from, recordURL, commit, modulePath string) (*Source, error) {
	if commit == "" {
		return nil, errors.New("resolve source: the binary records no vcs.revision; give the commit with --commit")
	}
	tmp, err := os.MkdirTemp(spec.TempDir, "reprove-infer-")
	if err != nil {
		return nil, fmt.Errorf("resolve source: %w", err)
	}
	defer os.RemoveAll(tmp)
	co := filepath.Join(tmp, "src")
	spec.progress("cloning %s", from)
	if _, err := git(ctx, tmp, "clone", "--quiet", "--no-checkout", "--", from, co); err != nil {
		return nil, fmt.Errorf("resolve source: %w", err)
	}
	if _, err := git(ctx, co, "checkout", "--quiet", "--detach", commit+"^{commit}"); err != nil {
		return nil, fmt.Errorf("resolve source: commit %s: %w", commit, err)
	}
	full, err := git(ctx, co, "rev-parse", "HEAD")
	if err != nil {
		return nil, fmt.Errorf("resolve source: %w", err)
	}
	spec.progress("hashing the checkout of %s", short(strings.TrimSpace(full)))
	tree, err := treehash.Dir(ctx, co)
	if err != nil {
		return nil, fmt.Errorf("resolve source: %w", err)
	}
	dir, err := moduleDir(co, modulePath)
	if err != nil {
		return nil, err
	}
	src := &Source{Git: &recipes.GitSource{URL: recordURL, Commit: strings.TrimSpace(full), Tree: tree}, ModuleDir: dir}
	// What goreleaser would read of the commit: its tags (newest version
	// first, as goreleaser sorts them), short id and time.
	tags, err := git(ctx, co, "tag", "--points-at", "HEAD", "--sort=-version:refname")
	if err != nil {
		return nil, fmt.Errorf("resolve source: %w", err)
	}
	if f := strings.Fields(tags); len(f) > 0 {
		src.Tags = f
	}
	meta, err := git(ctx, co, "show", "-s", "--format=%h %ct", "HEAD")
	if err != nil {
		return nil, fmt.Errorf("resolve source: %w", err)
	}
	if f := strings.Fields(meta); len(f) == 2 {
		src.ShortCommit = f[0]
		if sec, err := strconv.ParseInt(f[1], 10, 64); err == nil {
			src.CommitTime = time.Unix(sec, 0).UTC()
		}
	}
	readGoreleaser(co, src)
	src.StampVars = findStampVars(co, dir, modulePath)
	return src, nil
}

// readGoreleaser reads the source's goreleaser configuration, if it has
// one, through an os.Root (a link out of the tree is not followed), at most
// 1 MiB of it.
func readGoreleaser(root string, src *Source) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return
	}
	defer r.Close()
	for _, name := range GoreleaserFiles {
		f, err := r.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			continue
		}
		src.GoreleaserFile = name
		b, err := readRegular(f, 1<<20)
		f.Close()
		if err != nil {
			src.GoreleaserErr = fmt.Sprintf("%s: %v", name, err)
			return
		}
		g, err := ParseGoreleaser(b)
		if err != nil {
			src.GoreleaserErr = fmt.Sprintf("%s: %v", name, err)
			return
		}
		src.Goreleaser = g
		return
	}
}

// readRegular reads an open regular file, refusing one over max bytes.
func readRegular(f *os.File, max int64) ([]byte, error) {
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return b, nil
}

// moduleDir finds the directory, relative to root, whose go.mod declares
// modulePath: the root itself first, then subdirectories (not vendor,
// testdata or hidden ones) to a depth of 4. "" when modulePath is empty or
// is the root's module. The tree is read through an os.Root, so a go.mod
// that is a link out of it is not read.
func moduleDir(root, modulePath string) (string, error) {
	if modulePath == "" {
		return "", nil
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return "", fmt.Errorf("find go.mod of %s: %w", modulePath, err)
	}
	defer r.Close()
	if data, err := readGoMod(r, "go.mod"); err == nil && modfile.ModulePath(data) == modulePath {
		return "", nil
	}
	found := ""
	err = fs.WalkDir(r.FS(), ".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil || found != "" {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if rel != "." && (strings.HasPrefix(name, ".") || name == "vendor" || name == "testdata" || name == "node_modules" || strings.Count(rel, "/") >= 4) {
				return fs.SkipDir
			}
			return nil
		}
		if d.Name() != "go.mod" || !d.Type().IsRegular() {
			return nil
		}
		data, err := readGoMod(r, rel)
		if err != nil {
			return err
		}
		if modfile.ModulePath(data) == modulePath {
			found = path.Dir(rel)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("find go.mod of %s: %w", modulePath, err)
	}
	switch found {
	case "":
		return "", fmt.Errorf("find go.mod of %s: no go.mod in the source declares it", modulePath)
	case ".":
		return "", nil
	}
	return found, nil
}

// readGoMod reads a go.mod inside r, at most 16 MiB of it.
func readGoMod(r *os.Root, name string) ([]byte, error) {
	f, err := r.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	return io.ReadAll(io.LimitReader(f, 16<<20))
}
