package image

import (
	"archive/tar"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// layerWriter writes one uncompressed tar layer to a temporary file while
// hashing it, with every header normalised so that the same files always
// give the same bytes: no owner names, no access/change times, no PAX
// extras, modification times clamped to the image epoch.
type layerWriter struct {
	f     *os.File
	h     hash.Hash
	tw    *tar.Writer
	epoch time.Time
	dirs  map[string]bool
	n     int64
}

func newLayerWriter(dir string, epoch time.Time) (*layerWriter, error) {
	f, err := os.CreateTemp(dir, ".layer-*.tar")
	if err != nil {
		return nil, err
	}
	lw := &layerWriter{f: f, h: sha256.New(), epoch: epoch, dirs: map[string]bool{}}
	lw.tw = tar.NewWriter(io.MultiWriter(f, lw.h, countWriter{&lw.n}))
	return lw, nil
}

type countWriter struct{ n *int64 }

func (c countWriter) Write(p []byte) (int, error) {
	*c.n += int64(len(p))
	return len(p), nil
}

func (lw *layerWriter) normalise(h *tar.Header) *tar.Header {
	out := &tar.Header{
		Typeflag: h.Typeflag,
		Name:     h.Name,
		Linkname: h.Linkname,
		Size:     h.Size,
		Mode:     h.Mode & 0o7777,
		Uid:      h.Uid,
		Gid:      h.Gid,
		ModTime:  h.ModTime.UTC().Truncate(time.Second),
		Devmajor: h.Devmajor,
		Devminor: h.Devminor,
		Format:   tar.FormatPAX,
	}
	if out.ModTime.IsZero() || out.ModTime.After(lw.epoch) {
		out.ModTime = lw.epoch
	}
	if out.Typeflag == tar.TypeDir && !strings.HasSuffix(out.Name, "/") {
		out.Name += "/"
	}
	return out
}

// add writes one entry; r supplies the contents of regular files.
func (lw *layerWriter) add(h *tar.Header, r io.Reader) error {
	h = lw.normalise(h)
	if h.Typeflag == tar.TypeDir {
		lw.dirs[strings.TrimSuffix(h.Name, "/")] = true
	}
	if err := lw.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("write layer entry %s: %w", h.Name, err)
	}
	if h.Typeflag == tar.TypeReg && h.Size > 0 {
		if _, err := io.CopyN(lw.tw, r, h.Size); err != nil {
			return fmt.Errorf("write layer entry %s: %w", h.Name, err)
		}
	}
	return nil
}

// addParents writes directory entries for every parent of name not yet
// written, so that a layer never relies on implicit directories.
func (lw *layerWriter) addParents(name string) error {
	var missing []string
	for d := path.Dir(strings.TrimSuffix(name, "/")); d != "." && d != "/"; d = path.Dir(d) {
		if lw.dirs[d] {
			break
		}
		missing = append(missing, d)
	}
	sort.Strings(missing)
	for _, d := range missing {
		if err := lw.add(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755}, nil); err != nil {
			return err
		}
	}
	return nil
}

// layer is a finished layer: a file to import, or (path "") a blob the
// content store holds already.
type layer struct {
	path   string
	digest digest.Digest
	size   int64
}

func (lw *layerWriter) finish() (layer, error) {
	if err := lw.tw.Close(); err != nil {
		lw.abort()
		return layer{}, err
	}
	if err := lw.f.Close(); err != nil {
		os.Remove(lw.f.Name())
		return layer{}, err
	}
	return layer{path: lw.f.Name(), digest: digest.NewDigest(digest.SHA256, lw.h), size: lw.n}, nil
}

func (lw *layerWriter) abort() {
	lw.f.Close()
	os.Remove(lw.f.Name())
}
