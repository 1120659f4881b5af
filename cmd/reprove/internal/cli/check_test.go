package cli

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprove/reprove/builder/check"
	"github.com/reprove/reprove/pipeline"
)

// A cause found by a variation alone is explained by it; a clock blamed
// because two normal builds differed is explained by the note alone (the
// shifted clock did not show it).
func TestPrintCheckCauses(t *testing.T) {
	for _, tc := range []struct {
		name string
		rep  check.Report
		want []string
	}{
		{"variation", check.Report{Bisected: true, Causes: []string{check.TimeVariation}},
			[]string{"  caused by: time", "    time: the outputs change when the host's clock becomes 398 days 7:13:17 ahead"}},
		{"two normal builds", check.Report{Bisected: true, Causes: []string{check.TimeVariation}, Note: "two builds under the same conditions differ"},
			[]string{"  caused by: time", "  two builds under the same conditions differ"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.rep.Variations = check.Variations()
			var b strings.Builder
			printCheck(&b, style{}, &pipeline.CheckResult{Report: &tc.rep})
			var got []string
			for _, l := range strings.Split(b.String(), "\n") {
				if strings.HasPrefix(l, "  caused by") || strings.HasPrefix(l, "    ") || strings.HasPrefix(l, "  two") {
					got = append(got, l)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("printCheck (-want +got):\n%s", diff)
			}
		})
	}
}
