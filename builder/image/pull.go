package image

import (
	"context"
	"errors"
	"fmt"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// ErrNoDigest is returned for an image reference without a digest: a tag
// can point at different bytes tomorrow, so it is no pin.
var ErrNoDigest = errors.New("an image reference must include a digest (name@sha256:…)")

// PinnedRef parses a registry reference and returns it with its digest. A
// reference without a digest, or with a digest weaker than sha256, is
// refused.
func PinnedRef(ref string) (reference.Canonical, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	c, ok := named.(reference.Canonical)
	if !ok {
		return nil, fmt.Errorf("image reference %q: %w", ref, ErrNoDigest)
	}
	switch c.Digest().Algorithm() {
	case digest.SHA256, digest.SHA384, digest.SHA512:
	default:
		return nil, fmt.Errorf("image reference %q: digest algorithm %s is not accepted", ref, c.Digest().Algorithm())
	}
	return c, nil
}

// Pull fetches a registry image by reference and digest into containerd,
// unpacks it, and checks that what was pulled is what the digest names. A
// registry on localhost is reached over plain HTTP (for tests and local
// mirrors); any other over HTTPS.
func (b *Builder) Pull(ctx context.Context, ref string) (*Image, error) {
	c, err := PinnedRef(ref)
	if err != nil {
		return nil, err
	}
	name := c.String()
	if rec, err := b.Client.ImageService().Get(ctx, name); err == nil && rec.Target.Digest == c.Digest() {
		img := client.NewImage(b.Client, rec)
		if ok, err := img.IsUnpacked(ctx, Snapshotter); err == nil && ok {
			return &Image{Name: name, Digest: c.Digest(), Ref: name}, nil
		}
	}
	b.log("pulling %s", name)
	resolver := docker.NewResolver(docker.ResolverOptions{})
	img, err := b.Client.Pull(ctx, name,
		client.WithResolver(resolver),
		client.WithPullUnpack,
		client.WithPullSnapshotter(Snapshotter))
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", name, err)
	}
	if got := img.Target().Digest; got != c.Digest() {
		return nil, fmt.Errorf("pull %s: the registry served %s", name, got)
	}
	return &Image{Name: name, Digest: c.Digest(), Ref: name}, nil
}
