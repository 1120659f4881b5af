package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The CI templates under ci/ call the real CLI: every reprove command and
// flag they use must exist, with acceptable arguments.
func TestCITemplates(t *testing.T) {
	files := map[string]func(any) []string{
		"../../ci/github/reprove.yml":           githubScripts,
		"../../ci/gitlab/reprove.gitlab-ci.yml": gitlabScripts,
	}
	for file, scripts := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var doc any
			if err := yaml.Unmarshal(b, &doc); err != nil {
				t.Fatalf("%s is not valid YAML: %v", file, err)
			}
			calls := 0
			for _, script := range scripts(doc) {
				for _, line := range logicalLines(script) {
					argv := reproveArgs(line)
					if argv == nil {
						continue
					}
					calls++
					env := Env{}
					root := newRoot(&env)
					cmd, rest, err := root.Find(argv)
					if err != nil || cmd == root {
						t.Errorf("%s: %q: no such command", file, line)
						continue
					}
					if err := cmd.ParseFlags(rest); err != nil {
						t.Errorf("%s: %q: %v", file, line, err)
						continue
					}
					if cmd.Args != nil {
						if err := cmd.Args(cmd, cmd.Flags().Args()); err != nil {
							t.Errorf("%s: %q: %v", file, line, err)
						}
					}
				}
			}
			if calls < 4 {
				t.Errorf("%s: found only %d reprove calls", file, calls)
			}
		})
	}
}

func githubScripts(doc any) []string {
	var out []string
	jobs, _ := doc.(map[string]any)["jobs"].(map[string]any)
	for _, j := range jobs {
		steps, _ := j.(map[string]any)["steps"].([]any)
		for _, s := range steps {
			if run, ok := s.(map[string]any)["run"].(string); ok {
				out = append(out, run)
			}
		}
	}
	return out
}

func gitlabScripts(doc any) []string {
	var out []string
	for _, v := range doc.(map[string]any) {
		job, ok := v.(map[string]any)
		if !ok {
			continue
		}
		lines, _ := job["script"].([]any)
		for _, l := range lines {
			if s, ok := l.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// logicalLines joins backslash-continued lines.
func logicalLines(script string) []string {
	var out []string
	var cur strings.Builder
	for _, l := range strings.Split(script, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasSuffix(l, "\\") {
			cur.WriteString(strings.TrimSuffix(l, "\\") + " ")
			continue
		}
		cur.WriteString(l)
		out = append(out, cur.String())
		cur.Reset()
	}
	return out
}

// reproveArgs returns the arguments of a reprove call on line (after any
// sudo and its options), or nil.
func reproveArgs(line string) []string {
	words := splitWords(line)
	for len(words) > 0 && (words[0] == "sudo" || strings.HasPrefix(words[0], "--preserve-env") || strings.HasPrefix(words[0], "-E")) {
		words = words[1:]
	}
	if len(words) == 0 || words[0] != "reprove" {
		return nil
	}
	args := words[1:]
	for i, a := range args {
		if a == ">" || a == "|" || a == "&&" || a == ";" {
			return args[:i]
		}
	}
	return args
}

// splitWords splits a shell line on blanks, honouring single and double
// quotes (enough for the templates; variables stay as written).
func splitWords(s string) []string {
	var words []string
	var cur strings.Builder
	quote := rune(0)
	in := false
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}
