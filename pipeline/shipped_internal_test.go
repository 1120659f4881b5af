package pipeline

import "testing"

// A .deb's job names a suite and its archive; one of a security suite is
// inferred as a security update, over the suite on the mirror and the
// security suite on the job's archive.
func TestDebSuites(t *testing.T) {
	for _, tc := range []struct {
		req                   DebRequest
		mirror                string
		suite, base, security string
	}{
		{DebRequest{Suite: "bookworm"}, "", "bookworm", "", "http://deb.debian.org/debian-security"},
		{DebRequest{Suite: "bookworm-updates", Mirror: "http://m/debian"}, "http://local/debian", "bookworm-updates", "http://m/debian", "http://deb.debian.org/debian-security"},
		{DebRequest{Suite: "bookworm-security", Mirror: "http://m/debian-security"}, "http://local/debian", "bookworm", "http://local/debian", "http://m/debian-security"},
		{DebRequest{Suite: "trixie-security"}, "", "trixie", "", "http://deb.debian.org/debian-security"},
	} {
		suite, base, security := debSuites(tc.req, tc.mirror)
		if suite != tc.suite || base != tc.base || security != tc.security {
			t.Errorf("%+v: %s %s %s, want %s %s %s", tc.req, suite, base, security, tc.suite, tc.base, tc.security)
		}
	}
}
