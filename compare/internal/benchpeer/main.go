// Command benchpeer supports ci/bench-compare.sh: it generates the pairs
// reprove and diffoscope are both run on, and checks that each tool's text
// report names the pair's root cause.
//
//	benchpeer gen DIR            write the pairs and what each one's root cause is
//	benchpeer large DIR          write a ~1 GB tar.gz pair into DIR
//	benchpeer check NAME DIR     does DIR/NAME.reprove.txt, and DIR/NAME.diffoscope.txt,
//	                             name the root cause in DIR/NAME.expected? prints "reprove=yes diffoscope=yes"
package main

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/reprove/reprove/compare/exe"
	"github.com/reprove/reprove/compare/format"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: benchpeer gen|large DIR | check NAME DIR")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2])
	case "large":
		err = large(os.Args[2])
	case "check":
		if len(os.Args) != 4 {
			err = fmt.Errorf("usage: benchpeer check NAME DIR")
			break
		}
		err = check(os.Args[2], os.Args[3])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchpeer:", err)
		os.Exit(1)
	}
}

// A pair's root cause is a set of strings a report must contain: written
// one per line to NAME.expected; a line "reprove:X" is for reprove only,
// "diffoscope:X" for diffoscope only.
func expect(dir, name string, lines ...string) error {
	return os.WriteFile(filepath.Join(dir, name+".expected"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

func check(name, dir string) error {
	exp, err := os.ReadFile(filepath.Join(dir, name+".expected"))
	if err != nil {
		return err
	}
	var out []string
	for _, tool := range []string{"reprove", "diffoscope"} {
		text, err := os.ReadFile(filepath.Join(dir, name+"."+tool+".txt"))
		if err != nil {
			return err
		}
		ok, missing := true, ""
		for _, l := range strings.Split(strings.TrimSpace(string(exp)), "\n") {
			if who, what, found := strings.Cut(l, ":"); found && (who == "reprove" || who == "diffoscope") {
				if who != tool {
					continue
				}
				l = what
			}
			if !bytes.Contains(text, []byte(l)) {
				ok, missing = false, l
				break
			}
		}
		if ok {
			out = append(out, tool+"=yes")
		} else {
			out = append(out, fmt.Sprintf("%s=no(missing %q)", tool, missing))
		}
	}
	fmt.Println(strings.Join(out, " "))
	return nil
}

// gen writes four pairs:
//   - toolchain-a.zip, toolchain-b.zip: the files of GOROOT/src as a
//     golang.org/toolchain module zip holds them; the second has 7 members
//     twice;
//   - go-a, go-b: the go command built as releases are (-trimpath, -s -w,
//     CGO off; over 10 MB), and a copy with one byte flipped in the middle
//     of the function at the middle of .text;
//   - str-a, str-b: the go command again, and one built with one string
//     literal of its main.go changed;
//   - ins-a, ins-b: a program using much of the standard library, built
//     with symbols (so diffoscope can name functions too), and one with a
//     function inserted.
func gen(dir string) error {
	if err := genZip(dir); err != nil {
		return err
	}
	if err := goBuild(dir, "go-a", "cmd/go", "-ldflags=-s -w"); err != nil {
		return err
	}
	fn, err := flip(filepath.Join(dir, "go-a"), filepath.Join(dir, "go-b"))
	if err != nil {
		return err
	}
	// diffoscope names no function in a stripped binary: its root cause is
	// the changed instruction in .text.
	if err := expect(dir, "go-flip", "reprove:"+fn, "reprove:in .text", "diffoscope:--section=.text"); err != nil {
		return err
	}
	// The go command again, with one string literal changed (through an
	// overlay of its main.go).
	gr, err := goroot()
	if err != nil {
		return err
	}
	mainGo := filepath.Join(gr, "src", "cmd", "go", "main.go")
	src, err := os.ReadFile(mainGo)
	if err != nil {
		return err
	}
	const from, to = `unknown command\n`, `unknown subcommand\n`
	if !bytes.Contains(src, []byte(from)) {
		return fmt.Errorf("%s no longer says %q", mainGo, from)
	}
	edited := filepath.Join(dir, "main.go")
	os.WriteFile(edited, bytes.Replace(src, []byte(from), []byte(to), 1), 0o644)
	overlay := filepath.Join(dir, "overlay.json")
	os.WriteFile(overlay, []byte(fmt.Sprintf(`{"Replace":{%q:%q}}`, mainGo, edited)), 0o644)
	if err := goBuild(dir, "str-b", "cmd/go", "-ldflags=-s -w", "-overlay="+overlay); err != nil {
		return err
	}
	if err := os.Link(filepath.Join(dir, "go-a"), filepath.Join(dir, "str-a")); err != nil {
		return err
	}
	if err := expect(dir, "str", `reprove:"go %s: unknown command"`, `reprove:"go %s: unknown subcommand"`, "reprove:main.main",
		"diffoscope:unknown command", "diffoscope:unknown subcommand"); err != nil {
		return err
	}
	for _, p := range []struct {
		name, extra string
	}{{"ins-a", ""}, {"ins-b", extraFunc}} {
		src := filepath.Join(dir, p.name+".src")
		os.MkdirAll(src, 0o755)
		os.WriteFile(filepath.Join(src, "go.mod"), []byte("module example.com/prog\n\ngo 1.21\n"), 0o644)
		os.WriteFile(filepath.Join(src, "main.go"), []byte(fmt.Sprintf(program, p.extra, "hello, world", callExtra(p.extra))), 0o644)
		if err := goBuild(dir, p.name, "."); err != nil {
			return err
		}
	}
	return expect(dir, "ins", "main.extra")
}

const program = `package main

import (
	"archive/zip"
	"compress/gzip"
	"crypto/tls"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"go/parser"
	"go/token"
	"html/template"
	"net/http"
	"os"
	"regexp"
)

var sinks []any
%s
func main() {
	fmt.Println(%q%s)
	if len(os.Args) > 5 {
		sinks = append(sinks, zip.NewWriter(os.Stdout), gzip.NewWriter(os.Stdout), &tls.Config{},
			json.NewEncoder(os.Stdout), xml.NewEncoder(os.Stdout), template.New("x"), http.DefaultClient, regexp.MustCompile("a+"))
		_, err := parser.ParseFile(token.NewFileSet(), "x.go", nil, 0)
		sinks = append(sinks, err)
		http.ListenAndServe(":0", nil)
	}
}
`

const extraFunc = `
//go:noinline
func extra(n int) int { return n*7 + 3 }
`

func callExtra(extra string) string {
	if extra == "" {
		return ""
	}
	return ", extra(len(os.Args))"
}

// goroot is the Go installation the go command on PATH uses.
func goroot() (string, error) {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOROOT: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// goBuild builds pkg (in DIR/OUT.src, or the standard library's cmd/go) as
// a release is built.
func goBuild(dir, out, pkg string, flags ...string) error {
	args := append([]string{"build", "-trimpath", "-buildvcs=false", "-o", filepath.Join(dir, out)}, flags...)
	cmd := exec.Command("go", append(args, pkg)...)
	if pkg == "." {
		cmd.Dir = filepath.Join(dir, out+".src")
	}
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOOS=linux", "GOARCH=amd64", "GOTOOLCHAIN=local")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// flip copies a to b with one bit flipped in the middle of the function at
// the middle of .text, and returns that function's name.
func flip(a, b string) (string, error) {
	data, err := os.ReadFile(a)
	if err != nil {
		return "", err
	}
	f, err := exe.Parse(bytes.NewReader(data), int64(len(data)), format.ELF, exe.DefaultLimits())
	if err != nil {
		return "", err
	}
	if len(data) < 10<<20 || len(f.Symbols) > 0 {
		return "", fmt.Errorf("%s: want a stripped binary over 10 MB, have %d bytes with %d symbols", a, len(data), len(f.Symbols))
	}
	var text exe.Section
	for _, s := range f.Sections {
		if s.Name == ".text" {
			text = s
		}
	}
	mid := text.Addr + uint64(text.Size)/2
	for _, fn := range f.Funcs {
		if fn.Addr <= mid && mid < fn.Addr+uint64(fn.Size) {
			data[fn.Offset+fn.Size/2] ^= 0x08
			return fn.Name, os.WriteFile(b, data, 0o755)
		}
	}
	return "", fmt.Errorf("no function at the middle of .text")
}

func genZip(dir string) error {
	gr, err := goroot()
	if err != nil {
		return err
	}
	root := filepath.Join(gr, "src")
	var files []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && !strings.Contains(p, "/testdata/") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	if len(files) > 4000 {
		files = files[:4000]
	}
	type entry struct {
		name string
		path string
		mode fs.FileMode
	}
	a := make([]entry, len(files))
	for i, p := range files {
		rel, _ := filepath.Rel(gr, p)
		a[i] = entry{name: "go/" + filepath.ToSlash(rel), path: p, mode: 0o644}
	}
	// The second build has 7 members twice, as a packaging step that
	// adds files already present leaves them.
	b := append([]entry(nil), a...)
	var dup []string
	for i := 250; i < len(a) && len(dup) < 7; i += 500 {
		b = append(b, a[i])
		dup = append(dup, a[i].name)
	}
	write := func(out string, es []entry) error {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		zw := zip.NewWriter(f)
		for _, e := range es {
			h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
			h.SetMode(e.mode)
			w, err := zw.CreateHeader(h)
			if err != nil {
				return err
			}
			src, err := os.ReadFile(e.path)
			if err != nil {
				return err
			}
			w.Write(src)
		}
		if err := zw.Close(); err != nil {
			return err
		}
		return f.Close()
	}
	if err := write(filepath.Join(dir, "toolchain-a.zip"), a); err != nil {
		return err
	}
	if err := write(filepath.Join(dir, "toolchain-b.zip"), b); err != nil {
		return err
	}
	return expect(dir, "toolchain-zip", dup...)
}

// large writes big-a.tar.gz and big-b.tar.gz, about 1 GB each: 1000
// members of 1 MiB of incompressible bytes (stored, so the files are as big
// as their content), every member's mtime differing and one member's
// content differing.
func large(dir string) error {
	write := func(out string, mtime time.Time, changed int) error {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(f, 1<<20)
		zw, _ := gzip.NewWriterLevel(bw, gzip.NoCompression)
		tw := tar.NewWriter(zw)
		rng := rand.NewChaCha8([32]byte{1})
		buf := make([]byte, 1<<20)
		for i := 0; i < 1000; i++ {
			rng.Read(buf)
			if i == changed {
				buf[12345] ^= 0xff
			}
			h := &tar.Header{Name: fmt.Sprintf("data/part-%04d.bin", i), Mode: 0o644, Size: int64(len(buf)), ModTime: mtime, Typeflag: tar.TypeReg}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			tw.Write(buf)
		}
		tw.Close()
		zw.Close()
		bw.Flush()
		return f.Close()
	}
	if err := write(filepath.Join(dir, "big-a.tar.gz"), time.Unix(1700000000, 0), -1); err != nil {
		return err
	}
	return write(filepath.Join(dir, "big-b.tar.gz"), time.Unix(1700003600, 0), 777)
}
