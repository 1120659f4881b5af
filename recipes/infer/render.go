package infer

import (
	"bytes"
	"fmt"
	"strings"
)

// Render writes the result as a recipe file: the findings as a comment
// block (what is certain, what is a guess, what is unknown), then the
// recipe. Comments do not change the recipe's digest.
func Render(res *Result, origin string) ([]byte, error) {
	y, err := res.Recipe.YAML()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Inferred by reprove infer from %s.\n", origin)
	if len(res.Incomplete) > 0 {
		b.WriteString("#\n# INCOMPLETE: fill in before use (reprove recipe lint checks):\n")
		for _, s := range res.Incomplete {
			fmt.Fprintf(&b, "#   %s\n", oneLine(s))
		}
	}
	b.WriteString("#\n")
	for _, c := range []Certainty{Certain, Guess, Unknown} {
		for _, f := range res.Findings {
			if f.Certainty != c {
				continue
			}
			fmt.Fprintf(&b, "# %-8s %s", c, f.Topic)
			if f.Value != "" {
				fmt.Fprintf(&b, " = %s", oneLine(f.Value))
			}
			fmt.Fprintf(&b, ": %s\n", oneLine(f.Reason))
		}
	}
	if len(res.Candidates) > 1 {
		fmt.Fprintf(&b, "#\n# %d linker flag candidates; this recipe uses the first:\n", len(res.Candidates))
		for i, c := range res.Candidates {
			fmt.Fprintf(&b, "#   %d. -ldflags=%q\n", i+1, c.Ldflags)
		}
	}
	b.Write(y)
	return b.Bytes(), nil
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
