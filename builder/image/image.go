// Package image makes the base images of reprove's builds without a
// registry: a Debian rootfs from the package mirror (reproducible with
// SOURCE_DATE_EPOCH), a Go toolchain from the Go module proxy's
// golang.org/toolchain modules (verified by the checksum database), and
// reprove's own small layer (build user, mount points). The layers are
// uncompressed, normalised tarballs, so building the same Spec twice gives
// the same image digest; images are imported into containerd as OCI images
// and cached by the digest of their Spec.
//
// Layers are cached by what they depend on: the rootfs by suite, package
// set, architecture and mirror; the toolchain by Go release and
// architecture. An image for a new Go release on a known rootfs makes only
// its toolchain layer and reprove's own small one.
package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/reprove/reprove/builder/goproxy"
	"github.com/reprove/reprove/internal/atomicfile"
	"github.com/reprove/reprove/recipes"
)

// Fixed facts of every base image.
const (
	BuildUser     = "build"
	BuildUID      = 1000
	BuildGID      = 1000
	BuildHome     = "/home/build"
	Hostname      = "reprove"
	ModCacheDir   = "/gomodcache"
	DefaultSuite  = "bookworm"
	DefaultMirror = "http://deb.debian.org/debian"
	// Snapshotter is the containerd snapshotter images are unpacked into.
	Snapshotter = "overlayfs"
	// formatVersion changes whenever the way layers are made (or their
	// records are written) changes, so that a new reprove does not reuse
	// an image or layer an old one made.
	formatVersion = 4
	// PATH inside every image.
	Path = GoRoot + "/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// Epoch is the time every file in a base image carries, and the
// SOURCE_DATE_EPOCH given to mmdebstrap.
var Epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Spec says what goes into a base image.
type Spec struct {
	// Debian selects a Debian minbase rootfs with extra packages; nil is
	// the minimal rootfs (busybox-static from Debian's DefaultSuite).
	Debian *recipes.DebianImage `json:"debian,omitempty"`
	// Go is the Go release installed at GoRoot ("" for none).
	Go string `json:"go,omitempty"`
	// Arch is the image's architecture (GOARCH names); "" is the host's.
	Arch string `json:"arch,omitempty"`
}

func (s Spec) arch() string {
	if s.Arch == "" {
		return runtime.GOARCH
	}
	return s.Arch
}

func (s Spec) suite() string {
	if s.Debian != nil && s.Debian.Suite != "" {
		return s.Debian.Suite
	}
	return DefaultSuite
}

// normal returns the Spec with packages sorted and de-duplicated, so that
// equal specs have equal keys.
func (s Spec) normal() Spec {
	out := Spec{Go: s.Go, Arch: s.arch()}
	if s.Debian != nil {
		pkgs := slices.Clone(s.Debian.Packages)
		sort.Strings(pkgs)
		variant := s.Debian.Variant
		if variant == "minbase" {
			variant = ""
		}
		out.Debian = &recipes.DebianImage{Suite: s.suite(), Variant: variant, Packages: slices.Compact(pkgs), Lock: s.Debian.Lock}
	}
	return out
}

// Key identifies the image a Spec gives from a mirror.
func (s Spec) Key(mirror string) string {
	b, _ := json.Marshal(struct {
		Format int    `json:"format"`
		Spec   Spec   `json:"spec"`
		Mirror string `json:"mirror"`
	}{formatVersion, s.normal(), mirror})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Describe names the image for people: "debian-bookworm+git-go1.23.5".
func (s Spec) Describe() string {
	n := s.normal()
	var name string
	if n.Debian == nil {
		name = "minimal"
	} else {
		name = "debian-" + n.Debian.Suite
		if n.Debian.Variant != "" {
			name += "-" + n.Debian.Variant
		}
		if len(n.Debian.Packages) > 0 {
			name += "+" + strings.Join(n.Debian.Packages, "+")
		}
	}
	if n.Go != "" {
		name += "-go" + n.Go
	}
	return name
}

// Image is a base image in containerd, with what went into it.
type Image struct {
	// Name is the containerd image name.
	Name string `json:"name"`
	// Digest is the OCI manifest digest: the image's identity.
	Digest digest.Digest `json:"digest"`
	Spec   Spec          `json:"spec"`
	Mirror string        `json:"mirror"`
	// Packages are the Debian packages in the rootfs, with versions.
	Packages  []Package  `json:"packages"`
	Toolchain *Toolchain `json:"toolchain,omitempty"`
	Layers    []Layer    `json:"layers"`
	// Ref is set for an image pulled from a registry (by digest) instead
	// of built here.
	Ref string `json:"ref,omitempty"`
}

// Describe names the image for people.
func (i *Image) Describe() string {
	if i.Ref != "" {
		return i.Ref
	}
	return i.Spec.Describe()
}

// Toolchain is the Go distribution in an image.
type Toolchain struct {
	GoVersion string `json:"goVersion"`
	Module    string `json:"module"`
	Version   string `json:"version"`
	// Sum is the module zip's h1: hash, as in the checksum database.
	Sum string `json:"sum"`
}

// Layer is one layer of an image.
type Layer struct {
	Role   string        `json:"role"`
	Digest digest.Digest `json:"digest"`
	Size   int64         `json:"size"`
}

// Builder makes and caches base images in one containerd.
type Builder struct {
	Client *client.Client
	// Dir holds temporary layer files and the metadata of built images.
	Dir string
	// Proxy fetches Go toolchains (with its checksum database set).
	Proxy *goproxy.Client
	// Mirror is the Debian mirror (DefaultMirror when empty).
	Mirror string
	// Snapshot is the base URL of a snapshot archive that locked packages
	// are fetched from once the mirror has moved on
	// (archive.DefaultSnapshot when empty, none when "off").
	Snapshot string
	// DebCache holds locked .debs by digest (Dir/debs when empty).
	DebCache string
	// HTTP fetches locked .debs (http.DefaultClient when nil).
	HTTP *http.Client
	// Log reports progress; it may be nil.
	Log func(string)
}

func (b *Builder) log(format string, args ...any) {
	if b.Log != nil {
		b.Log(fmt.Sprintf(format, args...))
	}
}

func (b *Builder) mirror() string {
	if b.Mirror == "" {
		return DefaultMirror
	}
	return b.Mirror
}

func (b *Builder) metaPath(key string) string {
	return filepath.Join(b.Dir, "images", key+".json")
}

// Ensure returns the image for spec, building it only when the cache does
// not hold it (or containerd lost it), and then reusing every layer the
// cache holds already.
func (b *Builder) Ensure(ctx context.Context, spec Spec) (*Image, error) {
	if img, err := b.cached(ctx, spec); err == nil {
		return img, nil
	}
	return b.build(ctx, spec, true)
}

func (b *Builder) cached(ctx context.Context, spec Spec) (*Image, error) {
	key := spec.Key(b.mirror())
	raw, err := os.ReadFile(b.metaPath(key))
	if err != nil {
		return nil, err
	}
	var img Image
	if err := json.Unmarshal(raw, &img); err != nil {
		return nil, err
	}
	rec, err := b.Client.ImageService().Get(ctx, img.Name)
	if err != nil {
		return nil, err
	}
	if rec.Target.Digest != img.Digest {
		return nil, fmt.Errorf("image %s points at %s, not %s", img.Name, rec.Target.Digest, img.Digest)
	}
	ci := client.NewImage(b.Client, rec)
	ok, err := ci.IsUnpacked(ctx, Snapshotter)
	if err != nil {
		return nil, err
	}
	if !ok {
		if err := ci.Unpack(ctx, Snapshotter); err != nil {
			return nil, err
		}
	}
	return &img, nil
}

// Build makes the image for spec from scratch, every layer included,
// imports it into containerd (replacing an image of the same name) and
// records it and its layers in the cache. Building from scratch is how
// `reprove image build --force` shows that the digest holds.
func (b *Builder) Build(ctx context.Context, spec Spec) (*Image, error) {
	return b.build(ctx, spec, false)
}

func (b *Builder) build(ctx context.Context, spec Spec, reuse bool) (*Image, error) {
	spec = spec.normal()
	key := spec.Key(b.mirror())
	name := "reprove.local/base/" + spec.Describe() + ":" + key[:16]
	// A lease keeps the blobs, reused or new, from being collected before
	// the image record refers to them.
	ctx, done, err := b.Client.WithLease(ctx)
	if err != nil {
		return nil, fmt.Errorf("build image: %w", err)
	}
	defer done(context.WithoutCancel(ctx))
	tmp := filepath.Join(b.Dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(tmp, "image-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	img := &Image{Name: name, Spec: spec, Mirror: b.mirror()}
	var layers []layer
	var records []func() error

	rootKey := spec.rootfsKey(b.mirror())
	root, info, err := b.reusedRootfs(ctx, reuse, rootKey)
	if err != nil {
		return nil, err
	}
	if root != nil {
		b.log("image %s: reusing the Debian %s rootfs layer", spec.Describe(), spec.suite())
	} else {
		if root, info, err = b.makeRootfs(ctx, spec, work); err != nil {
			return nil, err
		}
		l, inf := *root, *info
		records = append(records, func() error {
			return b.writeLayerRecord("rootfs", rootKey, layerRecord{Digest: l.digest, Size: l.size, Packages: inf.packages, Passwd: inf.passwd, Group: inf.group, Sources: inf.sources})
		})
	}
	layers = append(layers, *root)
	img.Packages = info.packages
	if spec.Debian != nil && spec.Debian.Lock != nil {
		// From the lock, not the layer record: a record written before
		// packages had URLs lacks them.
		img.Packages = lockedPackages(spec.Debian.Lock, b.mirror())
	}
	img.Layers = append(img.Layers, Layer{Role: "rootfs", Digest: root.digest, Size: root.size})

	if spec.Go != "" {
		tcKey := spec.toolchainKey()
		tl, tc, err := b.reusedToolchain(ctx, reuse, tcKey)
		if err != nil {
			return nil, err
		}
		if tl != nil {
			b.log("image %s: reusing the Go %s toolchain layer", spec.Describe(), spec.Go)
		} else {
			if tl, tc, err = b.makeToolchain(ctx, spec, work); err != nil {
				return nil, err
			}
			l, t := *tl, *tc
			records = append(records, func() error {
				return b.writeLayerRecord("toolchain", tcKey, layerRecord{Digest: l.digest, Size: l.size, Toolchain: &t})
			})
		}
		layers = append(layers, *tl)
		img.Toolchain = tc
		img.Layers = append(img.Layers, Layer{Role: "go-toolchain", Digest: tl.digest, Size: tl.size})
	}

	lw, err := newLayerWriter(work, Epoch)
	if err != nil {
		return nil, err
	}
	if err := reproveLayer(lw, info, spec.Debian == nil); err != nil {
		lw.abort()
		return nil, err
	}
	l, err := lw.finish()
	if err != nil {
		return nil, err
	}
	layers = append(layers, l)
	img.Layers = append(img.Layers, Layer{Role: "reprove", Digest: l.digest, Size: l.size})

	b.log("image %s: importing into containerd", spec.Describe())
	manifest, err := b.importImage(ctx, name, key, spec, layers)
	if err != nil {
		return nil, err
	}
	img.Digest = manifest
	// The layers' records are written once their blobs are in the
	// content store, referred to by the image.
	for _, write := range records {
		if err := write(); err != nil {
			return nil, err
		}
	}
	if err := writeJSONAtomic(b.metaPath(key), img); err != nil {
		return nil, err
	}
	return img, nil
}

// makeRootfs builds the Debian rootfs with mmdebstrap and normalises it
// into a layer.
func (b *Builder) makeRootfs(ctx context.Context, spec Spec, work string) (*layer, *rootfsInfo, error) {
	b.log("image %s: building Debian %s rootfs", spec.Describe(), spec.suite())
	rootTar := filepath.Join(work, "rootfs.tar")
	if spec.Debian != nil {
		if spec.Debian.Lock == nil {
			return nil, nil, fmt.Errorf("build image %s: the Debian image is not locked: run `reprove lock RECIPE`", spec.Describe())
		}
		if err := b.lockedRootfs(ctx, spec, work, rootTar); err != nil {
			return nil, nil, err
		}
	} else if err := debianRootfs(ctx, spec, b.mirror(), rootTar, b.Log); err != nil {
		return nil, nil, err
	}
	defer os.Remove(rootTar)
	lw, err := newLayerWriter(work, Epoch)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(rootTar)
	if err != nil {
		lw.abort()
		return nil, nil, err
	}
	info, err := convertRootfs(f, lw)
	f.Close()
	if err == nil && spec.Debian != nil {
		err = checkInstalled(spec.Debian.Lock, info.packages)
		info.packages = lockedPackages(spec.Debian.Lock, b.mirror())
		info.sources = []byte(fmt.Sprintf("deb %s %s main\n", b.mirror(), spec.suite()))
		for _, a := range spec.Debian.Lock.Also {
			info.sources = fmt.Appendf(info.sources, "deb %s %s main\n", a.Archive, a.Release().Name())
		}
	}
	if err != nil {
		lw.abort()
		return nil, nil, err
	}
	l, err := lw.finish()
	if err != nil {
		return nil, nil, err
	}
	return &l, info, nil
}

// makeToolchain fetches the Go distribution (verified by the checksum
// database) and writes its layer.
func (b *Builder) makeToolchain(ctx context.Context, spec Spec, work string) (*layer, *Toolchain, error) {
	if b.Proxy == nil || b.Proxy.SumDB == nil {
		return nil, nil, errors.New("build image: a Go toolchain needs the module proxy with its checksum database")
	}
	version := recipes.ToolchainVersion(spec.Go, spec.arch())
	b.log("image %s: fetching %s@%s", spec.Describe(), recipes.ToolchainModule, version)
	zipPath, sum, err := b.Proxy.Zip(ctx, recipes.ToolchainModule, version, "")
	if err != nil {
		return nil, nil, fmt.Errorf("build image: fetch Go %s: %w", spec.Go, err)
	}
	lw, err := newLayerWriter(work, Epoch)
	if err != nil {
		return nil, nil, err
	}
	if err := toolchainLayer(zipPath, spec.Go, spec.arch(), lw); err != nil {
		lw.abort()
		return nil, nil, err
	}
	l, err := lw.finish()
	if err != nil {
		return nil, nil, err
	}
	return &l, &Toolchain{GoVersion: spec.Go, Module: recipes.ToolchainModule, Version: version, Sum: sum}, nil
}

// importImage writes the layers, config and manifest into containerd's
// content store, points the image name at the manifest and unpacks it.
// The caller holds a lease on ctx. Layers already in the store (reused
// from the cache) are not written again.
func (b *Builder) importImage(ctx context.Context, name, key string, spec Spec, layers []layer) (digest.Digest, error) {
	cs := b.Client.ContentStore()

	var diffIDs []digest.Digest
	var layerDescs []ocispec.Descriptor
	history := make([]ocispec.History, 0, len(layers))
	created := Epoch
	for i, l := range layers {
		desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: l.digest, Size: l.size}
		if l.path != "" {
			f, err := os.Open(l.path)
			if err != nil {
				return "", err
			}
			err = content.WriteBlob(ctx, cs, "reprove-layer-"+l.digest.Encoded(), f, desc)
			f.Close()
			if err != nil {
				return "", fmt.Errorf("import image: write layer %d: %w", i, err)
			}
		}
		diffIDs = append(diffIDs, l.digest)
		layerDescs = append(layerDescs, desc)
		history = append(history, ocispec.History{Created: &created, CreatedBy: "reprove image build (" + spec.Describe() + ")"})
	}
	config := ocispec.Image{
		Created:  &created,
		Platform: ocispec.Platform{Architecture: spec.arch(), OS: "linux"},
		Config: ocispec.ImageConfig{
			User:       fmt.Sprintf("%d:%d", BuildUID, BuildGID),
			Env:        []string{"PATH=" + Path},
			WorkingDir: "/src",
			Labels:     map[string]string{"dev.reprove.image.key": key},
		},
		RootFS:  ocispec.RootFS{Type: "layers", DiffIDs: diffIDs},
		History: history,
	}
	configDesc, err := writeJSONBlob(ctx, cs, ocispec.MediaTypeImageConfig, config, nil)
	if err != nil {
		return "", err
	}
	labels := map[string]string{"containerd.io/gc.ref.content.config": configDesc.Digest.String()}
	for i, d := range layerDescs {
		labels[fmt.Sprintf("containerd.io/gc.ref.content.l.%d", i)] = d.Digest.String()
	}
	manifest := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    configDesc,
		Layers:    layerDescs,
	}
	manifestDesc, err := writeJSONBlob(ctx, cs, ocispec.MediaTypeImageManifest, manifest, labels)
	if err != nil {
		return "", err
	}

	is := b.Client.ImageService()
	rec := images.Image{Name: name, Target: manifestDesc, Labels: map[string]string{"dev.reprove.image.key": key}}
	if _, err := is.Create(ctx, rec); err != nil {
		if !errdefs.IsAlreadyExists(err) {
			return "", fmt.Errorf("import image: %w", err)
		}
		if _, err := is.Update(ctx, rec, "target", "labels"); err != nil {
			return "", fmt.Errorf("import image: %w", err)
		}
	}
	if err := client.NewImage(b.Client, rec).Unpack(ctx, Snapshotter); err != nil {
		return "", fmt.Errorf("import image: unpack: %w", err)
	}
	return manifestDesc.Digest, nil
}

func writeJSONBlob(ctx context.Context, cs content.Store, mediaType string, v any, labels map[string]string) (ocispec.Descriptor, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(raw), Size: int64(len(raw))}
	var opts []content.Opt
	if labels != nil {
		opts = append(opts, content.WithLabels(labels))
	}
	if err := content.WriteBlob(ctx, cs, "reprove-"+desc.Digest.Encoded(), strings.NewReader(string(raw)), desc, opts...); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("import image: write %s: %w", mediaType, err)
	}
	if labels != nil {
		// WriteBlob does not relabel content that already exists.
		info := content.Info{Digest: desc.Digest, Labels: labels}
		var fields []string
		for k := range labels {
			fields = append(fields, "labels."+k)
		}
		if _, err := cs.Update(ctx, info, fields...); err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("import image: label %s: %w", desc.Digest, err)
		}
	}
	return desc, nil
}

func writeJSONAtomic(path string, v any) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, append(raw, '\n'), 0o644)
}
