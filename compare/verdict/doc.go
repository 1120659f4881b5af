// Package verdict is the vocabulary of a comparison that the verifier needs
// without the parsers: the verdict words, the kinds of difference, and the
// registry of named normalizers (which kinds each may accept).
//
// It imports nothing of reprove, so attest and the customer's verifier can
// use it without pulling in the archive, compression and executable readers
// of package compare.
package verdict
