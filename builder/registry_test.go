package builder_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/reprove/reprove/builder/buildertest"
	"github.com/reprove/reprove/builder/image"
	"github.com/reprove/reprove/recipes"
)

// A recipe may name a registry image by reference and digest. A real
// registry (go-containerregistry's, on localhost) serves an image made from
// reprove's minimal image; the build pulls it by digest and runs on it.
func TestRegistryImage(t *testing.T) {
	d := buildertest.Daemon(t)
	ctx := context.Background()
	base := buildertest.Image(t, d, image.Spec{})

	// Re-pack the minimal image's layers as a registry image.
	cs := d.Client.ContentStore()
	rec, err := d.Client.ImageService().Get(ctx, base.Name)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := content.ReadBlob(ctx, cs, rec.Target)
	if err != nil {
		t.Fatal(err)
	}
	var manifest ocispec.Manifest
	if err := jsonUnmarshal(mb, &manifest); err != nil {
		t.Fatal(err)
	}
	img := empty.Image
	for _, l := range manifest.Layers {
		desc := l
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			ra, err := cs.ReaderAt(ctx, desc)
			if err != nil {
				return nil, err
			}
			return io.NopCloser(content.NewReader(ra)), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			t.Fatal(err)
		}
	}
	img, err = mutate.Config(img, v1.Config{Env: []string{"PATH=/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	tag, err := name.ParseReference(host + "/reprove/minimal:latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	dg, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ref := host + "/reprove/minimal@" + dg.String()

	b := newBuilder(t, nil)
	src := helloSource(t)
	r := helloRecipe(tree(t, src), src)
	r.Toolchain = recipes.Toolchain{}
	r.Image = recipes.Image{Ref: ref}
	r.Steps = []recipes.Step{{Shell: "id -u > /out/hello"}}
	out := filepath.Join(t.TempDir(), "out")
	res, err := b.Build(ctx, r, out)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "hello")); strings.TrimSpace(string(got)) != "1000" {
		t.Errorf("build on the registry image wrote %q", got)
	}
	if string(res.Image.Digest) != dg.String() || res.Image.Name != ref {
		t.Errorf("image recorded as %+v, want %s", res.Image, ref)
	}

	// A tag alone is no pin; a digest the registry does not have fails.
	if _, err := b.Images().Pull(ctx, host+"/reprove/minimal:latest"); !errors.Is(err, image.ErrNoDigest) {
		t.Errorf("pull by tag: err = %v, want ErrNoDigest", err)
	}
	wrong := host + "/reprove/minimal@sha256:" + strings.Repeat("0", 64)
	if _, err := b.Images().Pull(ctx, wrong); err == nil {
		t.Error("pull of a digest the registry lacks succeeded")
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
