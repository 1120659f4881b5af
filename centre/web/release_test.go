package web

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/centre/store"
)

// A title is the name most distinct signers give the shipped file, with
// who claims it; a recipe's name, or a name given another file, is not.
func TestTitleOf(t *testing.T) {
	d, other := digest.FromString("shipped"), digest.FromString("other")
	entries := []*store.Entry{
		{Index: 0, Signers: []string{"a"}}, {Index: 1, Signers: []string{"b"}}, {Index: 2, Signers: []string{"a"}},
		{Index: 3, Signers: []string{"mallory"}}, {Index: 4, Signers: []string{"mallory"}},
	}
	described := map[int64]*item.Described{
		0: {Kind: item.Summary, Subjects: []item.Subject{{Name: "hello-1.0.tar", Digest: d}}},
		1: {Kind: item.Summary, Subjects: []item.Subject{{Name: "hello-1.0.tar", Digest: d}}},
		2: {Kind: item.Comparison, Subjects: []item.Subject{{Name: "hello-1.0.tar", Digest: d}}},
		3: {Kind: item.Rebuild, Subjects: []item.Subject{{Name: "bank-app.exe", Digest: d}}},
		4: {Kind: item.Rebuild, Subjects: []item.Subject{{Name: "hijack", Digest: other}}},
	}
	title, claimants, others := titleOf(entries, described, d)
	if diff := cmp.Diff([]any{"hello-1.0.tar", []string{"a", "b"}, []string{"bank-app.exe"}}, []any{title, claimants, others}); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
