package pipeline_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/builder"
	"github.com/reprove/reprove/builder/fetch"
	"github.com/reprove/reprove/builder/image"
	"github.com/reprove/reprove/builder/runner"
	"github.com/reprove/reprove/pipeline"
	"github.com/reprove/reprove/recipes"
)

// A locked Debian image's packages are resolved dependencies of the
// provenance, each by its URL in its own archive (a security update's
// from the security archive); an image recorded before packages had URLs
// names their pool paths, as before.
func TestProvenanceDebianPackageURLs(t *testing.T) {
	d := digest.FromString
	res := &builder.Result{
		Recipe: recipes.Ref{Name: "libmodbus5", Version: "3.1.6-2.1+deb12u1", Digest: d("recipe")},
		Source: fetch.Resolved{Kind: "dsc", URI: "http://deb.debian.org/debian-security/pool/updates/main/libm/libmodbus/libmodbus_3.1.6-2.1+deb12u1.dsc", Digest: d("dsc")},
		Image: builder.ImageRef{Name: "debian", Digest: d("image"), Packages: []image.Package{
			{Name: "adduser", Version: "3.134", Arch: "all", Path: "pool/main/a/adduser/adduser_3.134_all.deb", SHA256: d("adduser"), URL: "http://deb.debian.org/debian/pool/main/a/adduser/adduser_3.134_all.deb"},
			{Name: "zlib1g", Version: "1:1.2.13.dfsg-1+deb12u1", Arch: "amd64", Path: "pool/updates/main/z/zlib/zlib1g_1.2.13.dfsg-1+deb12u1_amd64.deb", SHA256: d("zlib1g"), URL: "http://deb.debian.org/debian-security/pool/updates/main/z/zlib/zlib1g_1.2.13.dfsg-1+deb12u1_amd64.deb"},
			{Name: "old", Version: "1", Arch: "all", Path: "pool/main/o/old/old_1_all.deb", SHA256: d("old")},
			{Name: "unlocked", Version: "1"},
		}},
		Steps:          []runner.StepResult{{Args: []string{"/bin/sh", "-ec", "true"}}},
		Outputs:        []builder.Output{{Path: "x.deb", Digest: d("out")}},
		ReproveVersion: "test",
		Started:        time.Date(2026, 12, 8, 2, 0, 0, 0, time.UTC),
		Finished:       time.Date(2026, 12, 8, 2, 1, 0, 0, time.UTC),
	}
	rb, err := pipeline.Provenance(res, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []attest.Dependency{
		{Name: "adduser:all", Version: "3.134", URI: "http://deb.debian.org/debian/pool/main/a/adduser/adduser_3.134_all.deb", Digest: d("adduser")},
		{Name: "zlib1g:amd64", Version: "1:1.2.13.dfsg-1+deb12u1", URI: "http://deb.debian.org/debian-security/pool/updates/main/z/zlib/zlib1g_1.2.13.dfsg-1+deb12u1_amd64.deb", Digest: d("zlib1g")},
		{Name: "old:all", Version: "1", URI: "pool/main/o/old/old_1_all.deb", Digest: d("old")},
	}
	if diff := cmp.Diff(want, rb.DebianPackages); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
