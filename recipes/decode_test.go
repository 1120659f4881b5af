package recipes

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// numberRecipe is a valid recipe whose schema, archive strip, pids and cpus
// are written as the test case says.
func numberRecipe(schema, strip, pids, cpus string) string {
	return `schema: ` + schema + `
name: x
version: "1"
source:
  archive:
    path: x.tar
    digest: sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
    strip: ` + strip + `
steps:
  - run: [make]
outputs:
  - path: x
limits:
  pids: ` + pids + `
  cpus: ` + cpus + `
`
}

// TestIntegerForms: an integer is accepted only written in decimal, as in
// a trust policy (both decode through internal/strictyaml): YAML's other
// spellings (hex, octal, YAML 1.1's 017 meaning 15, underscores, a plus
// sign, an exponent, a fraction, a quoted string) are refused, each located
// and named. A number (cpus) is decimal digits with an optional fraction.
func TestIntegerForms(t *testing.T) {
	wrong := func(line, col int, field, want, got string) string {
		return fmt.Sprintf("r.yaml:%d:%d: %s: wrong type: want %s, got %s", line, col, field, want, got)
	}
	integer := "an integer written in decimal"
	number := "a number written in decimal"
	tests := []struct {
		name                     string
		schema, strip, pids, cpu string
		want                     []string // errors; none when valid
	}{
		{name: "decimal", schema: "1", strip: "1", pids: "100", cpu: "2"},
		{name: "zero strip", schema: "1", strip: "0", pids: "1", cpu: "0.5"},
		{name: "fractional cpus", schema: "1", strip: "2", pids: "4096", cpu: "1.25"},
		{name: "hex", schema: "0x1", strip: "0x1", pids: "0x10", cpu: "0x2",
			want: []string{wrong(1, 1, "schema", integer, "a number (0x1)"), wrong(8, 5, "source.archive.strip", integer, "a number (0x1)"),
				wrong(14, 3, "limits.pids", integer, "a number (0x10)"), wrong(15, 3, "limits.cpus", number, "a number (0x2)")}},
		{name: "octal", schema: "0o1", strip: "017", pids: "0o777", cpu: "01",
			want: []string{wrong(1, 1, "schema", integer, "a number (0o1)"), wrong(8, 5, "source.archive.strip", integer, "a number (017)"),
				wrong(14, 3, "limits.pids", integer, "a number (0o777)"), wrong(15, 3, "limits.cpus", number, "a number (01)")}},
		{name: "binary, underscores, plus", schema: "+1", strip: "0b1", pids: "1_000", cpu: "+1.5",
			want: []string{wrong(1, 1, "schema", integer, "a number (+1)"), wrong(8, 5, "source.archive.strip", integer, "a number (0b1)"),
				wrong(14, 3, "limits.pids", integer, "a number (1_000)"), wrong(15, 3, "limits.cpus", number, "a number (+1.5)")}},
		{name: "exponent", schema: "1e0", strip: "1E0", pids: "1e3", cpu: "1e0",
			want: []string{wrong(1, 1, "schema", integer, "a number (1e0)"), wrong(8, 5, "source.archive.strip", integer, "a number (1E0)"),
				wrong(14, 3, "limits.pids", integer, "a number (1e3)"), wrong(15, 3, "limits.cpus", number, "a number (1e0)")}},
		{name: "fraction", schema: "1.0", strip: "1.5", pids: "1.9999", cpu: ".5",
			want: []string{wrong(1, 1, "schema", integer, "a number (1.0)"), wrong(8, 5, "source.archive.strip", integer, "a number (1.5)"),
				wrong(14, 3, "limits.pids", integer, "a number (1.9999)"), wrong(15, 3, "limits.cpus", number, "a number (.5)")}},
		{name: "quoted", schema: `"1"`, strip: `'1'`, pids: `"10"`, cpu: `"2"`,
			want: []string{wrong(1, 1, "schema", integer, `"1"`), wrong(8, 5, "source.archive.strip", integer, `"1"`),
				wrong(14, 3, "limits.pids", integer, `"10"`), wrong(15, 3, "limits.cpus", number, `"2"`)}},
		{name: "infinity and nan", schema: "1", strip: ".inf", pids: "-.inf", cpu: ".nan",
			want: []string{wrong(8, 5, "source.archive.strip", integer, "a number (.inf)"),
				wrong(14, 3, "limits.pids", integer, "a number (-.inf)"), wrong(15, 3, "limits.cpus", number, "a number (.nan)")}},
		{name: "out of range", schema: "99999999999999999999", strip: "1", pids: "9223372036854775808", cpu: "1",
			want: []string{wrong(1, 1, "schema", "an integer in range", "a number (99999999999999999999)"),
				wrong(14, 3, "limits.pids", "an integer in range", "a number (9223372036854775808)")}},
		{name: "decimal but invalid", schema: "2", strip: "-1", pids: "-1", cpu: "2000",
			want: []string{"r.yaml:1:1: schema: unsupported schema version 2 (this reprove reads schema 1)",
				"r.yaml:8:5: source.archive.strip: must not be negative",
				"r.yaml:14:3: limits.pids: must not be negative",
				"r.yaml:15:3: limits.cpus: must be a number of CPUs between 0 and 1024"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse("r.yaml", []byte(numberRecipe(tt.schema, tt.strip, tt.pids, tt.cpu)))
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("errors (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			got = []string{fmt.Sprint(r.Schema), fmt.Sprint(r.Source.Archive.Strip), fmt.Sprint(r.Limits.Pids), fmt.Sprint(r.Limits.CPUs)}
			if diff := cmp.Diff([]string{tt.schema, tt.strip, tt.pids, tt.cpu}, got); diff != "" {
				t.Errorf("decoded values (-want +got):\n%s", diff)
			}
		})
	}
}
