package exediff_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/reprove/reprove/compare/exe"
	"github.com/reprove/reprove/compare/exediff"
)

// codeSide is an executable holding only code: one function, f, over all
// of it.
func codeSide(code []byte) exediff.Side {
	const addr = 0x401000
	return exediff.Side{File: &exe.File{
		Arch: "amd64", PtrSize: 8, ByteOrder: binary.LittleEndian,
		Sections:  []exe.Section{{Name: ".text", Size: int64(len(code)), Addr: addr, MemSize: uint64(len(code)), Exec: true}},
		Funcs:     []exe.Symbol{{Name: "f", Section: ".text", Addr: addr, Size: int64(len(code)), Func: true, Sized: true}},
		FuncsFrom: "symbol table",
	}, R: bytes.NewReader(code)}
}

// A function whose last differing byte ends an instruction of the first
// side but lies inside one of the second's (here a 10-byte MOVQ where the
// first has NOPs) is not cut there: pieces of the second side's
// instruction decoded alone used to be diffed, then shown as whatever
// whole instructions those positions held.
func TestCutInsideAnInstruction(t *testing.T) {
	nops := bytes.Repeat([]byte{0x90}, 40)
	a := bytes.Clone(nops)
	b := bytes.Clone(nops)
	b[1], b[2] = 0x48, 0xb8 // MOVQ $0x9090909090909090, AX: bytes 1 to 10
	r, err := exediff.Compare(context.Background(), codeSide(a), codeSide(b), exediff.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Funcs) != 1 || r.Funcs[0].Class != exediff.Changed {
		t.Fatalf("functions: %+v", r.Funcs)
	}
	var added []string
	for _, l := range r.Funcs[0].Lines {
		if strings.HasPrefix(l, "+") {
			added = append(added, l)
		}
	}
	if len(added) != 1 || !strings.HasPrefix(added[0], "+ +0x0001  MOVQ $0x9090909090909090") {
		t.Errorf("added lines %q, want the MOVQ at +0x0001 alone; all lines:\n%s", added, strings.Join(r.Funcs[0].Lines, "\n"))
	}
}
