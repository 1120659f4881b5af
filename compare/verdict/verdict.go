package verdict

import "fmt"

// Verdict is the outcome of comparing a rebuilt artifact with a shipped one.
// The words are exact (DESIGN.md): nothing but equal digests earns
// Identical; Equivalent is only ever reached through normalizers the user
// named, and the verdict carries their names.
type Verdict int

const (
	// Different: the artifacts differ, even after any allowed normalizers.
	Different Verdict = iota + 1
	// Equivalent: equal only after the named normalizers were applied.
	Equivalent
	// Identical: the digests are equal.
	Identical
)

var verdictNames = map[Verdict]string{
	Identical:  "identical",
	Equivalent: "equivalent",
	Different:  "different",
}

func (v Verdict) String() string {
	if s, ok := verdictNames[v]; ok {
		return s
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// MarshalText implements encoding.TextMarshaler; the zero value and unknown
// values are refused so that no malformed verdict is ever written.
func (v Verdict) MarshalText() ([]byte, error) {
	s, ok := verdictNames[v]
	if !ok {
		return nil, fmt.Errorf("marshal verdict: invalid value %d", int(v))
	}
	return []byte(s), nil
}

// UnmarshalText implements encoding.TextUnmarshaler. Only the exact lower-case
// words are accepted.
func (v *Verdict) UnmarshalText(b []byte) error {
	for k, s := range verdictNames {
		if string(b) == s {
			*v = k
			return nil
		}
	}
	return fmt.Errorf("unmarshal verdict: unknown verdict %q (want identical, equivalent or different)", b)
}
