package compare_test

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprove/reprove/compare/internal/testexe"
	"github.com/reprove/reprove/compare/render"
	"github.com/reprove/reprove/compare/verdict"
)

// A stripped C program whose build year is an immediate operand: the
// report names the function and shows the one instruction that changed in
// its first lines, not "1 byte differs in .text".
func TestNativeYearImmediate(t *testing.T) {
	flags := []string{"-O2", "-s", "-fPIE", "-pie"}
	a := testexe.BuildC(t, testexe.Year, append(flags, "-DYEAR=2025")...)
	b := testexe.BuildC(t, testexe.Year, append(flags, "-DYEAR=2026")...)
	r := filesReport(t, a, b)
	if r.Verdict != verdict.Different {
		t.Fatalf("verdict %v", r.Verdict)
	}
	var txt bytes.Buffer
	if err := render.Text(&txt, r); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(txt.String(), "\n")
	head := strings.Join(lines[:min(15, len(lines))], "\n")
	for _, want := range []string{"main: in .text", "1 instruction differs", "- +0x", "$0x7e9", "+ +0x", "$0x7ea"} {
		if !strings.Contains(head, want) {
			t.Errorf("the first 15 lines do not show %q:\n%s", want, txt.String())
		}
	}
	if t.Failed() {
		return
	}
	// The other functions are the same and named from the unwind table.
	if strings.Contains(txt.String(), "1 byte differs") {
		t.Errorf("the report still speaks of bytes:\n%s", txt.String())
	}
}

// A function inserted into a stripped C program: the functions after it
// moved, and are paired by their place although their names (sub_ADDR)
// are addresses; only the new one is added.
func TestNativeInsertedFunction(t *testing.T) {
	flags := []string{"-O2", "-s", "-fPIE", "-pie", "-DYEAR=2025"}
	a := testexe.BuildC(t, testexe.Year, flags...)
	b := testexe.BuildC(t, testexe.Year, append(flags, "-DEXTRA")...)
	r := filesReport(t, a, b)
	var txt bytes.Buffer
	if err := render.Text(&txt, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt.String(), " 1 added, 0 removed, ") {
		t.Errorf("want one function added and none removed:\n%s", txt.String())
	}
}

// The same for a Windows executable built by mingw-w64 and stripped: its
// functions come from .pdata.
func TestNativePEYearImmediate(t *testing.T) {
	a := testexe.BuildWindowsC(t, testexe.Year, "-O2", "-s", "-DYEAR=2025")
	b := testexe.BuildWindowsC(t, testexe.Year, "-O2", "-s", "-DYEAR=2026")
	r := filesReport(t, a, b)
	var txt bytes.Buffer
	if err := render.Text(&txt, r); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(txt.String(), "\n")
	head := strings.Join(lines[:min(15, len(lines))], "\n")
	for _, want := range []string{"(from the unwind table)", "1 instruction differs", "$0x7e9", "$0x7ea"} {
		if !strings.Contains(head, want) {
			t.Errorf("the first 15 lines do not show %q:\n%s", want, txt.String())
		}
	}
}

// Two builds of one C program whose code and data are the same but whose
// debug information differs (built in other directories), stripped as
// Debian's dh_strip strips them (debug information moved to a detached
// file, a debug link naming it): only the GNU build ID and the debug link
// differ. The build ID is the cause, said in the first 15 lines, and the
// debug link follows from it: not the other way round.
func TestNativeOnlyBuildIDDiffers(t *testing.T) {
	flags := []string{"-g", "-O2", "-fPIE", "-pie", "-Wl,--build-id=sha1", "-DYEAR=2025"}
	strip := func(prog string) string {
		debug := prog + ".debug"
		for _, args := range [][]string{
			{"objcopy", "--only-keep-debug", prog, debug},
			{"strip", "--remove-section=.comment", "--remove-section=.note", "--strip-debug", "--strip-unneeded", prog},
			{"objcopy", "--add-gnu-debuglink=" + debug, prog},
		} {
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Dir = filepath.Dir(prog)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", args, err, out)
			}
		}
		return prog
	}
	a := strip(testexe.BuildC(t, testexe.Year, flags...))
	b := strip(testexe.BuildC(t, testexe.Year, flags...))
	r := filesReport(t, a, b)
	if r.Verdict != verdict.Different {
		t.Fatalf("verdict %v (the two builds' debug information should differ by their directories)", r.Verdict)
	}
	var txt bytes.Buffer
	if err := render.Text(&txt, r); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(txt.String(), "\n")
	head := strings.Join(lines[:min(15, len(lines))], "\n")
	for _, want := range []string{".note.gnu.build-id: the build ID differs and nothing else in the code or data does", "debug information", ".gnu_debuglink: names the detached debug file by the build ID"} {
		if !strings.Contains(head, want) {
			t.Errorf("the first 15 lines do not say %q:\n%s", want, txt.String())
		}
	}
	if i, j := strings.Index(txt.String(), ".note.gnu.build-id"), strings.Index(txt.String(), ".gnu_debuglink"); i < 0 || j < 0 || i > j {
		t.Errorf("the build ID (the cause) is not shown before the debug link (its effect):\n%s", txt.String())
	}
	if r.Counts.Causes != 1 {
		t.Errorf("%d causes, want 1 (the build ID):\n%s", r.Counts.Causes, txt.String())
	}
}
