package recipes_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/builder/goproxy"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/recipes"
	"github.com/reprove/reprove/recipes/infer"
)

func catalogue(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recipes in %s (%v)", dir, err)
	}
	return files
}

// TestCatalogueValid: every recipe of the catalogue lints clean, names
// only known normalizers, and compares every output with a shipped
// artifact.
func TestCatalogueValid(t *testing.T) {
	for _, f := range catalogue(t, "catalogue") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r, err := recipes.Load(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range r.Normalizers {
				if _, ok := verdict.Lookup(n); !ok {
					t.Errorf("unknown normalizer %q", n)
				}
			}
			for _, o := range r.Outputs {
				if o.Shipped == nil {
					t.Errorf("output %s has no shipped artifact to compare with", o.Path)
				}
			}
			if want := strings.TrimSuffix(filepath.Base(f), ".yaml"); !strings.HasPrefix(want, r.Name+"-") {
				t.Errorf("file name %s does not start with the recipe name %s", filepath.Base(f), r.Name)
			}
		})
	}
}

// TestCatalogueIncomplete: the recipes under catalogue/incomplete lack
// only what could not be computed where they were written: the tree
// digest of a git checkout.
func TestCatalogueIncomplete(t *testing.T) {
	for _, f := range catalogue(t, "catalogue/incomplete") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := recipes.Load(context.Background(), f)
			var e *recipes.Error
			if !errors.As(err, &e) || e.Field != "source.git.tree" || !errors.Is(err, recipes.ErrRequired) {
				t.Fatalf("Load = %v; want only source.git.tree: required", err)
			}
			var es recipes.Errors
			if errors.As(err, &es) {
				t.Fatalf("Load = %v; want only source.git.tree: required", err)
			}
		})
	}
}

// download fetches url into dir once per test run, checking its digest.
func download(t *testing.T, dir, url string, want digest.Digest) string {
	t.Helper()
	p := filepath.Join(dir, want.Encoded())
	if _, err := os.Stat(p); err == nil {
		return p
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("download %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("download %s: %s", url, resp.Status)
	}
	f, err := os.Create(p + ".tmp")
	if err != nil {
		t.Fatal(err)
	}
	d := digest.Canonical.Digester()
	if _, err := io.Copy(io.MultiWriter(f, d.Hash()), resp.Body); err != nil {
		t.Fatalf("download %s: %v", url, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if d.Digest() != want {
		t.Fatalf("%s has digest %s; the recipe pins %s", url, d.Digest(), want)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCataloguePins downloads every shipped artifact of the catalogue and
// checks its digests and its member's; checks each Go module source's sum
// against the checksum database; and infers a recipe from each shipped
// binary to check that the catalogue says what the binary records.
func TestCataloguePins(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads the shipped artifacts from the Go module proxy and npm (-short)")
	}
	ctx := context.Background()
	dl := t.TempDir()
	db := goproxy.NewSumDB(goproxy.DefaultProxy, goproxy.SumGolangOrgKey, t.TempDir(), nil)
	files := append(catalogue(t, "catalogue"), catalogue(t, "catalogue/incomplete")...)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			r, err := recipes.Parse(f, data)
			var rerr *recipes.Error
			if errors.As(err, &rerr) && rerr.Field == "source.git.tree" {
				// An incomplete recipe: check the rest with a stand-in
				// tree digest.
				r, err = recipes.Parse(f, []byte(strings.Replace(string(data), "    commit:", "    tree: "+string(digest.FromString(""))+"\n    commit:", 1)))
			}
			if err != nil {
				t.Fatal(err)
			}
			opts := infer.Options{Source: &infer.Source{Git: r.Source.Git, Dir: r.Source.Dir}}
			if m := r.Source.GoModule; m != nil {
				sum, err := db.Lookup(ctx, m.Path, m.Version)
				if err != nil {
					t.Fatalf("checksum database: %v", err)
				}
				if sum != m.Sum {
					t.Errorf("source.gomod.sum = %s; the checksum database says %s", m.Sum, sum)
				}
				opts = infer.Options{ToolchainSum: sum}
			}
			for _, o := range r.Outputs {
				s := o.Shipped
				archive := download(t, dl, s.URL, s.Digest)
				exe := filepath.Join(t.TempDir(), "exe")
				md, err := infer.ExtractMember(ctx, archive, s.Member, exe, infer.DefaultLimits())
				if err != nil {
					t.Fatal(err)
				}
				if md != s.MemberDigest {
					t.Errorf("member %s has digest %s; the recipe pins %s", s.Member, md, s.MemberDigest)
				}
				facts, err := infer.ReadFacts(ctx, exe, infer.DefaultLimits())
				if err != nil {
					t.Fatal(err)
				}
				opts.Shipped = s
				// An npm package says its own version, which infer
				// takes; other recipes name their version by hand.
				v, manifest, found, err := infer.PackageVersion(ctx, archive, s.Member, infer.DefaultLimits())
				if err != nil {
					t.Fatal(err)
				}
				opts.PackageVersion, opts.PackageManifest = v, manifest
				res, err := infer.Infer(facts, opts)
				if err != nil {
					t.Fatal(err)
				}
				got := res.Recipe
				got.Name, got.Limits = r.Name, r.Limits
				if !found {
					got.Version = r.Version
				}
				if diff := cmp.Diff(canon(t, r), canon(t, got)); diff != "" {
					t.Errorf("inferred recipe differs from the catalogue's (-catalogue +inferred):\n%s", diff)
				}
			}
		})
	}
}

func canon(t *testing.T, r *recipes.Recipe) string {
	t.Helper()
	y, err := r.YAML()
	if err != nil {
		t.Fatal(err)
	}
	return string(y)
}
