// Package attest makes and checks the attestations that chain
// code review → rebuild → shipped artifact.
//
// Three in-toto v1 statements, each signed into a DSSE envelope with a
// cosign-format key (attest/keys, attest/envelope):
//
//   - review (ReviewStatement, predicate ReviewPredicateType): a reviewer's
//     verdict on source identified by digest. REVIEW.md documents it.
//   - rebuild (RebuildStatement): SLSA Provenance v1 with reprove's BuildType:
//     recipe, resolved inputs, builder, outputs.
//   - verification summary (SummaryStatement, SummaryPredicateType): the
//     shipped artifact's digest, the compare verdict with its normalizers,
//     and the payload digests of the rebuild and review statements it rests
//     on. FORMATS.md documents the rebuild and summary formats.
//
// Verify (the customer's side) checks a file against attestations under a
// policy (attest/policy) and returns a Result: a failed verification is a
// result with reasons, never an error. It fails closed: no attestation, an
// unreadable one, unknown fields, an expired policy or key, weak digests or a
// chain that does not close all give "not verified".
//
// The package never prints; Verify reports progress through a callback.
package attest
