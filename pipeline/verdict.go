package pipeline

import "fmt"

// Verdict is the outcome of a rebuild as a whole.
type Verdict int

const (
	// NotReproduced: some shipped artifact differs from its rebuild.
	NotReproduced Verdict = iota + 1
	// Reproduced: every shipped artifact is identical to its rebuild, or
	// equivalent under normalizers that were allowed.
	Reproduced
	// Rebuilt: the recipe names no shipped artifact, so nothing was
	// compared.
	Rebuilt
)

var verdictWords = map[Verdict]string{
	NotReproduced: "not reproduced",
	Reproduced:    "reproduced",
	Rebuilt:       "rebuilt",
}

func (v Verdict) String() string {
	if s, ok := verdictWords[v]; ok {
		return s
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// MarshalText writes the exact words; the zero value is refused, so no
// undecided verdict is ever written.
func (v Verdict) MarshalText() ([]byte, error) {
	s, ok := verdictWords[v]
	if !ok {
		return nil, fmt.Errorf("marshal rebuild verdict: invalid value %d", int(v))
	}
	return []byte(s), nil
}

// UnmarshalText reads the exact words.
func (v *Verdict) UnmarshalText(b []byte) error {
	for k, s := range verdictWords {
		if s == string(b) {
			*v = k
			return nil
		}
	}
	return fmt.Errorf("unmarshal rebuild verdict: unknown verdict %q (want reproduced, not reproduced or rebuilt)", b)
}
