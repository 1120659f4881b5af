// Package attest makes and checks the attestations that chain
// code review → rebuild → shipped artifact.
//
// Three in-toto v1 statements, each signed into a DSSE envelope with a
// cosign-format key (attest/signing signs, attest/keys and attest/envelope
// check):
//
//   - review (ReviewStatement, predicate ReviewPredicateType): a reviewer's
//     verdict on source identified by digest. REVIEW.md documents it.
//   - rebuild (RebuildStatement): SLSA Provenance v1 with reprove's BuildType:
//     recipe, resolved inputs, builder, outputs.
//   - verification summary (Summarize, SignSummary): a SLSA VSA v1
//     (VSAPredicateType) about the shipped artifact citing, by payload
//     digest, the rebuild, the reviews and a companion comparison
//     (ComparisonPredicateType) that holds the verdict, its normalizers and
//     the compare report's digest. reprove's earlier summary
//     (SummaryPredicateType) is still read. FORMATS.md documents them.
//
// Attestations are read as DSSE envelopes, JSON Lines, Sigstore bundles
// (attest/sigbundle) and log bundles (attest/logproof); WriteSigned writes
// an envelope or a Sigstore bundle.
//
// Verify (the customer's side) checks a file against attestations under a
// policy (attest/policy), in the phases of the evaluator (evaluate.go), and
// returns a Result: a failed verification is a
// result with reasons, never an error. It fails closed: no attestation, an
// unreadable one, unknown fields, an expired policy or key, weak digests or a
// chain that does not close all give "not verified".
//
// Verify takes documents, not paths: Files reads them from disk, Bytes and
// LogBundle from memory (a bundle fetched from a centre), one at a time.
//
// The verifier (this package, attest/policy, attest/keys, attest/envelope,
// attest/sigbundle, attest/logproof) stands on nine modules and needs
// neither cosign nor sigstore-go; depcheck_test.go pins that. Private keys
// are attest/signing's, which the verifier never imports: attest signs
// through the Signer interface.
//
// The package never prints; Verify reports progress through a callback.
package attest
