package compare

import (
	"context"
	"errors"
	"fmt"

	"github.com/reprove/reprove/compare/exe"
	"github.com/reprove/reprove/compare/exediff"
	"github.com/reprove/reprove/compare/report"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/internal/english"
)

// compareLayout explains two parsed executables by their functions, data
// and strings (package exediff), adding the groups under parent. It
// returns the sections whose byte differences that accounts for, and
// whether functions were analysed at all.
func (e *engine) compareLayout(parent *report.Node, a, b *blob, xa, xb *exe.File) (map[string]bool, bool, error) {
	res, err := exediff.Compare(e.ctx, exediff.Side{File: xa, R: a.ra}, exediff.Side{File: xb, R: b.ra},
		exediff.Options{MaxBytes: e.lim.MaxCode, MaxListing: e.lim.MaxListing})
	switch {
	case err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		return nil, false, err
	case err != nil:
		e.add(parent, e.placed(&report.Node{Name: "functions", Kind: verdict.KindContent, Summary: "not analysed: " + err.Error()}, -3))
		return nil, false, nil
	}
	analysed := res.FuncCounts.Total() > 0
	if analysed {
		g := e.placed(&report.Node{Name: "functions", Kind: verdict.KindGroup, Summary: funcSummary(res, xa)}, -2)
		e.addItems(g, res.Funcs, verdict.KindFunction, "functions")
		e.attach(parent, g)
	}
	for _, n := range res.Notes {
		e.note(a.where, n)
	}
	if !analysed && (xa.FuncsSkipped != "" || xb.FuncsSkipped != "") {
		why := xa.FuncsSkipped
		if why == "" {
			why = xb.FuncsSkipped
		}
		e.note(a.where, "functions not compared: "+why)
	}
	if len(res.Strings) > 0 {
		// Strings first: the plainest of causes to read.
		g := e.placed(&report.Node{Name: "strings", Kind: verdict.KindGroup}, -3)
		var rm, ad int
		for _, it := range res.Strings {
			n := &report.Node{Name: it.Name, Kind: verdict.KindString, Change: change(it.Class)}
			if it.Class == exediff.Removed {
				rm++
				n.Summary = "only in rebuilt"
			} else {
				ad++
				n.Summary = "only in shipped"
			}
			e.add(g, n)
		}
		g.Summary = fmt.Sprintf("%d only in rebuilt, %d only in shipped", rm, ad)
		e.attach(parent, g)
	}
	if len(res.Objects) > 0 || len(res.Data) > 0 {
		g := e.placed(&report.Node{Name: "data", Kind: verdict.KindGroup}, -1)
		e.addItems(g, res.Objects, verdict.KindObject, "objects")
		effect := len(res.Objects) == 0
		for _, it := range res.Data {
			n := &report.Node{Name: it.Name, Kind: verdict.KindData, Change: report.ChangeChanged, Summary: it.Summary, Lines: it.Lines, Effect: it.ShownWithCode}
			if it.ShownWithCode {
				n.Summary += "; shown with the functions that refer to it"
			}
			effect = effect && it.ShownWithCode
			e.add(g, n)
		}
		g.Effect = effect
		c := res.ObjectCounts
		g.Summary = fmt.Sprintf("%d named objects changed, %d added, %d removed, %d moved, %d identical; %s of data without a name changed",
			c[exediff.Changed], c[exediff.Added], c[exediff.Removed], c[exediff.Moved], c[exediff.Identical], english.Count(len(res.Data), "section"))
		if c.Total() == 0 {
			g.Summary = fmt.Sprintf("%s of data without a name changed (the files have no data symbols)", english.Count(len(res.Data), "section"))
		}
		e.attach(parent, g)
	}
	return res.Explained, analysed, nil
}

func funcSummary(res *exediff.Result, x *exe.File) string {
	c := res.FuncCounts
	s := fmt.Sprintf("%d changed, %d added, %d removed, %d moved, %d identical of %d (from the %s",
		c[exediff.Changed], c[exediff.Added], c[exediff.Removed], c[exediff.Moved], c[exediff.Identical], c.Total(), res.FuncsFrom)
	if res.FuncsFrom == "pclntab" && x.SymbolsSkipped != "" {
		s += "; " + x.SymbolsSkipped
	}
	s += ")"
	return s
}

func change(c exediff.Class) report.Change {
	switch c {
	case exediff.Moved:
		return report.ChangeMoved
	case exediff.Changed:
		return report.ChangeChanged
	case exediff.Added:
		return report.ChangeAdded
	case exediff.Removed:
		return report.ChangeRemoved
	}
	return report.ChangeNone
}

// addItems adds changed, added and removed items as leaves of g, and the
// moved ones, which follow from them, as one group of effects.
func (e *engine) addItems(g *report.Node, items []exediff.Item, kind verdict.Kind, what string) {
	moved := &report.Node{Name: "moved", Kind: verdict.KindGroup, Effect: true}
	for _, it := range items {
		n := &report.Node{Name: it.Name, Kind: kind, Change: change(it.Class), Lines: it.Lines, LinesOmitted: it.LinesOmitted}
		if it.Class == exediff.Moved {
			e.add(moved, n)
			continue
		}
		n.Summary = where(it)
		if it.Summary != "" {
			n.Summary += ": " + it.Summary
		}
		e.add(g, n)
	}
	if len(moved.Children) > 0 {
		moved.Summary = fmt.Sprintf("%d %s: the same once addresses are mapped", len(moved.Children), what)
		g.Children = append(g.Children, moved)
	}
}

// where says where an item lives: section, address, size.
func where(it exediff.Item) string {
	switch {
	case it.Class == exediff.Added:
		return fmt.Sprintf("in %s at %#x, %d bytes", it.Section, it.AddrB, it.SizeB)
	case it.Class == exediff.Removed:
		return fmt.Sprintf("in %s at %#x, %d bytes", it.Section, it.AddrA, it.SizeA)
	case it.AddrA == it.AddrB && it.SizeA == it.SizeB:
		return fmt.Sprintf("in %s at %#x", it.Section, it.AddrA)
	case it.SizeA == it.SizeB:
		return fmt.Sprintf("in %s at %#x → %#x", it.Section, it.AddrA, it.AddrB)
	}
	return fmt.Sprintf("in %s at %#x → %#x, %d → %d bytes", it.Section, it.AddrA, it.AddrB, it.SizeA, it.SizeB)
}
