package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/reprove/reprove/internal/escape"
)

// Output. Every line a command prints is written by printf or printLine,
// which show each string, error and Stringer argument through
// escape.Line: whatever an attestation, a centre, a log entry, a file or
// member name, a recipe or a binary put in it, it stays inside its line
// and cannot drive the terminal. Only the format (reprove's own text)
// keeps its newlines. Text that is already safe and meant to span lines
// (a renderer's output, escaped line by line) is passed as shown.
//
// TestOutputGoesThroughEscaper keeps the package's other files from
// calling fmt's Fprint functions themselves.

// shown is text a renderer already escaped line by line; printf writes it
// as it is.
type shown string

// printf is fmt.Fprintf with its arguments escaped. A %q argument is left
// to fmt, whose quoting escapes what escape.Line would (and the two
// together would double the backslashes).
func printf(w io.Writer, format string, args ...any) error {
	vs := verbs(format)
	for i, a := range args {
		if i < len(vs) && vs[i] == 'q' {
			continue
		}
		args[i] = escapeArg(a)
	}
	_, err := fmt.Fprintf(w, format, args...)
	return err
}

// printLine is fmt.Fprintln with its arguments escaped.
func printLine(w io.Writer, args ...any) error {
	for i, a := range args {
		args[i] = escapeArg(a)
	}
	_, err := fmt.Fprintln(w, args...)
	return err
}

func escapeArg(a any) any {
	switch v := a.(type) {
	case shown:
		return string(v)
	case string:
		return escape.Line(v)
	case error:
		return escape.Line(v.Error())
	case fmt.Stringer:
		return escape.Line(v.String())
	}
	return a
}

// verbs lists the verb of each argument format consumes, in order (fmt's
// rules: %% takes none; flags, width and precision come before the verb;
// a * width or precision takes an argument of its own, listed as '*').
func verbs(format string) []rune {
	var vs []rune
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		for ; i < len(format); i++ {
			c := format[i]
			if c == '*' {
				vs = append(vs, '*')
				continue
			}
			if c == '+' || c == '-' || c == '#' || c == ' ' || c == '0' || c == '.' || c >= '1' && c <= '9' || c == '[' || c == ']' {
				continue
			}
			if c != '%' {
				vs = append(vs, rune(c))
			}
			break
		}
	}
	return vs
}

// printError writes an error on stderr, escaped line by line: most
// errors are one line, and those with more (every problem of a policy, a
// daemon's last log lines) keep them.
func printError(w io.Writer, err error) {
	printf(w, "reprove: %s\n", shown(escape.Lines(strings.TrimSuffix(err.Error(), "\n"))))
}

// terminalGuard returns the guard for a terminal stream: the colours of
// style.paint are reprove's own.
func terminalGuard(w io.Writer) *escape.Guard {
	return escape.NewGuard(w, sgrGreen, sgrRed, sgrReset)
}
