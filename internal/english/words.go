// Package english holds the little English that reprove's messages share,
// so that every package counts things the same way.
package english

import "strconv"

// Count writes n with the noun: "1 step", "2 steps", "0 steps". Nouns that
// do not take a plain s give their plural form: Count(2, "match", "matches").
func Count[N ~int | ~int64](n N, one string, many ...string) string {
	s := strconv.FormatInt(int64(n), 10) + " "
	switch {
	case n == 1:
		return s + one
	case len(many) > 0:
		return s + many[0]
	}
	return s + one + "s"
}
