// Package debian is reprove's Debian archive client, in parts others can
// import one by one:
//
//   - deb822 parses the archive's control-file formats (Packages and
//     Sources paragraphs, .dsc, .buildinfo, a .deb's control file),
//     bounded and strict, for untrusted input;
//   - archive fetches a suite's InRelease, verifies its OpenPGP signature
//     against the Debian archive keyring, and fetches the Packages and
//     Sources indexes it signs, each checked against its SHA-256;
//   - resolve turns a request (a variant such as minbase or buildd, more
//     packages, a source package's Build-Depends) into the exact set of
//     binary packages that satisfies it, from one signed index;
//   - lock writes that set as a recipe's lock.
//
// Nothing here builds or runs anything: the builder installs what a lock
// names, and the archive client only reads the archive.
package debian
