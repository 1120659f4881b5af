package infer

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

// stampNames are the names release tooling commonly gives the string
// variables it sets with -X, by what they hold (goreleaser's defaults are
// main.version, main.commit, main.date and main.builtBy).
var stampNames = map[string]StampKind{
	"version": StampVersion, "appversion": StampVersion, "buildversion": StampVersion, "gitversion": StampVersion, "tag": StampVersion, "gittag": StampVersion,
	"commit": StampCommit, "gitcommit": StampCommit, "commithash": StampCommit, "revision": StampCommit, "gitrevision": StampCommit, "sha": StampCommit, "gitsha": StampCommit, "buildcommit": StampCommit,
	"date": StampBuildDate, "builddate": StampBuildDate, "buildtime": StampBuildDate, "buildtimestamp": StampBuildDate, "commitdate": StampCommitDate,
}

// Limits of the scan: it reads a source that came from outside.
const (
	maxStampFiles    = 5000
	maxStampFileSize = 1 << 20
)

// findStampVars lists the main module's package-level string variables
// whose names release tooling commonly sets with -X (version, commit,
// date, …), as the -X flag names them (import path and name). The module
// at root/moduleDir has the module path modulePath. The tree is read
// through an os.Root; test files, testdata, vendor and hidden directories
// are skipped.
func findStampVars(root, moduleDir, modulePath string) []StampVar {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil
	}
	defer r.Close()
	start := orDot(moduleDir)
	var out []StampVar
	files := 0
	fset := token.NewFileSet()
	fs.WalkDir(r.FS(), start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			name := d.Name()
			if p != start && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor") {
				return fs.SkipDir
			}
			if p != start {
				if _, err := r.Stat(path.Join(p, "go.mod")); err == nil {
					return fs.SkipDir // another module
				}
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") || !d.Type().IsRegular() {
			return nil
		}
		if files++; files > maxStampFiles {
			return fs.SkipAll
		}
		f, err := r.Open(p)
		if err != nil {
			return nil
		}
		b, err := readRegular(f, maxStampFileSize)
		f.Close()
		if err != nil {
			return nil
		}
		file, err := parser.ParseFile(fset, p, b, parser.SkipObjectResolution)
		if err != nil {
			return nil
		}
		importPath := "main" // -X names a main package's variables main.name
		if file.Name.Name != "main" {
			importPath = modulePath
			if rel := strings.TrimPrefix(strings.TrimPrefix(path.Dir(p), start), "/"); rel != "" {
				importPath += "/" + rel
			}
		}
		for _, decl := range file.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				if !stringVar(vs) {
					continue
				}
				for _, n := range vs.Names {
					if kind, ok := stampNames[strings.ToLower(n.Name)]; ok {
						v := StampVar{Var: importPath + "." + n.Name, Kind: kind}
						if !slices.Contains(out, v) {
							out = append(out, v)
						}
					}
				}
			}
		}
		return nil
	})
	return out
}

// stringVar reports whether a var spec declares strings -X can set: of
// type string, or initialised with string literals only.
func stringVar(vs *ast.ValueSpec) bool {
	if id, ok := vs.Type.(*ast.Ident); ok {
		return id.Name == "string"
	}
	if vs.Type != nil || len(vs.Values) == 0 {
		return false
	}
	for _, v := range vs.Values {
		if lit, ok := v.(*ast.BasicLit); !ok || lit.Kind != token.STRING {
			return false
		}
	}
	return true
}

// StampVar is a string variable of the source that a -X flag may set.
type StampVar struct {
	Var  string    `json:"var"`
	Kind StampKind `json:"kind"`
}
