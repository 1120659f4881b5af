package infer

import (
	"bytes"
	"compress/zlib"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompilerOf(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Compiler
		ok   bool
	}{
		{"GCC: (Debian 12.2.0-14+deb12u1) 12.2.0", Compiler{Name: "gcc", Version: "12.2.0", Distro: "12.2.0-14+deb12u1"}, true},
		{"GCC: (GNU) 13.2.1 20230801", Compiler{Name: "gcc", Version: "13.2.1"}, true},
		{"Debian clang version 14.0.6", Compiler{Name: "clang", Version: "14.0.6"}, true},
		{"rustc version 1.63.0", Compiler{Name: "rustc", Version: "1.63.0"}, true},
		{"Linker: LLD 14.0.6", Compiler{}, false},
	} {
		got, ok := compilerOf(tc.in)
		got.Raw = ""
		if ok != tc.ok || got != tc.want {
			t.Errorf("compilerOf(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// A C program compiled here: its compiler, build ID, interpreter and
// libraries are read; cargo-auditable's section, added to it, is decoded.
func TestReadNativeELF(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "h.c")
	os.WriteFile(src, []byte("#include <stdio.h>\nint main(void){puts(\"hi\");return 0;}\n"), 0o644)
	exe := filepath.Join(dir, "h")
	if out, err := exec.Command("gcc", "-O2", "-Wl,--build-id", "-o", exe, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte(`{"packages":[{"name":"hello","version":"0.1.0","source":"local","root":true},{"name":"itoa","version":"1.0.11","source":"crates.io"}]}`))
	zw.Close()
	dep := filepath.Join(dir, "dep")
	os.WriteFile(dep, z.Bytes(), 0o644)
	withDeps := filepath.Join(dir, "h2")
	if out, err := exec.Command("objcopy", "--add-section", ".dep-v0="+dep, exe, withDeps).CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v\n%s", err, out)
	}
	nf, err := ReadNative(context.Background(), withDeps, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if len(nf.Compilers) == 0 || nf.Compilers[0].Name != "gcc" || nf.BuildID == "" || nf.Interpreter == "" || !slices.Contains(nf.Needed, "libc.so.6") {
		t.Errorf("facts = %+v", nf)
	}
	want := []CrateDep{{Name: "hello", Version: "0.1.0", Source: "local", Root: true}, {Name: "itoa", Version: "1.0.11", Source: "crates.io"}}
	if diff := cmp.Diff(want, nf.CargoAuditable); diff != "" {
		t.Errorf("cargo auditable (-want +got):\n%s", diff)
	}
	s := SuggestNative(nf)
	if !slices.Contains(s.Packages, "gcc-"+nf.Compilers[0].Version[:2]) {
		t.Errorf("suggested %v for %+v", s.Packages, nf.Compilers[0])
	}
}

// A Windows executable (Go's, cross-compiled): the DLLs it imports.
func TestReadNativePE(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles a Go program")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n\ngo 1.21\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
	exe := filepath.Join(dir, "x.exe")
	cmd := exec.Command("go", "build", "-o", exe, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("go build: %v\n%s", err, out)
	}
	nf, err := ReadNative(context.Background(), exe, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if nf.Format != "pe" || !slices.Contains(nf.Needed, "kernel32.dll") {
		t.Errorf("facts = %+v", nf)
	}
}

func FuzzCargoAuditable(f *testing.F) {
	f.Add([]byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		cargoAuditable(b)
	})
}
