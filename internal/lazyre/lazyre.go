// Package lazyre compiles a regular expression the first time it is used
// instead of when its package is initialised.
//
// reprove is one binary: every command runs every package's initialisers
// before it starts, so an expression compiled into a package-level
// variable is paid for by `reprove verify` even when only `reprove infer`
// matches it. Write
//
//	var nameRE = lazyre.New(`^[a-z]+$`)
//
// and call nameRE().MatchString(s). TestNoEagerInit at the module's root
// refuses a package-level regexp.MustCompile and compiles every literal
// given to New, so a typo still fails the tests, not a user's run.
package lazyre

import (
	"regexp"
	"sync"
)

// New returns a function that compiles expr on its first call (panicking,
// as regexp.MustCompile does, if expr is not a valid expression) and
// returns the same *regexp.Regexp on every call. It is safe for concurrent
// use.
func New(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
