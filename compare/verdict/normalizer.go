package verdict

import (
	"fmt"
	"slices"
	"strings"
)

// Normalizer is a named, opt-in rule that lets certain kinds of difference
// count as equivalent. Normalizers are pure: they never change what is
// compared, only which recorded differences may be accepted.
type Normalizer struct {
	Name        string
	Description string
	// Covers lists the kinds of difference this normalizer accepts.
	Covers []Kind
}

// never lists kinds no normalizer may ever cover: a change of file type,
// mode bits, link target, duplicate entries, content, or format.
var never = []Kind{KindType, KindMode, KindLink, KindDuplicate, KindAdded, KindRemoved, KindFormat,
	KindContent, KindText, KindBytes, KindBuildInfo, KindFile, KindSection,
	KindGroup, KindFunction, KindObject, KindString, KindData, KindField}

// registry is the list of known normalizers, in the order they are
// documented (see the package documentation).
var registry = []Normalizer{
	{Name: "archive-mtime", Covers: []Kind{KindMtime},
		Description: "ignore member modification, access and change times in tar, zip and ar archives (zip DOS times and extended-timestamp fields too)"},
	{Name: "archive-order", Covers: []Kind{KindOrder},
		Description: "ignore the order of archive members (never when a name repeats, since order then decides which copy wins)"},
	{Name: "gzip-header", Covers: []Kind{KindHeader},
		Description: "ignore gzip header fields: mtime, original file name, comment, OS, extra flags, extra field"},
	{Name: "pe-timestamp", Covers: []Kind{KindTimestamp, KindChecksum},
		Description: "ignore the PE/COFF header timestamp and the optional-header checksum"},
	{Name: "authenticode", Covers: []Kind{KindSignature, KindChecksum},
		Description: "strip an Authenticode signature (certificate table, its data-directory entry, alignment padding, checksum) and compare the rest; the signer is reported"},
}

func init() {
	for _, n := range registry {
		for _, k := range n.Covers {
			if slices.Contains(never, k) {
				panic(fmt.Sprintf("normalizer %s covers %v, which no normalizer may hide", n.Name, k))
			}
		}
	}
}

// Lookup returns the normalizer with this exact name.
func Lookup(name string) (Normalizer, bool) {
	for _, n := range registry {
		if n.Name == name {
			return n, true
		}
	}
	return Normalizer{}, false
}

// NormalizerNames lists every known normalizer name, sorted.
func NormalizerNames() []string {
	names := make([]string, len(registry))
	for i, n := range registry {
		names[i] = n.Name
	}
	slices.Sort(names)
	return names
}

// Normalizers lists every known normalizer, sorted by name.
func Normalizers() []Normalizer {
	out := slices.Clone(registry)
	slices.SortFunc(out, func(a, b Normalizer) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// UnknownNormalizerError reports a normalizer name not in the registry.
type UnknownNormalizerError struct{ Name string }

func (e *UnknownNormalizerError) Error() string {
	return fmt.Sprintf("unknown normalizer %q (known: %s)", e.Name, strings.Join(NormalizerNames(), ", "))
}

// CheckNormalizers returns the sorted, de-duplicated names, or an
// *UnknownNormalizerError for the first unknown one.
func CheckNormalizers(names []string) ([]string, error) {
	out := []string{}
	for _, n := range names {
		if _, ok := Lookup(n); !ok {
			return nil, &UnknownNormalizerError{Name: n}
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Covering returns the normalizer that covers k: an allowed one if any,
// else the first known one; "" when none may.
func Covering(k Kind, allowed []string) (name string, ok bool) {
	first := ""
	for _, n := range registry {
		if !slices.Contains(n.Covers, k) {
			continue
		}
		if slices.Contains(allowed, n.Name) {
			return n.Name, true
		}
		if first == "" {
			first = n.Name
		}
	}
	return first, false
}
