package attest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/keys"
	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/attest/policy"
	"github.com/reprove/reprove/compare/verdict"
)

// node is one statement of the graph with the roles in which the policy
// trusts those who validly signed it, merged over all envelopes that
// carry it.
type node struct {
	*Node
	reviewers  map[digest.Digest]bool // trusted, unexpired reviewers (party IDs: key fingerprints, identity IDs)
	rebuilders map[digest.Digest]bool // trusted, unexpired rebuilders
	builders   map[digest.Digest]bool // trusted, unexpired builders
}

func newNode() *node {
	return &node{reviewers: map[digest.Digest]bool{}, rebuilders: map[digest.Digest]bool{}, builders: map[digest.Digest]bool{}}
}

// say is what one trusted rebuilder key said in one summary, with the
// chain behind it when the chain closed.
type say struct {
	summary digest.Digest // the summary's payload digest
	outcome RebuilderResult
	prov    *ProvenanceInfo
	reviews []*Node
}

// evaluator holds one verification while it runs through its phases:
//
//  1. indexSigners: every document parsed and its trusted signers found;
//  2. gatherSummaries: each summary about the file, per rebuilder key that
//     signed it, followed along its chain;
//  3. reduce: each rebuilder key reduced to one outcome;
//  4. checkIdentities: the agreeing rebuilds say the same program, version
//     and source;
//  5. countReviews: the reviews the agreeing summaries rest on (and
//     findings anywhere) counted per reviewer key;
//  6. decide: verified only when every phase passed, failing closed.
//
// Each phase adds reasons (which fail the verification) or notes to res.
type evaluator struct {
	ctx         context.Context
	pol         *policy.Policy
	now         time.Time
	fileDigests DigestSet
	fileSHA     digest.Digest
	res         *Result

	verifierList []*keys.Verifier
	// bundles caches each log bundle's checks: its checked checkpoint, or
	// nil when the bundle failed them (and the reason was given).
	bundles map[*logproof.Bundle]*logproof.Checked

	// g holds the statements (the contents only of those with a trusted,
	// unexpired signer, whose party IDs are its signers) and follows their
	// chains; nodes adds, by payload digest, the roles they signed in.
	g     *Graph
	nodes map[digest.Digest]*node

	// held, under a policy that names a log, evaluates the envelopes that
	// came with no proof of being in it: they cannot make a file
	// verified, but what trusted keys signed in them can still say that
	// it is not (heldDissent).
	held *evaluator
}

// subjectAlgorithms lists the digest algorithms that subjects of the
// summaries and comparisons trusted rebuilders signed carry and the file's
// digests lack, so that Verify can compute them before the summaries are
// matched with the file.
func (e *evaluator) subjectAlgorithms() []string {
	seen := map[string]bool{}
	var out []string
	for _, gn := range e.g.Nodes() {
		n := e.nodes[gn.Digest]
		switch n.Statement.PredicateType {
		case SummaryPredicateType, VSAPredicateType, ComparisonPredicateType:
			if len(n.rebuilders) == 0 {
				continue
			}
		case ProvenancePredicateType:
			if len(n.builders) == 0 {
				continue // a builder's provenance may name the file by sha512 (npm)
			}
		default:
			continue
		}
		for _, s := range n.Statement.Subject {
			for alg := range s.Digest {
				if _, ok := e.fileDigests[alg]; !ok && !seen[alg] {
					seen[alg] = true
					out = append(out, alg)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// finish runs the phases after indexing, for ndocs documents read.
func (e *evaluator) finish(ndocs int) *Result {
	e.res.Attestations = ndocs
	e.checkPolicy(ndocs)
	perKey := e.gatherSummaries()
	agreeing := e.reduce(perKey)
	e.checkIdentities(agreeing)
	approvers := e.countReviews(agreeing)
	e.builderClaims()
	e.heldDissent()
	e.decide(agreeing, approvers)
	return e.res
}

func newEvaluator(ctx context.Context, t *Target, pol *policy.Policy, now time.Time) (*evaluator, error) {
	fileSHA, ok := t.Digests.Digest(digest.SHA256)
	if !ok {
		return nil, fmt.Errorf("verify: file digests lack sha256")
	}
	// policy.Parse guarantees these; a Policy built another way must too.
	if pol == nil || pol.Rebuilders.Threshold < 1 || pol.Rebuilders.Threshold > pol.Rebuilders.Len() ||
		!pol.ReviewsOptional && (pol.Reviewers.Threshold < 1 || pol.Reviewers.Threshold > pol.Reviewers.Len()) {
		return nil, fmt.Errorf("verify: the policy needs thresholds of at least 1 and at most its number of keys and identities")
	}
	if pol.HasIdentities() && pol.TrustedRoot == nil {
		return nil, fmt.Errorf("verify: the policy trusts identities but has no trusted root")
	}
	if !pol.AllowSelfReview {
		for _, k := range pol.Rebuilders.Keys {
			if _, ok := pol.Reviewers.Lookup(k.Fingerprint); ok {
				return nil, fmt.Errorf("verify: the policy trusts key %s both as a reviewer and as a rebuilder without selfReview: allow", k.Fingerprint)
			}
		}
		for _, i := range pol.Rebuilders.Identities {
			if _, ok := pol.Reviewers.Party(i.ID()); ok {
				return nil, fmt.Errorf("verify: the policy trusts %s both as a reviewer and as a rebuilder without selfReview: allow", i.Identity)
			}
		}
	}
	return &evaluator{
		ctx: ctx, pol: pol, now: now, fileDigests: t.Digests, fileSHA: fileSHA,
		g:       NewGraph(t.Digests, now),
		nodes:   map[digest.Digest]*node{},
		bundles: map[*logproof.Bundle]*logproof.Checked{},
		res: &Result{
			SchemaVersion:      ResultSchemaVersion,
			File:               t.Path,
			Digest:             fileSHA,
			RebuilderThreshold: pol.Rebuilders.Threshold,
			TrustedRebuilders:  pol.Rebuilders.Len(),
			ReviewerThreshold:  pol.Reviewers.Threshold,
			TrustedReviewers:   pol.Reviewers.Len(),
			TrustedBuilders:    pol.Builders.Len(),
			BuildersRequired:   pol.BuildersRequired,
			ReviewsRequired:    !pol.ReviewsOptional,
			Log:                logName(pol),
			Policy:             pol.Digest,
			CheckedAt:          now.UTC(),
			Rebuilders:         []RebuilderResult{},
			Reviewers:          []ReviewerResult{},
		},
	}, nil
}

func (e *evaluator) reason(format string, a ...any) {
	e.res.Reasons = append(e.res.Reasons, fmt.Sprintf(format, a...))
}

func (e *evaluator) note(format string, a ...any) {
	e.res.Notes = append(e.res.Notes, fmt.Sprintf(format, a...))
}

// checkPolicy refuses an expired policy and an empty set of attestations.
func (e *evaluator) checkPolicy(ndocs int) {
	if !e.pol.Expires.IsZero() && e.now.After(e.pol.Expires) {
		e.reason("the policy expired on %s", e.pol.Expires.Format(time.RFC3339))
	}
	if ndocs == 0 {
		e.reason("no attestations were given")
	}
}

// verifiers is every key the policy trusts, once each.
func (e *evaluator) verifiers() []*keys.Verifier {
	var out []*keys.Verifier
	seen := map[digest.Digest]bool{}
	for _, k := range append(append([]policy.Key(nil), e.pol.Reviewers.Keys...), e.pol.Rebuilders.Keys...) {
		if !seen[k.Fingerprint] {
			seen[k.Fingerprint] = true
			out = append(out, k.Verifier)
		}
	}
	return out
}

// index is phase 1 for one document: it parses it, checks its signatures
// against every trusted key, and merges envelopes of the same statement
// into one node. A document that does not parse is a reason; one signed by
// no trusted key is a note. Only the parsed statement of a trusted document
// is kept.
func (e *evaluator) index(d Document) error {
	if d.Err != nil {
		e.reason("attestation %s: %v", d.Source, d.Err)
		return nil
	}
	if e.pol.Log != nil {
		if d.Log == nil {
			e.note("attestation %s comes with no inclusion proof in the log %s; not counted", d.Source, e.pol.Log.Name())
			return e.heldEvaluator().index(d)
		}
		if !e.logged(d) {
			return nil
		}
	}
	signers, err := e.signersOf(d)
	if err != nil {
		return err
	}
	if len(signers) == 0 {
		// Ignored: read only its type, for the note, and not strictly.
		var t struct {
			PredicateType string `json:"predicateType"`
		}
		json.Unmarshal(d.Envelope.Payload, &t)
		e.untrustedNote(d, t.PredicateType)
		e.add(d.Source, d.Envelope.PayloadDigest(), &Statement{PredicateType: t.PredicateType}, nil)
		return nil
	}
	st, err := ParseStatement(d.Envelope.Payload)
	if err != nil {
		e.reason("attestation %s: %v", d.Source, err)
		return nil
	}
	pd := d.Envelope.PayloadDigest()
	n := e.nodes[pd]
	if n == nil {
		n = newNode()
	}
	accepted, trusted := e.addSigners(n, d.Source, signers)
	if !trusted {
		e.untrustedNote(d, st.PredicateType)
	}
	// Untrusted so far (no accepted signer): the graph keeps only its
	// type, for the messages of a chain that cites it, and not its
	// contents.
	e.nodes[pd] = n
	n.Node = e.g.Add(d.Source, pd, st, accepted)
	return nil
}

// add records a statement signed by nobody the policy trusts.
func (e *evaluator) add(src string, pd digest.Digest, st *Statement, accepted []string) {
	n := e.nodes[pd]
	if n == nil {
		n = newNode()
		e.nodes[pd] = n
	}
	n.Node = e.g.Add(src, pd, st, accepted)
}

// logged decides, under a policy that names a log, whether document d
// counts: it must come in a log bundle whose checkpoint the log signed,
// whose signed artifact index shows that it holds every entry the log has
// for the file, and with an inclusion proof of its own envelope to that
// checkpoint. A bundle or proof that fails is a reason (someone tampered
// with what the log said, or hides an entry); an envelope outside any
// bundle is only not counted, with a note.
func (e *evaluator) logged(d Document) bool {
	cp, checked := e.bundles[d.Log.Bundle]
	if !checked {
		cp = e.checkBundle(d.Log)
		e.bundles[d.Log.Bundle] = cp
	}
	if cp == nil {
		return false
	}
	if d.Err != nil {
		return true // reported by index
	}
	sigs := make([]logproof.Signature, len(d.Envelope.Signatures))
	for i, s := range d.Envelope.Signatures {
		sigs[i] = logproof.Signature{KeyID: s.KeyID, Sig: s.Sig}
	}
	leaf, err := logproof.EnvelopeLeaf(d.Envelope.PayloadType, d.Envelope.Payload, sigs)
	if err == nil {
		err = d.Log.Entry.VerifyEntry(leaf, cp.Checkpoint)
	}
	if err != nil {
		e.reason("attestation %s: not in the log %s as its bundle claims: %v", d.Source, e.pol.Log.Name(), err)
		return false
	}
	return true
}

// checkBundle checks a log bundle once, through the policy's log section
// (attest/logproof): its checkpoint's signature by the log, the witnesses'
// cosignatures the policy requires, and its completeness for the file.
func (e *evaluator) checkBundle(l *LogEntry) *logproof.Checked {
	// A bundle may hold only the entries of keys the policy trusts (a
	// centre's answer for an artifact crowded by others): whole for us
	// when its index covers every key we trust.
	cp, err := e.pol.Log.CheckBundleFor(l.Bundle, e.fileSHA, e.trustedKeys(), e.now)
	if err != nil {
		e.reason("%s: %v", l.BundleSource, err)
		return nil
	}
	return cp
}

// checkedBundles are the log bundles that passed their checks, in no
// particular order, for the freshness check (VerifyOptions.LogState).
func (e *evaluator) checkedBundles() []*logproof.Checked {
	var out []*logproof.Checked
	for _, cp := range e.bundles {
		if cp != nil {
			out = append(out, cp)
		}
	}
	return out
}

// trustedKeys is the fingerprint of every key the policy trusts.
func (e *evaluator) trustedKeys() []digest.Digest {
	var out []digest.Digest
	for _, v := range e.verifiers() {
		out = append(out, v.Fingerprint)
	}
	return out
}

// addSigners records on n each signer that the policy trusts in a role and
// whose key has not expired, and returns them (as the graph's signers); it
// reports whether any signer was trusted.
func (e *evaluator) addSigners(n *node, src string, signers []digest.Digest) (accepted []string, trusted bool) {
	for _, fp := range signers {
		for _, role := range []struct {
			r   policy.Role
			set map[digest.Digest]bool
		}{{e.pol.Reviewers, n.reviewers}, {e.pol.Rebuilders, n.rebuilders}, {e.pol.Builders, n.builders}} {
			k, ok := role.r.Party(fp)
			if !ok {
				continue
			}
			trusted = true
			if !k.Expires.IsZero() && e.now.After(k.Expires) {
				what := "key"
				if k.Identity != nil {
					what = "identity"
				}
				e.reason("attestation %s: the signature by %s has expired (the policy trusts that %s until %s)", src, k.Name, what, k.Expires.Format(time.RFC3339))
				continue
			}
			role.set[fp] = true
			accepted = append(accepted, fp.String())
		}
	}
	return accepted, trusted
}

// gatherSummaries is phase 2: for each summary about the file signed by a
// trusted rebuilder, what each signing rebuilder key says, with the chain
// (Graph.Follow) checked for that key.
func (e *evaluator) gatherSummaries() map[digest.Digest][]say {
	perKey := map[digest.Digest][]say{}
	for _, gn := range e.g.Nodes() {
		n := e.nodes[gn.Digest]
		if !gn.IsSummary() || len(n.rebuilders) == 0 {
			continue
		}
		if !e.g.About(gn) {
			e.note("attestation %s is a verification summary for another file (%s); not counted", gn.Source, subjectNames(gn.Statement.Subject))
			continue
		}
		ch := e.g.Follow(gn)
		for _, fp := range sortedKeys(n.rebuilders) {
			k, _ := e.pol.Rebuilders.Party(fp)
			sy := e.judge(ch, RebuilderResult{Name: k.Name, Key: fp, Identity: identityRef(k)})
			sy.summary = gn.Digest
			perKey[fp] = append(perKey[fp], sy)
		}
	}
	return perKey
}

// judge decides what one summary's chain says for the rebuilder key in
// rr.
func (e *evaluator) judge(ch *Chain, rr RebuilderResult) say {
	if ch.claimed && !e.comparisonUntrusted(ch) {
		rr.Verdict, rr.Normalizers = ch.Verdict, ch.Normalizers
	}
	if err := e.closes(ch, rr.Key); err != nil {
		rr.Outcome, rr.Detail = Broken, err.Error()
		return say{outcome: rr}
	}
	switch ch.Verdict {
	case verdict.Different:
		rr.Outcome = Disagrees
	case verdict.Equivalent:
		if ok, bad := e.pol.Allows(ch.Normalizers); !ok {
			rr.Outcome, rr.Detail = NotAccepted, "equivalent only under normalizers the policy does not allow: "+strings.Join(bad, ", ")
		} else {
			rr.Outcome = Agrees
		}
	default:
		rr.Outcome = Agrees
	}
	rr.BuilderID = ch.Provenance.BuilderID
	return say{outcome: rr, prov: ch.Provenance, reviews: ch.Reviews}
}

// comparisonUntrusted reports whether a VSA's comparison is signed by no
// trusted rebuilder (the VSA's claim is then not read).
func (e *evaluator) comparisonUntrusted(ch *Chain) bool {
	return ch.Summary != nil && ch.Comparison != nil && len(e.nodes[ch.Comparison.Digest].rebuilders) == 0
}

// closes checks a chain for the rebuilder key fp: the comparison and the
// rebuild are signed by fp as a trusted rebuilder (a rebuilder vouches for
// its own rebuild, not for another's), each review by a trusted reviewer,
// and the chain closes (Graph.Follow).
func (e *evaluator) closes(ch *Chain, fp digest.Digest) error {
	src := ch.Head().Source
	if e.comparisonUntrusted(ch) {
		return fmt.Errorf("%s: its comparison %s is signed by no trusted rebuilder", src, ch.Comparison.Source)
	}
	if ch.Summary != nil && ch.Comparison != nil && !e.nodes[ch.Comparison.Digest].rebuilders[fp] {
		return fmt.Errorf("%s: its comparison %s is not signed by the same rebuilder key", src, ch.Comparison.Source)
	}
	if ch.Rebuild != nil && !e.nodes[ch.Rebuild.Digest].rebuilders[fp] {
		return fmt.Errorf("%s: its rebuild attestation %s is not signed by the same rebuilder key", src, ch.Rebuild.Digest)
	}
	for _, r := range ch.Reviews {
		if len(e.nodes[r.Digest].reviewers) == 0 {
			return fmt.Errorf("%s: its review attestation %s is signed by no trusted reviewer", src, r.Source)
		}
	}
	return ch.Err
}

// reduce is phase 3: one result per trusted rebuilder key, the worst of
// what it said, recorded in res.Rebuilders; it returns the agreeing ones.
func (e *evaluator) reduce(perKey map[digest.Digest][]say) []say {
	var agreeing []say
	// Reasons and notes go by the rebuilders' names, as the policy gives
	// them, not by key fingerprint (the key breaks a tie).
	worsts := make([]say, 0, len(perKey))
	for _, fp := range sortedKeys(perKey) {
		worsts = append(worsts, worstSay(perKey[fp]))
	}
	sort.SliceStable(worsts, func(i, j int) bool { return worsts[i].outcome.Name < worsts[j].outcome.Name })
	for _, worst := range worsts {
		e.res.Rebuilders = append(e.res.Rebuilders, worst.outcome)
		switch worst.outcome.Outcome {
		case Agrees:
			agreeing = append(agreeing, worst)
		case Broken:
			e.reason("trusted rebuilder %s: the chain of attestations does not close: %s", worst.outcome.Name, worst.outcome.Detail)
		case Disagrees:
			if e.pol.Dissent == policy.DissentFail {
				e.reason("trusted rebuilder %s disagrees: %s", worst.outcome.Name, worst.outcome.Verdict)
			}
		case NotAccepted:
			e.note("trusted rebuilder %s is not counted: %s", worst.outcome.Name, worst.outcome.Detail)
		}
	}
	sort.SliceStable(e.res.Rebuilders, func(i, j int) bool {
		a, b := e.res.Rebuilders[i], e.res.Rebuilders[j]
		if rank(a.Outcome) != rank(b.Outcome) {
			return rank(a.Outcome) < rank(b.Outcome)
		}
		return a.Name < b.Name
	})
	if len(e.res.Rebuilders) == 0 && e.res.Attestations > 0 {
		e.reason("no verification summary for %s signed by a trusted rebuilder", e.fileSHA)
	}
	if len(agreeing) < e.pol.Rebuilders.Threshold {
		e.reason("reproduced by %d of %d trusted rebuilders; the policy needs %d", len(agreeing), e.pol.Rebuilders.Len(), e.pol.Rebuilders.Threshold)
	}
	return agreeing
}

// worstSay is the worst of one key's says (Broken > Disagrees >
// NotAccepted > Agrees); a key that both agreed and disagreed contradicts
// itself, and the detail says so.
func worstSay(says []say) say {
	worst := says[0]
	for _, s := range says[1:] {
		if rank(s.outcome.Outcome) > rank(worst.outcome.Outcome) {
			worst = s
		}
	}
	if worst.outcome.Outcome == Agrees {
		// Every summary agrees: the reviews any of them cites count (a
		// rebuilder may sign a first summary before any review, and a
		// later one citing the reviews).
		var all []*Node
		seen := map[digest.Digest]bool{}
		for _, s := range says {
			for _, r := range s.reviews {
				if !seen[r.Digest] {
					seen[r.Digest] = true
					all = append(all, r)
				}
			}
		}
		worst.reviews = all
	}
	if worst.outcome.Outcome == Disagrees {
		for _, s := range says {
			if s.outcome.Outcome == Agrees {
				worst.outcome.Detail = "it also signed an agreeing summary: it contradicts itself"
			}
		}
	}
	return worst
}

// checkIdentities is phase 4: what the file is, and from which source. All
// agreeing rebuilds must say the same.
func (e *evaluator) checkIdentities(agreeing []say) {
	if len(agreeing) == 0 {
		return
	}
	first := agreeing[0].prov
	e.res.Name, e.res.Version = first.Recipe.Name, first.Recipe.Version
	src := first.Source
	e.res.Source = &src
	for _, a := range agreeing[1:] {
		if a.prov.Recipe.Name != first.Recipe.Name || a.prov.Recipe.Version != first.Recipe.Version {
			e.reason("trusted rebuilders disagree on what the file is: %s %s and %s %s", first.Recipe.Name, first.Recipe.Version, a.prov.Recipe.Name, a.prov.Recipe.Version)
		}
		if ok, why := matchSets(first.Source.DigestSet(), a.prov.Source.DigestSet()); !ok {
			e.reason("trusted rebuilders built from different sources (%s and %s): %s", first.Source.Name(), a.prov.Source.Name(), why)
		}
	}
}

// countReviews is phase 5: the distinct trusted reviewer keys that approved
// the source in reviews the agreeing summaries rest on. A trusted reviewer's
// findings fail the verification, referenced or not; an unreferenced
// approval is only noted (approvals count through a summary, the chain).
func (e *evaluator) countReviews(agreeing []say) map[digest.Digest]bool {
	approvers := map[digest.Digest]bool{}
	seen := map[digest.Digest]bool{}
	agreeingKeys := map[digest.Digest]bool{}
	for _, a := range agreeing {
		agreeingKeys[a.outcome.Key] = true
	}
	for _, a := range agreeing {
		for _, rn := range a.reviews {
			if seen[rn.Digest] {
				continue
			}
			seen[rn.Digest] = true
			rp, err := e.g.Review(rn)
			if err != nil {
				continue // Follow already refused it
			}
			for _, fp := range e.reviewersByName(e.nodes[rn.Digest].reviewers) {
				k, _ := e.pol.Reviewers.Party(fp)
				rr := ReviewerResult{
					Name: k.Name, Key: fp, Identity: identityRef(k), Reviewer: rp.Reviewer, Verdict: rp.Verdict, Scope: rp.Scope, ReviewedAt: rp.ReviewedAt,
				}
				if rb, ok := e.pol.Rebuilders.Party(fp); ok && agreeingKeys[fp] {
					// Only under selfReview: allow (newEvaluator refuses
					// it otherwise): counted, and said.
					rr.AlsoRebuilder = rb.Name
					e.note("one key played both roles: reviewer %s is rebuilder %s", k.Name, rb.Name)
				}
				e.res.Reviewers = append(e.res.Reviewers, rr)
				if rp.Verdict == Approved {
					approvers[fp] = true
				} else {
					e.reason("trusted reviewer %s (%s) reported findings in %s", k.Name, rp.Reviewer.Display(), rp.Source.Name())
				}
			}
		}
	}
	e.unreferencedReviews(seen)
	sort.SliceStable(e.res.Reviewers, func(i, j int) bool {
		a, b := e.res.Reviewers[i], e.res.Reviewers[j]
		if !a.ReviewedAt.Equal(b.ReviewedAt) {
			return a.ReviewedAt.Before(b.ReviewedAt)
		}
		return a.Name < b.Name
	})
	if len(agreeing) > 0 && !e.pol.ReviewsOptional && len(approvers) < e.pol.Reviewers.Threshold {
		e.reason("the source was approved by %d of %d trusted reviewers; the policy needs %d", len(approvers), e.pol.Reviewers.Len(), e.pol.Reviewers.Threshold)
	}
	return approvers
}

// unreferencedReviews looks at trusted reviews of the rebuilt source that no
// agreeing summary rests on (seen holds those that one does).
func (e *evaluator) unreferencedReviews(seen map[digest.Digest]bool) {
	if e.res.Source == nil {
		return
	}
	for _, gn := range e.g.Nodes() {
		n := e.nodes[gn.Digest]
		if seen[gn.Digest] || gn.Statement.PredicateType != ReviewPredicateType || len(n.reviewers) == 0 {
			continue
		}
		rp, err := e.g.Review(gn)
		if err != nil {
			e.reason("attestation %s: %v", gn.Source, err)
			continue
		}
		if ok, _ := matchSets(rp.Source.DigestSet(), e.res.Source.DigestSet()); !ok {
			continue
		}
		for _, fp := range e.reviewersByName(n.reviewers) {
			k, _ := e.pol.Reviewers.Party(fp)
			if rp.Verdict == Findings {
				e.reason("trusted reviewer %s (%s) reported findings in %s (%s)", k.Name, rp.Reviewer.Display(), rp.Source.Name(), gn.Source)
			} else {
				e.note("review %s by %s is not referenced by any verification summary; not counted", gn.Source, k.Name)
			}
		}
	}
}

// reviewersByName orders reviewer keys by the names the policy gives
// them (the fingerprint breaks a tie), so that reasons read in an order a
// person can follow.
func (e *evaluator) reviewersByName(m map[digest.Digest]bool) []digest.Digest {
	fps := sortedKeys(m)
	name := func(fp digest.Digest) string { k, _ := e.pol.Reviewers.Party(fp); return k.Name }
	sort.SliceStable(fps, func(i, j int) bool { return name(fps[i]) < name(fps[j]) })
	return fps
}

// heldEvaluator is e.held, made on first use: the same policy without its
// log, over its own statements.
func (e *evaluator) heldEvaluator() *evaluator {
	if e.held == nil {
		pol := *e.pol
		pol.Log = nil
		e.held = &evaluator{ctx: e.ctx, pol: &pol, now: e.now, fileDigests: e.fileDigests, fileSHA: e.fileSHA,
			verifierList: e.verifierList, g: NewGraph(e.fileDigests, e.now), nodes: map[digest.Digest]*node{}, res: &Result{}}
	}
	return e.held
}

// heldDissent is the log's exception to phase 5 and 6: under a policy that
// names a log, only logged attestations count towards a verification, but
// a trusted rebuilder's signed "different" or a trusted reviewer's
// findings that the customer holds fail it as they would were they logged
// (unless dissent: report, for a rebuilder). Dissent must not be hidden by
// keeping it out of the log, or out of the bundle a centre hands over.
// The held statements are read together with the logged ones, so that a
// dissenting summary may rest on a logged rebuild.
func (e *evaluator) heldDissent() {
	if e.held == nil {
		return
	}
	all := e.mergedWithHeld()
	perKey := all.gatherSummaries()
	for _, fp := range sortedKeys(perKey) {
		for _, s := range perKey[fp] {
			if s.outcome.Outcome != Disagrees {
				continue
			}
			if n := e.nodes[s.summary]; n != nil && n.rebuilders[fp] {
				continue // logged: counted in phase 3
			}
			src := all.nodes[s.summary].Source
			if e.pol.Dissent == policy.DissentFail {
				e.reason("trusted rebuilder %s disagrees: %s, in a signed summary the log does not hold (%s)", s.outcome.Name, s.outcome.Verdict, src)
			} else {
				e.note("trusted rebuilder %s disagrees: %s, in a signed summary the log does not hold (%s)", s.outcome.Name, s.outcome.Verdict, src)
			}
		}
	}
	if e.res.Source == nil {
		return
	}
	// Findings by a trusted reviewer of the rebuilt source, in reviews
	// that are not logged (those that are were judged in phase 5).
	seen := map[digest.Digest]bool{}
	for pd, n := range e.nodes {
		if len(n.reviewers) > 0 {
			seen[pd] = true
		}
	}
	all.res = &Result{Source: e.res.Source}
	all.unreferencedReviews(seen)
	for _, r := range all.res.Reasons {
		if strings.HasPrefix(r, "trusted reviewer ") {
			e.reason("%s, in a signed review the log does not hold", r)
		}
	}
}

// mergedWithHeld is an evaluator over the logged and the held statements
// together, each statement with the signers of both.
func (e *evaluator) mergedWithHeld() *evaluator {
	m := &evaluator{ctx: e.ctx, pol: e.held.pol, now: e.now, fileDigests: e.fileDigests, fileSHA: e.fileSHA,
		g: e.g.Merge(e.held.g), nodes: map[digest.Digest]*node{}, res: &Result{}}
	for _, g := range []*evaluator{e, e.held} {
		for pd, n := range g.nodes {
			mn := m.nodes[pd]
			if mn == nil {
				mn = newNode()
				mn.Node = m.g.Node(pd)
				m.nodes[pd] = mn
			}
			maps.Copy(mn.reviewers, n.reviewers)
			maps.Copy(mn.rebuilders, n.rebuilders)
			maps.Copy(mn.builders, n.builders)
		}
	}
	return m
}

// decide is phase 6: verified only with no reason against it and every
// threshold met, checked again here so that a phase that forgot to give a
// reason still cannot let a file through.
func (e *evaluator) decide(agreeing []say, approvers map[digest.Digest]bool) {
	r := e.res
	reviewed := e.pol.ReviewsOptional || len(approvers) >= 1 && len(approvers) >= e.pol.Reviewers.Threshold
	r.Verified = len(r.Reasons) == 0 && len(agreeing) >= 1 && len(agreeing) >= e.pol.Rebuilders.Threshold && reviewed
	if !r.Verified && len(r.Reasons) == 0 {
		e.reason("not every check passed")
	}
}

func logName(pol *policy.Policy) string {
	if pol.Log == nil {
		return ""
	}
	return pol.Log.Name()
}
