package english

import "testing"

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		one  string
		many []string
		want string
	}{
		{0, "step", nil, "0 steps"},
		{1, "step", nil, "1 step"},
		{2, "output", nil, "2 outputs"},
		{1, "stretch", []string{"stretches"}, "1 stretch"},
		{3, "stretch", []string{"stretches"}, "3 stretches"},
		{-1, "byte", nil, "-1 bytes"},
	} {
		if got := Count(tc.n, tc.one, tc.many...); got != tc.want {
			t.Errorf("Count(%d, %q, %q) = %q, want %q", tc.n, tc.one, tc.many, got, tc.want)
		}
	}
	if got := Count(int(2), "entry", "entries"); got != "2 entries" {
		t.Errorf("int: %q", got)
	}
}
