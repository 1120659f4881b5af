package lock_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/debian/archive/archivetest"
	"github.com/reprove/reprove/debian/debfile/debtest"
	"github.com/reprove/reprove/debian/lock"
	"github.com/reprove/reprove/debian/resolve"
)

func pkg(name, version, arch string, fields ...string) debtest.Package {
	return debtest.Package{Name: name, Version: version, Arch: arch, Fields: fields, Files: map[string]string{"usr/share/doc/" + name + "/x": name}}
}

// base and security are a stable suite and its security suite, as
// Debian's two archives serve them.
var (
	base = archivetest.Suite{Name: "bookworm", Arch: "amd64", Date: time.Date(2026, 7, 11, 10, 0, 0, 0, time.UTC), Packages: []debtest.Package{
		pkg("base-files", "12.4", "amd64", "Essential: yes", "Priority: required", "Depends: libc6"),
		pkg("libc6", "2.36-9+deb12u10", "amd64", "Priority: required"),
		pkg("libfoo", "1.0-1", "all"),
		pkg("tool", "2.0-1", "amd64", "Depends: libc6 (>= 2.36-9+deb12u12), libfoo (>= 1.0)"),
		pkg("wants-new", "1", "all", "Depends: newpkg"),
	}}
	security = archivetest.Suite{Name: "bookworm-security", Arch: "amd64", Pool: "pool/updates/main", Date: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), Packages: []debtest.Package{
		pkg("libc6", "2.36-9+deb12u12", "amd64", "Priority: required"),
		pkg("libfoo", "1.0~rc1-1", "all"),
		pkg("newpkg", "1.0-1+deb12u1", "all"),
	}}
)

// twoArchives serves base on one mirror and security under
// /debian-security on another, each signed by its own key; both keys
// are in the keyring.
func twoArchives(t *testing.T) (c *archive.Client, secBase string, sec *archivetest.Mirror) {
	kb, ks := archivetest.NewKey(t, "debian"), archivetest.NewKey(t, "security")
	m := archivetest.NewMirror(t, base.Files(t, kb))
	sec = archivetest.NewMirror(t, archivetest.Under("debian-security", security.Files(t, ks)))
	kr, err := archive.LoadKeyring(archivetest.Keyring(t, kb), archivetest.Keyring(t, ks))
	if err != nil {
		t.Fatal(err)
	}
	return &archive.Client{Base: m.URL, Keyring: kr}, sec.URL + "/debian-security", sec
}

// Resolving over a suite and its security suite takes, for each name,
// the highest version of the two, and records where each file is from.
func TestResolveTwoSuites(t *testing.T) {
	c, secBase, _ := twoArchives(t)
	ctx := context.Background()
	ix, err := lock.Fetch(ctx, c, "bookworm", "amd64", lock.Security(c, secBase, "bookworm"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		req  lock.Request
		// want is "name version from" per package.
		want []string
	}{
		{"a security update overrides the suite's version", lock.Request{Variant: resolve.Essential},
			[]string{"base-files 12.4 ", "libc6 2.36-9+deb12u12 bookworm-security"}},
		{"a lower version in security: the suite's wins", lock.Request{Variant: resolve.Extract, Packages: []string{"libfoo"}},
			[]string{"libfoo 1.0-1 "}},
		{"a package only in security, arch all", lock.Request{Variant: resolve.Extract, Packages: []string{"newpkg"}},
			[]string{"newpkg 1.0-1+deb12u1 bookworm-security"}},
		{"a dependency only security satisfies", lock.Request{Variant: resolve.Essential, Packages: []string{"tool", "wants-new"}},
			[]string{"base-files 12.4 ", "libc6 2.36-9+deb12u12 bookworm-security", "libfoo 1.0-1 ", "newpkg 1.0-1+deb12u1 bookworm-security", "tool 2.0-1 ", "wants-new 1 "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := ix.Resolve(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range l.Packages {
				got = append(got, p.Name+" "+p.Version+" "+p.From)
				if o := l.Origin(p); (o != nil) != (p.From != "") {
					t.Errorf("%s: from %q, origin %v", p.Name, p.From, o)
				}
				if p.From != "" && !strings.HasPrefix(p.Path, "pool/updates/main/") {
					t.Errorf("%s: path %s is not the security archive's", p.Name, p.Path)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if len(l.Also) != 1 || l.Also[0].Archive != secBase || l.Also[0].Codename != "bookworm-security" || l.Also[0].Digest == "" || l.Also[0].Date != "2026-12-01T09:00:00Z" {
				t.Errorf("also = %+v", l.Also)
			}
			if l.Release.Codename != "bookworm" {
				t.Errorf("release = %+v", l.Release)
			}
		})
	}

	// The suite alone cannot give what needs the update.
	one, err := lock.Fetch(ctx, c, "bookworm", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	var ue *resolve.UnsatisfiableError
	if _, err := one.Resolve(lock.Request{Variant: resolve.Extract, Packages: []string{"newpkg"}}); !errors.As(err, &ue) {
		t.Errorf("newpkg from bookworm alone: %v", err)
	}
	l, err := one.Resolve(lock.Request{Variant: resolve.Essential})
	if err != nil {
		t.Fatal(err)
	}
	if l.Also != nil || l.Packages[1].From != "" || l.Packages[1].Version != "2.36-9+deb12u10" {
		t.Errorf("a one-suite lock: %+v", l)
	}
}

// A security index that is not what its signed Release lists, or a
// security Release no key of the keyring signed, is refused, naming the
// security archive.
func TestSecurityTamperingRefused(t *testing.T) {
	ctx := context.Background()
	t.Run("index", func(t *testing.T) {
		c, secBase, sec := twoArchives(t)
		p := "debian-security/dists/bookworm-security/main/binary-amd64/Packages.gz"
		sec.Put(p, append(security.Files(t, archivetest.NewKey(t, "x"))["dists/bookworm-security/main/binary-amd64/Packages.gz"], 0))
		_, err := lock.Fetch(ctx, c, "bookworm", "amd64", lock.Security(c, secBase, "bookworm"))
		var ie *archive.IndexError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), secBase) {
			t.Errorf("a tampered security index: %v, want an IndexError naming %s", err, secBase)
		}
	})
	t.Run("key", func(t *testing.T) {
		c, secBase, sec := twoArchives(t)
		sec.Set(archivetest.Under("debian-security", security.Files(t, archivetest.NewKey(t, "intruder"))))
		_, err := lock.Fetch(ctx, c, "bookworm", "amd64", lock.Security(c, secBase, "bookworm"))
		var se *archive.SignatureError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), secBase+"/dists/bookworm-security/InRelease") {
			t.Errorf("a security Release signed by another key: %v, want a SignatureError naming it", err)
		}
	})
}
