package attest

import (
	"fmt"
	"strings"

	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/internal/escape"
)

// Sentence is the result in one plain sentence, for example:
//
//	verified: sha256:… is hello 1.0, reproduced bit for bit by 2 of 3 trusted
//	rebuilders (A, B; C disagrees: different), from source
//	https://example.com/hello.git@0123… reviewed by Alice on 2026-11-01
func (r *Result) Sentence() string {
	if !r.Verified {
		var b strings.Builder
		fmt.Fprintf(&b, "not verified: %s (%s)", r.Digest, r.File)
		if len(r.Reasons) > 0 {
			b.WriteString(": " + r.Reasons[0])
			if len(r.Reasons) > 1 {
				fmt.Fprintf(&b, " (and %d more)", len(r.Reasons)-1)
			}
		}
		return b.String()
	}
	var agree, others []string
	allIdentical := true
	for _, rb := range r.Rebuilders {
		switch rb.Outcome {
		case Agrees:
			if rb.Verdict == verdict.Equivalent {
				allIdentical = false
				agree = append(agree, fmt.Sprintf("%s: equivalent under %s", rb.Name, strings.Join(rb.Normalizers, ", ")))
			} else {
				agree = append(agree, rb.Name)
			}
		case Disagrees:
			others = append(others, fmt.Sprintf("%s disagrees: %s", rb.Name, rb.Verdict))
		case NotAccepted:
			others = append(others, fmt.Sprintf("%s not counted: %s", rb.Name, rb.Detail))
		default:
			others = append(others, fmt.Sprintf("%s: %s", rb.Name, rb.Outcome))
		}
	}
	how := "reproduced bit for bit"
	if !allIdentical {
		how = "reproduced"
	}
	who := strings.Join(agree, ", ")
	if len(others) > 0 {
		who += "; " + strings.Join(others, "; ")
	}
	noun := "rebuilders"
	if r.TrustedRebuilders == 1 {
		noun = "rebuilder"
	}
	var reviewed []string
	for _, rv := range r.Reviewers {
		if rv.Verdict == Approved {
			// The policy's name for the key: the label the customer trusts.
			r := fmt.Sprintf("%s on %s", rv.Name, rv.ReviewedAt.Format("2006-01-02"))
			if !rv.Scope.All {
				r += " (only " + strings.Join(rv.Scope.Paths, ", ") + ")"
			}
			if rv.AlsoRebuilder != "" {
				r += " (with the key of rebuilder " + rv.AlsoRebuilder + ": one key played both roles)"
			}
			reviewed = append(reviewed, r)
		}
	}
	src := ""
	if r.Source != nil {
		src = r.Source.Name()
	}
	review := "reviewed by " + strings.Join(reviewed, " and ")
	if len(reviewed) == 0 {
		review = "not reviewed (the policy does not require reviews)"
	}
	built := ""
	if names := r.builderNames(); names != "" {
		built = ", and its builder's provenance by " + names
	}
	return fmt.Sprintf("verified: %s is %s %s, %s by %d of %d trusted %s (%s), from source %s %s%s",
		r.Digest, r.Name, r.Version, how, len(agree), r.TrustedRebuilders, noun, who, src, review, built)
}

// builderNames are the trusted builders whose provenance of the file was
// shown, each once, in order.
func (r *Result) builderNames() string {
	var names []string
	for _, b := range r.Builders {
		if len(names) == 0 || names[len(names)-1] != b.Name {
			names = append(names, b.Name)
		}
	}
	return strings.Join(names, ", ")
}

// Text is the sentence followed by the reasons (when not verified) and the
// notes, one per line. Each line is escaped (internal/escape): names,
// types and paths in it come from attestations, and even an attestation
// no trusted key signed must not be able to redraw the result.
func (r *Result) Text() string {
	var b strings.Builder
	b.WriteString(escape.Line(r.Sentence()) + "\n")
	if !r.Verified && len(r.Reasons) > 0 {
		b.WriteString("reasons:\n")
		for _, x := range r.Reasons {
			b.WriteString("  - " + escape.Line(x) + "\n")
		}
	}
	if !r.Verified && len(r.Rebuilders) > 0 {
		b.WriteString("trusted rebuilders:\n")
		for _, rb := range r.Rebuilders {
			line := fmt.Sprintf("  - %s: %s", rb.Name, rb.Outcome)
			if rb.Verdict != 0 {
				line += " (" + rb.Verdict.String()
				if len(rb.Normalizers) > 0 {
					line += " under " + strings.Join(rb.Normalizers, ", ")
				}
				line += ")"
			}
			b.WriteString(escape.Line(line) + "\n")
		}
	}
	if len(r.Builders) > 0 {
		b.WriteString("trusted builders (their own provenance, not a rebuild):\n")
		for _, bd := range r.Builders {
			line := fmt.Sprintf("  - %s: built by %s", bd.Name, bd.BuilderID)
			if bd.Source != nil && bd.Source.URI != "" {
				line += " from " + bd.Source.URI
			}
			if bd.Source != nil && bd.Source.Digest["gitCommit"] != "" {
				line += " (commit " + bd.Source.Digest["gitCommit"] + ")"
			}
			if bd.Invocation != "" {
				line += ", run " + bd.Invocation
			}
			b.WriteString(escape.Line(line) + "\n")
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("notes:\n")
		for _, x := range r.Notes {
			b.WriteString("  - " + escape.Line(x) + "\n")
		}
	}
	return b.String()
}
