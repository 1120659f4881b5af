package compare

import "github.com/reprove/reprove/compare/verdict"

// Normalizer is a named, opt-in rule; the registry lives in package verdict.
type Normalizer = verdict.Normalizer

// UnknownNormalizerError reports a normalizer name not in the registry.
type UnknownNormalizerError = verdict.UnknownNormalizerError

// Lookup returns the normalizer with this exact name.
func Lookup(name string) (Normalizer, bool) { return verdict.Lookup(name) }

// NormalizerNames lists every known normalizer name, sorted.
func NormalizerNames() []string { return verdict.NormalizerNames() }

// Normalizers lists every known normalizer, sorted by name.
func Normalizers() []Normalizer { return verdict.Normalizers() }

// CheckNormalizers returns the sorted, de-duplicated names, or an
// *UnknownNormalizerError for the first unknown one.
func CheckNormalizers(names []string) ([]string, error) { return verdict.CheckNormalizers(names) }

func covering(k Kind, allowed []string) (string, bool) { return verdict.Covering(k, allowed) }
