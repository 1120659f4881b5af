package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/containerd/v2/core/leases"
	"github.com/opencontainers/go-digest"
)

// layerRecord is what the cache keeps of a layer it made: enough to use it
// again without making it. The blob itself stays in containerd's content
// store while an image refers to it; a record whose blob was collected is
// ignored and the layer made again.
type layerRecord struct {
	Format int           `json:"format"`
	Digest digest.Digest `json:"digest"`
	Size   int64         `json:"size"`
	// For a rootfs layer: what converting it learned.
	Packages []Package `json:"packages,omitempty"`
	Passwd   []byte    `json:"passwd,omitempty"`
	Group    []byte    `json:"group,omitempty"`
	Sources  []byte    `json:"sources,omitempty"`
	// For a toolchain layer: the distribution in it.
	Toolchain *Toolchain `json:"toolchain,omitempty"`
}

// rootfsKey names a rootfs layer by what it depends on: the suite and
// package set (or the minimal image), the architecture and the mirror; not
// the Go release.
func (s Spec) rootfsKey(mirror string) string {
	n := s.normal()
	return layerKey("rootfs", struct {
		Debian any    `json:"debian"`
		Arch   string `json:"arch"`
		Suite  string `json:"suite"`
		Mirror string `json:"mirror"`
	}{n.Debian, n.Arch, s.suite(), mirror})
}

// toolchainKey names a toolchain layer by the Go release and architecture.
func (s Spec) toolchainKey() string {
	n := s.normal()
	return layerKey("toolchain", struct {
		Go   string `json:"go"`
		Arch string `json:"arch"`
	}{n.Go, n.Arch})
}

func layerKey(role string, v any) string {
	b, _ := json.Marshal(struct {
		Format int    `json:"format"`
		Role   string `json:"role"`
		Of     any    `json:"of"`
	}{formatVersion, role, v})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func (b *Builder) layerRecordPath(role, key string) string {
	return filepath.Join(b.Dir, "layers", role+"-"+key+".json")
}

func (b *Builder) writeLayerRecord(role, key string, rec layerRecord) error {
	rec.Format = formatVersion
	return writeJSONAtomic(b.layerRecordPath(role, key), rec)
}

// reusedLayer returns the cached layer of that role and key, when reuse is
// on and its blob is still in the content store; the blob is added to the
// lease on ctx first, so it cannot be collected while the image is made.
func (b *Builder) reusedLayer(ctx context.Context, reuse bool, role, key string) (*layerRecord, error) {
	if !reuse {
		return nil, nil
	}
	raw, err := os.ReadFile(b.layerRecordPath(role, key))
	if err != nil {
		return nil, nil
	}
	var rec layerRecord
	if json.Unmarshal(raw, &rec) != nil || rec.Format != formatVersion || rec.Digest.Validate() != nil {
		return nil, nil
	}
	id, ok := leases.FromContext(ctx)
	if !ok {
		return nil, fmt.Errorf("reuse %s layer: no lease", role)
	}
	if err := b.Client.LeasesService().AddResource(ctx, leases.Lease{ID: id}, leases.Resource{ID: rec.Digest.String(), Type: "content"}); err != nil {
		return nil, fmt.Errorf("reuse %s layer: %w", role, err)
	}
	info, err := b.Client.ContentStore().Info(ctx, rec.Digest)
	if err != nil || info.Size != rec.Size {
		return nil, nil // collected meanwhile: make it again
	}
	return &rec, nil
}

func (b *Builder) reusedRootfs(ctx context.Context, reuse bool, key string) (*layer, *rootfsInfo, error) {
	rec, err := b.reusedLayer(ctx, reuse, "rootfs", key)
	if rec == nil || err != nil {
		return nil, nil, err
	}
	return &layer{digest: rec.Digest, size: rec.Size}, &rootfsInfo{passwd: rec.Passwd, group: rec.Group, sources: rec.Sources, packages: rec.Packages}, nil
}

func (b *Builder) reusedToolchain(ctx context.Context, reuse bool, key string) (*layer, *Toolchain, error) {
	rec, err := b.reusedLayer(ctx, reuse, "toolchain", key)
	if rec == nil || err != nil || rec.Toolchain == nil {
		return nil, nil, err
	}
	return &layer{digest: rec.Digest, size: rec.Size}, rec.Toolchain, nil
}
