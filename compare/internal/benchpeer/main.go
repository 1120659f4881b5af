// Command benchpeer supports ci/bench-compare.sh: it generates the pairs
// reprove and diffoscope are both run on, and reads the differing members
// out of each tool's JSON report so the script can check that both found
// the same ones.
//
//	benchpeer gen DIR           write the pairs into DIR
//	benchpeer large DIR         write a ~1 GB tar.gz pair into DIR
//	benchpeer reprove FILE      differing members in a reprove --json report
//	benchpeer diffoscope FILE   differing members in a diffoscope --json report
package main

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: benchpeer gen|large|reprove|diffoscope ARG")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2])
	case "large":
		err = large(os.Args[2])
	case "reprove":
		err = printSet(reproveMembers(os.Args[2]))
	case "diffoscope":
		err = printSet(diffoscopeMembers(os.Args[2]))
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchpeer:", err)
		os.Exit(1)
	}
}

func printSet(s []string, err error) error {
	if err != nil {
		return err
	}
	sort.Strings(s)
	fmt.Println(strings.Join(s, " "))
	return nil
}

// gen writes two pairs: a Go-toolchain-like zip (the files of GOROOT/src,
// as golang.org/toolchain module zips hold them) whose second build
// differs only in some members' modes and in member order; and two Go
// binaries differing in one function.
func gen(dir string) error {
	root := filepath.Join(runtime.GOROOT(), "src")
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
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
		rel, _ := filepath.Rel(runtime.GOROOT(), p)
		a[i] = entry{name: "go/" + filepath.ToSlash(rel), path: p, mode: 0o644}
	}
	b := append([]entry(nil), a...)
	var changed []string
	for i := 100; i < len(b); i += 500 { // exec bit on a few members
		b[i].mode = 0o755
		changed = append(changed, b[i].name)
	}
	for i := 50; i+1 < len(b); i += 1000 { // a few members swapped
		b[i], b[i+1] = b[i+1], b[i]
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
	os.WriteFile(filepath.Join(dir, "toolchain.expected"), []byte(strings.Join(changed, " ")+"\n"), 0o644)

	src := `package main

import (
	"fmt"
	"os"
)

//go:noinline
func checksum(b []byte) uint32 {
	var h uint32 = 2166136261
	for _, c := range b {
		h ^= uint32(c)
		h *= %d
	}
	return h
}

func main() { fmt.Println(checksum([]byte(os.Args[0]))) }
`
	for i, prime := range []int{16777619, 16777633} {
		mod := filepath.Join(dir, fmt.Sprintf("prog%d", i))
		os.MkdirAll(mod, 0o755)
		os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module example.com/prog\n\ngo 1.21\n"), 0o644)
		os.WriteFile(filepath.Join(mod, "main.go"), []byte(fmt.Sprintf(src, prime)), 0o644)
		cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-trimpath", "-buildvcs=false", "-o", filepath.Join(dir, fmt.Sprintf("prog-%c.elf", 'a'+i)))
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOOS=linux", "GOARCH=amd64")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	return nil
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

type node struct {
	Name     string  `json:"name"`
	Kind     string  `json:"kind"`
	Children []*node `json:"children"`
}

// reproveMembers lists the members (or sections) that have a difference
// other than order in a reprove report.
func reproveMembers(path string) ([]string, error) {
	var r struct {
		Differences *node `json:"differences"`
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	var out []string
	if r.Differences == nil {
		return out, nil
	}
	for _, c := range r.Differences.Children {
		switch {
		case c.Kind == "order" || c.Name == "header" || c.Name == "go build info":
		case strings.HasPrefix(c.Name, ".note"):
			out = appendOnce(out, "(notes)") // diffoscope shows all notes as one
		default:
			out = append(out, strings.TrimPrefix(c.Name, "section "))
		}
	}
	return out, nil
}

type dnode struct {
	Source1     string   `json:"source1"`
	UnifiedDiff string   `json:"unified_diff"`
	Details     []*dnode `json:"details"`
}

var sectionRE = regexp.MustCompile(`(?:--hex-dump=|--section=|--string-dump=)(\S+)`)

// diffoscopeMembers lists the members whose zipinfo line changed (not only
// moved) and the sections diffoscope shows, in a diffoscope report.
func diffoscopeMembers(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var root dnode
	if err := json.NewDecoder(io.Reader(f)).Decode(&root); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	var walk func(n *dnode, depth int)
	walk = func(n *dnode, depth int) {
		if strings.HasPrefix(n.Source1, "readelf --wide --notes") {
			set["(notes)"] = true
		}
		if m := sectionRE.FindStringSubmatch(n.Source1); m != nil {
			set[m[1]] = true
		}
		if strings.HasPrefix(n.Source1, "zipinfo") && !strings.Contains(n.Source1, "-v") {
			minus, plus := map[string]string{}, map[string]string{}
			for _, l := range strings.Split(n.UnifiedDiff, "\n") {
				if len(l) < 2 || strings.HasPrefix(l, "@@") || strings.HasPrefix(l, "---") || strings.HasPrefix(l, "+++") {
					continue
				}
				fields := strings.Fields(l[1:])
				if len(fields) < 9 {
					continue
				}
				name := fields[len(fields)-1]
				switch l[0] {
				case '-':
					minus[name] = l[1:]
				case '+':
					plus[name] = l[1:]
				}
			}
			for name, l := range minus {
				if p, ok := plus[name]; ok && p != l {
					set[name] = true
				}
			}
		}
		if depth == 1 && n.Source1 != "" && !strings.Contains(n.Source1, "{}") && !strings.HasPrefix(n.Source1, "zipinfo") && !strings.HasPrefix(n.Source1, "file list") {
			set[n.Source1] = true
		}
		for _, c := range n.Details {
			walk(c, depth+1)
		}
	}
	walk(&root, 0)
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	return out, nil
}

func appendOnce(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}
