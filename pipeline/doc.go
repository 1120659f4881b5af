// Package pipeline is reprove's product as library calls: one call per
// command that does real work, as crane and govulncheck are built. The CLI
// parses flags, calls one of these and renders what comes back; the
// transparency centre and rebuild workers call the same functions.
//
//   - Open connects to containerd (starting reprove's private daemon unless an
//     address is given) and returns a Session.
//   - Session.Rebuild: fetch the shipped artifacts, rebuild hermetically,
//     compare each output with what shipped, sign provenance and summaries,
//     and move everything into one output directory atomically.
//   - Session.Check: build twice under varied conditions and explain any
//     difference.
//
// Every call takes a context first, reports progress through the Progress
// callback of its Runtime (never printing), and returns its result as a
// value whose JSON form is the file it writes (result.json, check.json).
// Verdicts are typed.
package pipeline
