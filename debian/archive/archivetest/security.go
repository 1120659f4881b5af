package archivetest

import (
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/reprove/reprove/debian/debfile/debtest"
)

// TwoArchives is a stable suite and its security suite as Debian serves
// them: bookworm on one mirror, bookworm-security on another under
// /debian-security (its pool pool/updates/main), each signed by its own
// key. A security update, libexpat1 2.5.0-1+deb12u5, is only in
// security, as is its source package and the newer libc6 its
// Build-Depends need; bookworm holds expat 2.5.0-1+deb12u1.
type TwoArchives struct {
	Base, Security Suite
	// Mirror serves Base; SecurityMirror serves Security under
	// /debian-security, whose URL is SecurityBase.
	Mirror, SecurityMirror *Mirror
	SecurityBase           string
	// BaseKey signs Base, SecurityKey Security; Keyrings are their
	// public keys' files.
	BaseKey, SecurityKey *openpgp.Entity
	Keyrings             []string
	// Update is the security update's binary package.
	Update debtest.Package
}

func fixturePkg(name, version, arch string, fields ...string) debtest.Package {
	return debtest.Package{Name: name, Version: version, Arch: arch, Fields: fields, Files: map[string]string{"usr/share/doc/" + name + "/copyright": name}}
}

// NewTwoArchives serves the two archives (closed when the test ends).
func NewTwoArchives(t testing.TB) *TwoArchives {
	t.Helper()
	a := &TwoArchives{BaseKey: NewKey(t, "debian"), SecurityKey: NewKey(t, "security")}
	a.Keyrings = []string{Keyring(t, a.BaseKey), Keyring(t, a.SecurityKey)}
	a.Update = fixturePkg("libexpat1", "2.5.0-1+deb12u5", "amd64", "Source: expat")
	files := map[string][]byte{"expat_2.5.0.orig.tar.xz": []byte("upstream")}
	a.Base = Suite{Name: "bookworm", Arch: "amd64", Date: time.Date(2026, 7, 11, 10, 0, 0, 0, time.UTC),
		Packages: []debtest.Package{
			fixturePkg("base-files", "12.4", "amd64", "Essential: yes", "Priority: required"),
			fixturePkg("libc6", "2.36-9+deb12u10", "amd64", "Priority: required"),
			fixturePkg("apt", "2.6.1", "amd64"), fixturePkg("build-essential", "12.9", "amd64"), fixturePkg("fakeroot", "1.31-1.2", "amd64"),
			fixturePkg("libexpat1", "2.5.0-1+deb12u1", "amd64", "Source: expat"),
		},
		Sources: []Source{{Name: "expat", Version: "2.5.0-1+deb12u1", BuildDepends: "libc6", Files: files}}}
	a.Security = Suite{Name: "bookworm-security", Arch: "amd64", Pool: "pool/updates/main", Date: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
		Packages: []debtest.Package{fixturePkg("libc6", "2.36-9+deb12u13", "amd64", "Priority: required"), a.Update},
		Sources:  []Source{{Name: "expat", Version: "2.5.0-1+deb12u5", BuildDepends: "libc6 (>= 2.36-9+deb12u13)", Files: files}}}
	a.Mirror = NewMirror(t, a.BaseFiles(t))
	a.SecurityMirror = NewMirror(t, Under("debian-security", a.SecurityFiles(t)))
	a.SecurityBase = a.SecurityMirror.URL + "/debian-security"
	return a
}

// BaseFiles are Base's files as its mirror serves them.
func (a *TwoArchives) BaseFiles(t testing.TB) map[string][]byte { return a.Base.Files(t, a.BaseKey) }

// SecurityFiles are Security's files, below the archive's base.
func (a *TwoArchives) SecurityFiles(t testing.TB) map[string][]byte {
	return a.Security.Files(t, a.SecurityKey)
}
