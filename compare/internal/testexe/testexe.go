// Package testexe builds real executables and signs them for compare's
// tests: a Go program cross-compiled for Windows, and an Authenticode
// signature made by osslsigncode with a certificate generated on the spot.
package testexe

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// GoTool returns the go command: the one on PATH, else Go's usual place.
func GoTool(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		p = "/usr/local/go/bin/go"
		if _, serr := os.Stat(p); serr != nil {
			t.Fatalf("find the go command: %v", err)
		}
	}
	return p
}

// Build writes src as main.go in a fresh module and builds it with the
// given GOOS/GOARCH and extra go build flags, returning the binary's path. The environment is
// pinned so that two builds of the same source are bit-identical.
func Build(t testing.TB, goos, goarch, src string, extraArgs ...string) string {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "go.mod"), "module example.com/hello\n\ngo 1.21\n")
	write(t, filepath.Join(dir, "main.go"), src)
	out := filepath.Join(dir, "hello")
	if goos == "windows" {
		out += ".exe"
	}
	args := []string{"build", "-trimpath", "-buildvcs=false", "-o", out}
	args = append(args, extraArgs...)
	cmd := exec.Command(GoTool(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0", "GOFLAGS=", "GO111MODULE=on", "GOTOOLCHAIN=local")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build for %s/%s: %v\n%s", goos, goarch, err, b)
	}
	return out
}

// Hello is a small program whose message can be varied.
func Hello(msg string) string {
	return "package main\n\nimport \"fmt\"\n\nfunc greet() string { return \"" + msg + "\" }\n\nfunc main() { fmt.Println(greet()) }\n"
}

// Sign signs the PE image at in with a new self-signed certificate whose
// common name is cn, using osslsigncode, and returns the signed file.
func Sign(t testing.TB, in, cn string) string {
	t.Helper()
	tool, err := exec.LookPath("osslsigncode")
	if err != nil {
		t.Fatalf("osslsigncode is not installed (ci/setup.sh installs it): %v", err)
	}
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(4242),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Example Vendor"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	write(t, certPath, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	write(t, keyPath, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})))
	out := filepath.Join(dir, "signed.exe")
	cmd := exec.Command(tool, "sign", "-certs", certPath, "-key", keyPath, "-h", "sha256", "-n", "hello", "-in", in, "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("osslsigncode sign: %v\n%s", err, b)
	}
	return out
}

func write(t testing.TB, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// HelloExtra is Hello with one more function, called from main.
func HelloExtra(msg string) string {
	return "package main\n\nimport \"fmt\"\n\nfunc greet() string { return \"" + msg + "\" }\n\n//go:noinline\nfunc extra(n int) int { return n*7 + 3 }\n\nfunc main() { fmt.Println(greet(), extra(len(greet()))) }\n"
}

// Shipped are the linker flags real Go releases are built with (with
// Build's -trimpath and CGO off).
var Shipped = []string{"-ldflags=-s -w"}

// BuildC compiles the C program src with gcc and the given flags
// (for example -O2 -s -fPIE -pie), returning the executable's path.
// Builds of the same source and flags are bit-identical.
func BuildC(t testing.TB, src string, flags ...string) string {
	t.Helper()
	return buildC(t, "gcc", "prog", src, flags...)
}

// BuildWindowsC is BuildC with mingw-w64's cross compiler, returning a
// Windows x64 executable.
func BuildWindowsC(t testing.TB, src string, flags ...string) string {
	t.Helper()
	return buildC(t, "x86_64-w64-mingw32-gcc", "prog.exe", src, flags...)
}

func buildC(t testing.TB, compiler, name, src string, flags ...string) string {
	t.Helper()
	gcc, err := exec.LookPath(compiler)
	if err != nil {
		t.Fatalf("%s is not installed (ci/setup.sh --test installs it): %v", compiler, err)
	}
	dir := t.TempDir()
	write(t, filepath.Join(dir, "main.c"), src)
	out := filepath.Join(dir, name)
	args := append([]string{"-o", out, "main.c"}, flags...)
	cmd := exec.Command(gcc, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "SOURCE_DATE_EPOCH=1700000000")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc %v: %v\n%s", flags, err, b)
	}
	return out
}

// Year is a C program that prints a build year given as -DYEAR=…, beside
// a few functions of its own, and exports one (-rdynamic names it).
const Year = `#include <stdio.h>
#include <stdlib.h>

#ifdef EXTRA
__attribute__((noinline)) int extra(int x) { return x * x - 7 * x + 3; }
#define EXTRA_CALL(x) extra(x)
#else
#define EXTRA_CALL(x) 0
#endif
__attribute__((noinline)) int twice(int x) { return 2 * x + (x > 100); }
__attribute__((noinline)) static int sum(const char *s) { int n = 0; while (*s) n += *s++; return n; }
__attribute__((noinline)) static int helper(int argc) { return sum("reprove") * argc + twice(argc); }

int main(int argc, char **argv) {
	printf("built in %d\n", YEAR);
	printf("%d\n", helper(argc) + (argc > 1 ? atoi(argv[1]) : 0) + EXTRA_CALL(argc));
	return 0;
}
`
