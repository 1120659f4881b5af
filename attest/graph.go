package attest

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/compare/verdict"
)

// Graph is what a set of attestations says about one file: each statement
// once, by the digest of its payload, with everyone who signed an envelope
// that carries it, linked by what it cites (a verification summary → its
// comparison → the rebuild → the reviews it rests on), and reviews found by
// the source they review.
//
// A graph is untrusted. Its signers are whoever the reader found signed an
// envelope (verify: the policy's unexpired keys and identities; the
// transparency centre: its registered keys), and it decides nothing about
// trust, roles or thresholds: the evaluator (evaluate.go) adds those on
// top of it (a rebuilder's chain must be signed by that rebuilder, its
// reviews by trusted reviewers), and the centre's release page renders a
// graph as it stands. Both follow a summary through Follow, so they
// cannot disagree about what it rests on.
//
// A statement that nobody the reader accepts has signed is kept by its
// type only (its contents are not read, and not held in memory).
type Graph struct {
	file  DigestSet
	now   time.Time
	nodes map[digest.Digest]*Node
	order []digest.Digest
	// chains and reviews cache Follow and Review.
	chains  map[digest.Digest]*Chain
	reviews map[digest.Digest]reviewRead
}

type reviewRead struct {
	p   *ReviewPredicate
	err error
}

// NewGraph makes an empty graph of the statements about the file with the
// digests file (the map is read, not copied: digests added to it later
// count). now dates the statements: one dated after it (with clock skew)
// or before Earliest does not close a chain.
func NewGraph(file DigestSet, now time.Time) *Graph {
	return &Graph{file: file, now: now, nodes: map[digest.Digest]*Node{},
		chains: map[digest.Digest]*Chain{}, reviews: map[digest.Digest]reviewRead{}}
}

// Node is one statement of a graph.
type Node struct {
	// Digest is the sha256 of the statement's bytes (the DSSE payload),
	// by which other statements cite it.
	Digest digest.Digest
	// Source is where the statement was first read.
	Source string
	// Statement is the parsed statement; for one that nobody the reader
	// accepts has signed, only its type.
	Statement *Statement
	// Signers are the parties that signed envelopes carrying the
	// statement, as the reader names them (verify: key fingerprints and
	// identity IDs; the centre: registered names), sorted, each once
	// (merged over every envelope).
	Signers []string
	read    bool
}

// Read reports whether the statement's contents were kept: someone the
// reader accepts signed it.
func (n *Node) Read() bool { return n.read }

// Add records that source carries the statement st, whose payload digest
// is pd, signed by signers (those the reader accepts; none for a statement
// signed by nobody it knows, for which st need hold only the predicate
// type). Envelopes of one statement become one node with all their
// signers. Add after Follow is allowed: the chains are followed again.
func (g *Graph) Add(source string, pd digest.Digest, st *Statement, signers []string) *Node {
	n := g.nodes[pd]
	if n == nil {
		n = &Node{Digest: pd, Source: source}
		g.nodes[pd] = n
		g.order = append(g.order, pd)
	}
	for _, s := range signers {
		if i, ok := slices.BinarySearch(n.Signers, s); !ok {
			n.Signers = slices.Insert(n.Signers, i, s)
		}
	}
	switch {
	case len(signers) > 0 && !n.read:
		n.Statement, n.read = st, true
	case n.Statement == nil:
		n.Statement = &Statement{Type: st.Type, PredicateType: st.PredicateType}
	}
	clear(g.chains)
	delete(g.reviews, pd)
	return n
}

// Node returns the statement with payload digest pd, or nil.
func (g *Graph) Node(pd digest.Digest) *Node { return g.nodes[pd] }

// Nodes lists the statements in the order they were first read.
func (g *Graph) Nodes() []*Node {
	out := make([]*Node, len(g.order))
	for i, pd := range g.order {
		out[i] = g.nodes[pd]
	}
	return out
}

// Merge returns a graph of g's statements and o's together, each with the
// signers of both (g's first, in order), about g's file.
func (g *Graph) Merge(o *Graph) *Graph {
	m := NewGraph(g.file, g.now)
	for _, h := range []*Graph{g, o} {
		for _, n := range h.Nodes() {
			mn := m.Add(n.Source, n.Digest, n.Statement, nil)
			if n.read && !mn.read {
				mn.Statement, mn.read = n.Statement, true
			}
			for _, s := range n.Signers {
				if i, ok := slices.BinarySearch(mn.Signers, s); !ok {
					mn.Signers = slices.Insert(mn.Signers, i, s)
				}
			}
		}
	}
	return m
}

// About reports whether a subject of n's statement names the graph's file.
func (g *Graph) About(n *Node) bool { return subjectsMatchFile(n.Statement.Subject, g.file) }

// IsSummary reports whether n is a verification summary (a SLSA VSA, or
// reprove's earlier summary).
func (n *Node) IsSummary() bool {
	return n.Statement.PredicateType == VSAPredicateType || n.Statement.PredicateType == SummaryPredicateType
}

// Summaries lists the verification summaries about the file that were
// read, in the order first read.
func (g *Graph) Summaries() []*Node {
	var out []*Node
	for _, n := range g.Nodes() {
		if n.read && n.IsSummary() && g.About(n) {
			out = append(out, n)
		}
	}
	return out
}

// UncitedComparisons lists the comparisons about the file, read, that no
// verification summary in the graph cites: a rebuilder's word on the file
// with no summary over it (verify counts one that says "different" as
// that rebuilder's dissent).
func (g *Graph) UncitedComparisons() []*Node {
	cited := map[digest.Digest]bool{}
	for _, n := range g.Nodes() {
		if n.read && n.IsSummary() {
			ds, _ := Cites(n.Statement)
			for _, d := range ds {
				cited[d] = true
			}
		}
	}
	var out []*Node
	for _, n := range g.Nodes() {
		if n.read && n.Statement.PredicateType == ComparisonPredicateType && !cited[n.Digest] && g.About(n) {
			out = append(out, n)
		}
	}
	return out
}

// Review reads the review statement n (once).
func (g *Graph) Review(n *Node) (*ReviewPredicate, error) {
	if r, ok := g.reviews[n.Digest]; ok {
		return r.p, r.err
	}
	var r reviewRead
	switch {
	case n.Statement.PredicateType != ReviewPredicateType:
		r.err = fmt.Errorf("%s is a %s attestation, not a review", n.Digest, n.Statement.PredicateType)
	case !n.read:
		r.err = fmt.Errorf("%s was not read: it is signed by nobody the reader accepts", n.Digest)
	default:
		r.p, r.err = parseReview(n.Statement)
	}
	g.reviews[n.Digest] = r
	return r.p, r.err
}

// ReviewsOf lists the reviews, read, of source src: those whose reviewed
// source matches it (every digest both carry agrees, and they share a
// sha256-class one), in the order first read. Reviews that do not parse
// are left out.
func (g *Graph) ReviewsOf(src Source) []*Node {
	var out []*Node
	for _, n := range g.Nodes() {
		if !n.read || n.Statement.PredicateType != ReviewPredicateType {
			continue
		}
		if p, err := g.Review(n); err == nil && p.Source.Matches(src) {
			out = append(out, n)
		}
	}
	return out
}

// Citation is a statement one cites that the graph does not hold.
type Citation struct {
	// What it was cited as: "rebuild", "review" or "input attestation".
	What   string
	Digest digest.Digest
}

// Chain is a verification summary (or a comparison no summary cites)
// followed along what it cites. Nodes the graph lacks are nil and listed
// in Missing.
type Chain struct {
	// Summary is the verification summary; nil for a comparison no
	// summary cites.
	Summary *Node
	// Comparison is a VSA's companion comparison (or the comparison
	// itself); nil for reprove's earlier summary.
	Comparison *Node
	Rebuild    *Node
	Reviews    []*Node

	// What the summary says, with its comparison's verdict: who verified
	// (the VSA's verifier id; for an earlier summary its verifier, with
	// a name), when, the verdict, its normalizers, the rebuilt digest and
	// the compare report's digest; a VSA's result and levels.
	Verifier      Party
	Time          time.Time
	Verdict       verdict.Verdict
	Normalizers   []string
	Rebuilt       digest.Digest
	CompareReport digest.Digest
	Result        string
	Levels        []string
	// Provenance is what the rebuild says (nil when it was not read).
	Provenance *ProvenanceInfo

	Missing []Citation
	// Err is the first reason the chain does not close, whoever signed
	// it (a message naming where, for people); nil when it closes.
	Err error
	// claimed: the head's own claim was read and is sound (a VSA agrees
	// with its comparison), whatever the rest of the chain.
	claimed bool
}

// Head is the statement the chain starts from: the summary, or the
// comparison no summary cites.
func (c *Chain) Head() *Node {
	if c.Summary != nil {
		return c.Summary
	}
	return c.Comparison
}

// Dissents reports whether the chain's statements say the file is not
// what the rebuild made: the verdict is "different", or a VSA's result
// is FAILED.
func (c *Chain) Dissents() bool {
	return c.Verdict == verdict.Different || c.Result == ResultFailed
}

// Follow follows a verification summary, or a comparison, along what it
// cites, checking that the chain closes: every cited statement is there
// and of the kind cited, a VSA's comparison is about the file and of the
// rebuild the VSA cites, and the VSA's result and levels follow from its
// verdict; "identical" only over equal digests; the rebuilt file is an
// output of the rebuild; every cited review is of the source that was
// rebuilt; and no date is in the future or before Earliest.
func (g *Graph) Follow(n *Node) *Chain {
	if c := g.chains[n.Digest]; c != nil {
		return c
	}
	c := &Chain{}
	switch n.Statement.PredicateType {
	case ComparisonPredicateType:
		c.Comparison = n
	default:
		c.Summary = n
	}
	c.Err = g.follow(c)
	g.chains[n.Digest] = c
	return c
}

func (g *Graph) follow(c *Chain) error {
	head := c.Head()
	if !head.read {
		return fmt.Errorf("%s was not read: it is signed by nobody the reader accepts", head.Source)
	}
	var rebuild digest.Digest
	var reviews []digest.Digest
	var err error
	switch head.Statement.PredicateType {
	case VSAPredicateType:
		rebuild, reviews, err = g.claimOfVSA(c)
	case SummaryPredicateType:
		rebuild, reviews, err = g.claimOfSummary(c)
	case ComparisonPredicateType:
		rebuild, err = g.readComparison(c)
	default:
		err = fmt.Errorf("a %s attestation, not a verification summary or comparison", head.Statement.PredicateType)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", head.Source, err)
	}
	c.claimed = true
	if d := checkTime(head.Source, c.Time, g.now); d != "" {
		return errors.New(d)
	}
	if c.Verdict == verdict.Identical && c.Rebuilt != g.fileSHA() {
		return fmt.Errorf("%s: says identical, but the rebuilt digest %s is not the file's %s", head.Source, c.Rebuilt, g.fileSHA())
	}
	if c.Verdict != verdict.Identical && c.Rebuilt == g.fileSHA() {
		return fmt.Errorf("%s: says %s, but the rebuilt digest equals the file's", head.Source, c.Verdict)
	}
	if err := g.followRebuild(c, rebuild); err != nil {
		return err
	}
	return g.followReviews(c, reviews)
}

func (g *Graph) fileSHA() digest.Digest {
	d, _ := g.file.Digest(digest.SHA256)
	return d
}

// claimOfSummary reads reprove's earlier summary: its verdict and what it
// cites.
func (g *Graph) claimOfSummary(c *Chain) (rebuild digest.Digest, reviews []digest.Digest, err error) {
	sum, err := parseSummary(c.Summary.Statement)
	if err != nil {
		return "", nil, err
	}
	c.Verifier, c.Time, c.Verdict, c.Normalizers = sum.Verifier, sum.TimeVerified, sum.Verdict, sum.Normalizers
	c.Rebuilt, _ = sum.Rebuilt.Digest.Digest(digest.SHA256)
	rebuild, _ = sum.Rebuild.payloadDigest()
	g.cite(c, "rebuild", rebuild)
	for _, r := range sum.Reviews {
		d, _ := r.payloadDigest()
		reviews = append(reviews, d)
		g.cite(c, "review", d)
	}
	return rebuild, reviews, nil
}

// cite notes d in c.Missing when the graph lacks it.
func (g *Graph) cite(c *Chain, what string, d digest.Digest) {
	if g.nodes[d] == nil {
		c.Missing = append(c.Missing, Citation{What: what, Digest: d})
	}
}

// claimOfVSA reads a VSA and the comparison among its inputs, and checks
// that the two agree: the comparison is about the same file, names the
// rebuild the VSA cites, and its verdict gives exactly the VSA's result and
// levels.
func (g *Graph) claimOfVSA(c *Chain) (rebuild digest.Digest, reviews []digest.Digest, err error) {
	v, err := parseVSA(c.Summary.Statement)
	if err != nil {
		return "", nil, err
	}
	c.Verifier, c.Time, c.Result, c.Levels = Party{ID: v.verifier}, v.time, v.result, v.levels
	rebuilds, reviews, first := g.inputsOfVSA(c, v.inputs)
	if len(rebuilds) == 1 {
		rebuild = rebuilds[0]
	}
	if first != nil {
		return rebuild, reviews, first
	}
	if len(rebuilds) != 1 {
		return "", reviews, fmt.Errorf("it cites %d rebuild attestations, want 1", len(rebuilds))
	}
	if c.Comparison == nil {
		return rebuild, reviews, errors.New("it cites no comparison")
	}
	if !c.Comparison.read {
		return rebuild, reviews, fmt.Errorf("its comparison %s was not read: it is signed by nobody the reader accepts", c.Comparison.Source)
	}
	if !subjectsMatchFile(c.Comparison.Statement.Subject, g.file) {
		return rebuild, reviews, fmt.Errorf("its comparison %s is about another file (%s)", c.Comparison.Source, subjectNames(c.Comparison.Statement.Subject))
	}
	cp, err := parseComparison(c.Comparison.Statement)
	if err != nil {
		return rebuild, reviews, fmt.Errorf("%s: %w", c.Comparison.Source, err)
	}
	readVerdict(c, cp)
	if rd, _ := cp.Rebuild.payloadDigest(); rd != rebuild {
		return rebuild, reviews, fmt.Errorf("its comparison %s is of rebuild %s, but it cites rebuild %s", c.Comparison.Source, rd, rebuild)
	}
	if !levelsFollow(v.result, v.levels, cp.Verdict, len(reviews) > 0) {
		result, levels := levelsFor(cp.Verdict, len(reviews) > 0)
		return rebuild, reviews, fmt.Errorf("its result %s %v does not follow from the comparison's verdict %s (want %s %v)", v.result, v.levels, cp.Verdict, result, levels)
	}
	return rebuild, reviews, nil
}

// inputsOfVSA sorts a VSA's inputs into rebuilds, its comparison (set in
// c) and reviews; first is the first input that is missing or of another
// kind, or a second comparison.
func (g *Graph) inputsOfVSA(c *Chain, inputs []digest.Digest) (rebuilds, reviews []digest.Digest, first error) {
	for _, d := range inputs {
		in := g.nodes[d]
		if in == nil {
			g.cite(c, "input attestation", d)
			if first == nil {
				first = fmt.Errorf("its input attestation %s is not among the attestations given", d)
			}
			continue
		}
		switch in.Statement.PredicateType {
		case ProvenancePredicateType:
			rebuilds = append(rebuilds, d)
		case ComparisonPredicateType:
			if c.Comparison != nil && first == nil {
				first = fmt.Errorf("it cites two comparisons (%s and %s)", c.Comparison.Digest, d)
			}
			if c.Comparison == nil {
				c.Comparison = in
			}
		case ReviewPredicateType:
			reviews = append(reviews, d)
		default:
			if first == nil {
				first = fmt.Errorf("its input attestation %s is a %s attestation, not a rebuild, comparison or review", d, in.Statement.PredicateType)
			}
		}
	}
	return rebuilds, reviews, first
}

// readComparison reads a comparison no summary cites: its verdict and the
// rebuild it names.
func (g *Graph) readComparison(c *Chain) (digest.Digest, error) {
	cp, err := parseComparison(c.Comparison.Statement)
	if err != nil {
		return "", err
	}
	readVerdict(c, cp)
	rd, _ := cp.Rebuild.payloadDigest()
	g.cite(c, "rebuild", rd)
	return rd, nil
}

func readVerdict(c *Chain, cp *ComparisonPredicate) {
	c.Verdict, c.Normalizers = cp.Verdict, cp.Normalizers
	c.Rebuilt, _ = cp.Rebuilt.Digest.Digest(digest.SHA256)
	if cp.CompareReport != nil {
		c.CompareReport, _ = cp.CompareReport.Digest.Digest(digest.SHA256)
	}
}

// followRebuild checks the rebuild a chain cites: there, a rebuild, read,
// dated sanely, and with the rebuilt file among its outputs.
func (g *Graph) followRebuild(c *Chain, rd digest.Digest) error {
	src := c.Head().Source
	rn := g.nodes[rd]
	if rn == nil {
		return fmt.Errorf("%s: its rebuild attestation %s is not among the attestations given", src, rd)
	}
	if rn.Statement.PredicateType != ProvenancePredicateType {
		return fmt.Errorf("%s: %s is a %s attestation, not a rebuild", src, rd, rn.Statement.PredicateType)
	}
	c.Rebuild = rn
	if !rn.read {
		return fmt.Errorf("%s: its rebuild attestation %s was not read: it is signed by nobody the reader accepts", src, rn.Source)
	}
	prov, err := parseProvenance(rn.Statement)
	if err != nil {
		return fmt.Errorf("%s: %v", rn.Source, err)
	}
	c.Provenance = prov
	for _, t := range []time.Time{prov.StartedOn, prov.FinishedOn} {
		if d := checkTime(rn.Source, t, g.now); d != "" {
			return errors.New(d)
		}
	}
	for _, o := range prov.Outputs {
		if d, ok := o.Digest.Digest(digest.SHA256); ok && d == c.Rebuilt {
			return nil
		}
	}
	return fmt.Errorf("%s: the rebuilt artifact %s is not an output of its rebuild attestation %s", src, c.Rebuilt, rn.Source)
}

// followReviews checks the reviews a chain cites: each there, a review,
// read, dated sanely, and of the source that was rebuilt.
func (g *Graph) followReviews(c *Chain, reviews []digest.Digest) error {
	src := c.Head().Source
	for _, d := range reviews {
		vn := g.nodes[d]
		if vn == nil {
			return fmt.Errorf("%s: its review attestation %s is not among the attestations given", src, d)
		}
		if vn.Statement.PredicateType != ReviewPredicateType {
			return fmt.Errorf("%s: %s is a %s attestation, not a review", src, d, vn.Statement.PredicateType)
		}
		c.Reviews = append(c.Reviews, vn)
	}
	for _, vn := range c.Reviews {
		if !vn.read {
			return fmt.Errorf("%s: its review attestation %s was not read: it is signed by nobody the reader accepts", src, vn.Source)
		}
		rp, err := g.Review(vn)
		if err != nil {
			return fmt.Errorf("%s: %v", vn.Source, err)
		}
		if d := checkTime(vn.Source, rp.ReviewedAt, g.now); d != "" {
			return errors.New(d)
		}
		if ok, why := matchSets(rp.Source.DigestSet(), c.Provenance.Source.DigestSet()); !ok {
			return fmt.Errorf("%s: reviewed source %s is not the source that was rebuilt (%s): %s", vn.Source, rp.Source.Name(), c.Provenance.Source.Name(), why)
		}
	}
	return nil
}

// Cites lists the payload digests of the attestations a statement rests
// on: a VSA's inputs, an earlier summary's rebuild and reviews, a
// comparison's rebuild; none for others.
func Cites(st *Statement) ([]digest.Digest, error) {
	switch st.PredicateType {
	case VSAPredicateType:
		v, err := parseVSA(st)
		if err != nil {
			return nil, err
		}
		return v.inputs, nil
	case SummaryPredicateType:
		p, err := parseSummary(st)
		if err != nil {
			return nil, err
		}
		var out []digest.Digest
		for _, r := range append([]AttestationRef{p.Rebuild}, p.Reviews...) {
			if d, err := r.payloadDigest(); err == nil && !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
		return out, nil
	case ComparisonPredicateType:
		p, err := parseComparison(st)
		if err != nil {
			return nil, err
		}
		d, err := p.Rebuild.payloadDigest()
		if err != nil {
			return nil, err
		}
		return []digest.Digest{d}, nil
	}
	return nil, nil
}
