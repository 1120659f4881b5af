package compare

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprove/reprove/compare/report"
)

// IDs handed out by members compared at the same time come in any order;
// the report numbers them in the tree's order, and See follows.
func TestNumberIDs(t *testing.T) {
	tree := func(first, second string) *report.Node {
		return &report.Node{Name: "release.tar", Children: []*report.Node{
			{Name: "a.deb", Children: []*report.Node{
				{Name: "md5sums", Children: []*report.Node{{Name: "usr/bin/a", See: first}}},
				{Name: "usr/bin/a", ID: first},
			}},
			{Name: "b.deb", Children: []*report.Node{
				{Name: "md5sums", Children: []*report.Node{{Name: "usr/bin/b", See: second}}},
				{Name: "usr/bin/b", ID: second},
			}},
		}}
	}
	inOrder, swapped := tree("n1", "n2"), tree("n2", "n1")
	numberIDs(inOrder)
	numberIDs(swapped)
	if diff := cmp.Diff(inOrder, swapped); diff != "" {
		t.Errorf("the same tree with IDs handed out in another order (-first +second):\n%s", diff)
	}
	want := tree("n1", "n2")
	if diff := cmp.Diff(want, swapped); diff != "" {
		t.Errorf("IDs not in tree order (-want +got):\n%s", diff)
	}
}
