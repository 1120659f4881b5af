package infer

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/builder"
	"github.com/reprove/reprove/builder/buildertest"
	"github.com/reprove/reprove/builder/plan"
	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/debian/lock"
	"github.com/reprove/reprove/recipes"
)

// TestInferRebuildsInContainer: for programs built on the host in varied
// ways (trimpath or not, -s, -w, -buildid=, cgo, windows and darwin
// targets, VCS stamping from a git repository, a module in a
// subdirectory), the recipe infer writes rebuilds each bit for bit in the
// hermetic container, with the candidate the host test expects.
func TestInferRebuildsInContainer(t *testing.T) {
	d := buildertest.Daemon(t)
	b, err := builder.New(builder.Options{Client: d.Client, CacheDir: buildertest.CacheDir(t), ReproveVersion: "test",
		Progress: func(e builder.Event) {
			if e.Message != "" {
				t.Log(e.Phase, e.Message)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range flagCases {
		if !tc.container {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			in := buildAndInfer(t, tc, plan.GoRoot)
			got, tried := firstReproducing(t, in, func(r *recipes.Recipe) digest.Digest {
				if r.Source.Dir != nil {
					// A directory source is read where it is; the
					// module tree stands for it as built.
					r.Source.Dir.Path = in.srcRoot
				}
				if d := r.Image.Debian; d != nil && d.Lock == nil {
					// infer names the packages; the image is built
					// only from a lock of them (reprove lock).
					locked, err := lock.Image(context.Background(), &archive.Client{Keyring: keyring(t)}, d, "amd64")
					if err != nil {
						t.Fatal(err)
					}
					r.Image.Debian = locked
				}
				out := filepath.Join(t.TempDir(), "out")
				res, err := b.Build(context.Background(), r, out)
				if err != nil {
					t.Fatalf("build: %v", err)
				}
				return res.Outputs[0].Digest
			})
			if got != tc.wantLd {
				t.Errorf("reproduced with -ldflags %q, want %q (candidates %q)", got, tc.wantLd, tried)
			}
		})
	}
}

func keyring(t *testing.T) openpgp.EntityList {
	kr, err := archive.LoadKeyring(archive.DefaultKeyring)
	if err != nil {
		t.Skipf("no Debian archive keyring (bash ci/setup.sh): %v", err)
	}
	return kr
}
