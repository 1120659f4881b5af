package cli

import (
	"strings"

	"github.com/opencontainers/go-digest"
)

// style is how results are shown on stdout: on a terminal, digests are
// short and verdict words coloured (unless NO_COLOR is set, or TERM=dumb);
// anywhere else, full digests and plain text, so that pipes and files get
// exactly what --json or a script expects.
type style struct {
	terminal bool
	colour   bool
}

func stdoutStyle(env *Env) style {
	s := style{terminal: env.StdoutIsTerminal}
	s.colour = s.terminal && env.Getenv("NO_COLOR") == "" && env.Getenv("TERM") != "dumb"
	return s
}

// shortDigestLen is the hex digits shown of a digest on a terminal: enough
// to tell releases apart at a glance, short enough for tables to fit 100
// columns.
const shortDigestLen = 12

// digest shows d in full, or shortened on a terminal.
func (s style) digest(d digest.Digest) string {
	if !s.terminal || d.Validate() != nil {
		return string(d)
	}
	return d.Algorithm().String() + ":" + d.Encoded()[:shortDigestLen]
}

const (
	sgrGreen = "\x1b[32m"
	sgrRed   = "\x1b[31m"
	sgrReset = "\x1b[0m"
)

// good and bad colour a word (reprove's own) when colour is on. The
// result is shown: printf writes it as it is.
func (s style) good(w string) shown { return s.paint(sgrGreen, w) }
func (s style) bad(w string) shown  { return s.paint(sgrRed, w) }

func (s style) paint(sgr, w string) shown {
	if !s.colour || w == "" {
		return shown(w)
	}
	return shown(sgr + w + sgrReset)
}

// verdictLine colours the verdict word that opens a verify result
// ("verified:" or "not verified:"), leaving the rest as it is.
func (s style) verdictLine(text string) string {
	for _, w := range []struct {
		word  string
		paint func(string) shown
	}{{"not verified:", s.bad}, {"verified:", s.good}} {
		if rest, ok := strings.CutPrefix(text, w.word); ok {
			return string(w.paint(w.word)) + rest
		}
	}
	return text
}
