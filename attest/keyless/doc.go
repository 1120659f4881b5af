// Package keyless checks Sigstore's keyless signatures offline: a DSSE
// envelope signed with the key of a short-lived certificate that a
// certificate authority (Fulcio) issued to an OIDC identity (a person's
// email address, a GitHub Actions workflow), whose signing a transparency
// log (Rekor) recorded or a timestamp authority stamped. It is the part
// of the customer's verifier that lets a trust policy name identities
// beside keys (attest/policy): npm provenance, `gh attestation`,
// `cosign attest-blob` without a key all sign this way.
//
// What to trust comes from a Sigstore trusted root (trusted_root.json:
// the authorities, logs and timestamp authorities, each with a validity
// period), read by ParseTrustedRoot. Verify checks a bundle against it
// and returns the signer's Claim (certificate subject and OIDC issuer)
// with the times the signature is proven to have existed at; an Identity
// of a policy Matches a claim. Nothing is fetched: no TUF, no Rekor
// client, no network.
//
// The verifier stays light, standing on the standard library for X.509
// chains and signatures, golang.org/x/mod's tlog and note for Merkle
// proofs and checkpoints (as attest/logproof), the Sigstore
// specification's own protobuf types for bundles and trusted roots,
// RFC 8785 JSON for signed entry timestamps, and
// github.com/digitorus/timestamp (with its pkcs7) for RFC 3161 tokens.
// Signed certificate timestamps are checked by hand (sct.go says why).
// Neither sigstore-go nor cosign is imported; the tests check the same
// files with both.
//
// What it reads: Rekor v1 entries of kind intoto 0.0.2 and dsse 0.0.1
// (what cosign, npm and GitHub log a DSSE envelope as), with a signed
// entry timestamp, an inclusion proof and checkpoint, or both; RFC 3161
// timestamps. Rekor v2 entries are refused for now.
package keyless
