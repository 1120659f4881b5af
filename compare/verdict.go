package compare

import "github.com/reprove/reprove/compare/verdict"

// Verdict is the outcome of a comparison; see package verdict.
type Verdict = verdict.Verdict

// The verdict words.
const (
	Different  = verdict.Different
	Equivalent = verdict.Equivalent
	Identical  = verdict.Identical
)

// ParseVerdict parses one of the exact verdict words.
func ParseVerdict(s string) (Verdict, error) { return verdict.ParseVerdict(s) }
