package infer

import (
	"context"
	"fmt"
	"io"
	"os"

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
