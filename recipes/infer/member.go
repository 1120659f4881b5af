package infer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/internal/unpack"
)

// ExtractMember copies the regular file member (a clean relative path,
// such as package/bin/esbuild) out of the archive at archivePath (tar,
// compressed tar such as an npm .tgz, or zip) into dst, and returns the
// member's digest. Reading is bounded by lim.MaxSize for the member and
// four times that for everything decompressed, so a hostile archive cannot
// make it work without end. The archive reading is internal/unpack's, the
// same the builder uses for shipped artifacts.
func ExtractMember(ctx context.Context, archivePath, member, dst string, lim Limits) (digest.Digest, error) {
	f, err := os.Open(archivePath)
	if err != nil {
		return "", fmt.Errorf("extract %s: %w", member, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("extract %s: %w", member, err)
	}
	out, err := os.Create(dst)
	if err != nil {
		return "", fmt.Errorf("extract %s: %w", member, err)
	}
	d, err := extract(ctx, f, st.Size(), member, out, lim)
	if cerr := out.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return "", fmt.Errorf("extract %s from %s: %w", member, archivePath, err)
	}
	return d, nil
}

// ErrNoMember is returned (wrapped) when the archive has no such regular
// file.
var ErrNoMember = unpack.ErrNoMember

func extract(ctx context.Context, ra io.ReaderAt, size int64, member string, w io.Writer, lim Limits) (digest.Digest, error) {
	d := digest.Canonical.Digester()
	ul := unpack.Limits{Entries: unpack.DefaultLimits.Entries, Bytes: 4 * lim.MaxSize, MemberBytes: lim.MaxSize}
	if err := unpack.MemberFrom(ctx, ra, size, "archive", member, io.MultiWriter(w, d.Hash()), ul); err != nil {
		return "", err
	}
	return d.Digest(), nil
}

// maxManifest bounds a package.json read from an archive.
const maxManifest = 1 << 20

// PackageVersion reads the version an npm package states for itself: the
// "version" of the package.json at the top of the package directory that
// holds member (package/bin/esbuild → package/package.json). found is
// false when the archive holds no such file; a package.json whose version
// is not usable as a recipe version (empty, with spaces or control
// characters, over 128 bytes) is an error naming it.
func PackageVersion(ctx context.Context, archivePath, member string, lim Limits) (version, manifest string, found bool, err error) {
	manifest = "package.json"
	if top, _, ok := strings.Cut(member, "/"); ok {
		manifest = top + "/package.json"
	}
	f, err := os.Open(archivePath)
	if err != nil {
		return "", manifest, false, fmt.Errorf("read %s: %w", manifest, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", manifest, false, fmt.Errorf("read %s: %w", manifest, err)
	}
	var buf bytes.Buffer
	ul := unpack.Limits{Entries: unpack.DefaultLimits.Entries, Bytes: 4 * lim.MaxSize, MemberBytes: maxManifest}
	err = unpack.MemberFrom(ctx, f, st.Size(), filepath.Base(archivePath), manifest, &buf, ul)
	if errors.Is(err, unpack.ErrNoMember) {
		return "", manifest, false, nil
	}
	if err != nil {
		return "", manifest, false, fmt.Errorf("read %s: %w", manifest, err)
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(buf.Bytes(), &pkg); err != nil {
		return "", manifest, true, fmt.Errorf("read %s in %s: %w", manifest, filepath.Base(archivePath), err)
	}
	v := pkg.Version
	if v == "" || len(v) > 128 || strings.IndexFunc(v, func(c rune) bool { return c <= ' ' || c == 0x7f || unicode.IsControl(c) }) >= 0 {
		return "", manifest, true, fmt.Errorf("read %s in %s: version %q is not usable as a recipe version", manifest, filepath.Base(archivePath), v)
	}
	return v, manifest, true, nil
}
