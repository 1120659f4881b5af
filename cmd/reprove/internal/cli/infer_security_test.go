package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprove/reprove/debian/archive/archivetest"
	"github.com/reprove/reprove/debian/debfile/debtest"
	"github.com/reprove/reprove/recipes"
)

// runMain runs reprove with args and a cache of its own.
func runMain(t *testing.T, cache string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if k == "REPROVE_CACHE" {
			return cache
		}
		return ""
	}})
	return code, out.String(), errb.String()
}

// reprove infer on a security update finds its source in bookworm-security
// of the security archive and locks over both suites; reprove lock
// relocks the recipe over both again (the security archive moved on: its
// newer libc6 is taken), and refuses a security Release no key signed.
func TestInferLockSecurityUpdate(t *testing.T) {
	two := archivetest.NewTwoArchives(t)
	dir, cache := t.TempDir(), t.TempDir()
	deb := filepath.Join(dir, "libexpat1_2.5.0-1+deb12u5_amd64.deb")
	os.WriteFile(deb, debtest.Deb(two.Update), 0o644)
	recipe := filepath.Join(dir, "expat.yaml")
	keys := []string{"--keyring", two.Keyrings[0], "--keyring", two.Keyrings[1]}

	code, _, stderr := runMain(t, cache, append([]string{"infer", deb, "--debian-mirror", two.Mirror.URL, "--debian-security-mirror", two.SecurityBase, "-o", recipe}, keys...)...)
	if code != 0 {
		t.Fatalf("infer: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"bookworm-security's of " + two.SecurityBase + " lists its .dsc", "5 packages of bookworm and bookworm-security as they are today (1 from bookworm-security)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("infer's findings do not say %q:\n%s", want, stderr)
		}
	}
	inferred := load(t, recipe)
	if l := inferred.Image.Debian.Lock; len(l.Also) != 1 || l.Also[0].Archive != two.SecurityBase {
		t.Fatalf("inferred lock: %+v", l)
	}

	// Relocked as it is: the same lock, so the same digest.
	code, stdout, stderr := runMain(t, cache, append([]string{"lock", recipe, "--debian-mirror", two.Mirror.URL}, keys...)...)
	if code != 0 {
		t.Fatalf("lock: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "1 of them from bookworm-security bookworm-security of "+two.SecurityBase) {
		t.Errorf("lock says:\n%s", stdout)
	}
	d0, _ := inferred.Digest()
	if d1, _ := load(t, recipe).Digest(); d0 != d1 {
		t.Errorf("relocking an unchanged archive changed the recipe's digest: %s, then %s", d0, d1)
	}

	// A recipe not locked yet whose .dsc is in the security archive's
	// pool is locked over both suites too.
	fresh := filepath.Join(dir, "fresh.yaml")
	os.WriteFile(fresh, []byte("schema: 1\nname: libexpat1\nversion: 2.5.0-1+deb12u5\nsource:\n  dsc:\n    url: "+inferred.Source.DSC.URL+"\n    digest: "+inferred.Source.DSC.Digest.String()+
		"\nimage:\n  debian:\n    suite: bookworm\n    variant: buildd\n    packages: [fakeroot]\nsteps:\n  - shell: dpkg-buildpackage -b\noutputs:\n  - path: x.deb\n"), 0o644)
	if code, stdout, stderr := runMain(t, cache, append([]string{"lock", fresh, "--debian-mirror", two.Mirror.URL, "--debian-security-mirror", two.SecurityBase}, keys...)...); code != 0 {
		t.Fatalf("lock a fresh recipe: exit %d\n%s%s", code, stdout, stderr)
	}
	if diff := cmp.Diff(inferred.Image.Debian.Lock, load(t, fresh).Image.Debian.Lock); diff != "" {
		t.Errorf("a fresh recipe's lock (-inferred +locked):\n%s", diff)
	}

	// The security archive moves on: a newer libc6.
	sec := two.Security
	sec.Packages = append([]debtest.Package{{Name: "libc6", Version: "2.36-9+deb12u14", Arch: "amd64", Fields: []string{"Priority: required"}}}, sec.Packages[1:]...)
	two.SecurityMirror.Set(archivetest.Under("debian-security", sec.Files(t, two.SecurityKey)))
	if code, stdout, stderr := runMain(t, cache, append([]string{"lock", recipe, "--debian-mirror", two.Mirror.URL}, keys...)...); code != 0 {
		t.Fatalf("lock: exit %d\n%s%s", code, stdout, stderr)
	}
	var libc string
	for _, p := range load(t, recipe).Image.Debian.Lock.Packages {
		if p.Name == "libc6" {
			libc = p.Version + " " + p.From
		}
	}
	if libc != "2.36-9+deb12u14 bookworm-security" {
		t.Errorf("relocked libc6 = %q", libc)
	}

	// Signed by a key the keyrings lack: refused, the file untouched.
	before, _ := os.ReadFile(recipe)
	two.SecurityMirror.Set(archivetest.Under("debian-security", sec.Files(t, archivetest.NewKey(t, "intruder"))))
	code, _, stderr = runMain(t, cache, append([]string{"lock", recipe, "--debian-mirror", two.Mirror.URL}, keys...)...)
	if code != 1 || !strings.Contains(stderr, two.SecurityBase+"/dists/bookworm-security/InRelease: the OpenPGP signature does not verify") {
		t.Errorf("lock against a security Release signed by another key: exit %d\n%s", code, stderr)
	}
	if after, _ := os.ReadFile(recipe); !bytes.Equal(before, after) {
		t.Error("the refused lock changed the recipe")
	}
}

func load(t *testing.T, path string) *recipes.Recipe {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := recipes.Parse(path, b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return r
}
