// Package compare decides whether a rebuilt artifact matches a shipped one and
// explains every difference.
//
// Verdicts are exact words: identical (equal digests), equivalent (equal only
// after normalizers the user named, which the verdict lists), different.
package compare
