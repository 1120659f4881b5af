// Start-up, checked (issue 17): reprove is one binary, and every command
// runs every package's initialisers before it does anything, so work done
// there is paid for by `reprove verify` of one file as much as by a
// rebuild. The costliest kind, compiling regular expressions and parsing
// templates into package-level variables, is refused here; such values are
// made on first use (internal/lazyre, sync.OnceValue).
package reprove_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// eager are the calls that must not run while a package is initialised,
// by the package name they are called through.
var eager = map[string][]string{
	"regexp":   {"Compile", "CompilePOSIX", "MustCompile", "MustCompilePOSIX"},
	"template": {"Must", "New", "ParseFS", "ParseFiles", "ParseGlob"},
}

// TestNoEagerInit walks every non-test Go file of the module: a
// package-level variable's initialiser or an init function that compiles
// a regular expression or parses a template fails, by file and line (the
// bodies of function literals, such as sync.OnceValue's argument, run
// later and are not counted). Every literal expression given to
// lazyre.New is compiled here instead, so a broken one still fails a test.
func TestNoEagerInit(t *testing.T) {
	fset := token.NewFileSet()
	files, lazy := 0, 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (d.Name() == "testdata" || d.Name() == "bin" || strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		for _, decl := range f.Decls {
			switch decl := decl.(type) {
			case *ast.GenDecl:
				if decl.Tok != token.VAR {
					continue
				}
				for _, spec := range decl.Specs {
					for _, v := range spec.(*ast.ValueSpec).Values {
						checkInit(t, fset, v)
					}
				}
			case *ast.FuncDecl:
				if decl.Recv == nil && decl.Name.Name == "init" {
					checkInit(t, fset, decl.Body)
				}
			}
		}
		// Every literal handed to lazyre.New, wherever it is.
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || !isCall(call, "lazyre", "New") || len(call.Args) != 1 {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			expr, err := strconv.Unquote(lit.Value)
			if err == nil {
				_, err = regexp.Compile(expr)
			}
			if err != nil {
				t.Errorf("%s: lazyre.New(%s): %v", fset.Position(lit.Pos()), lit.Value, err)
			}
			lazy++
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 || lazy < 10 {
		t.Fatalf("walked implausibly little: %d files, %d lazy expressions", files, lazy)
	}
}

// checkInit reports the eager calls in n that run when the package is
// initialised (not those inside a function literal).
func checkInit(t *testing.T, fset *token.FileSet, n ast.Node) {
	t.Helper()
	ast.Inspect(n, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.CallExpr:
			for pkg, names := range eager {
				for _, name := range names {
					if isCall(n, pkg, name) {
						t.Errorf("%s: %s.%s runs at start-up, in every reprove command; make the value on first use (internal/lazyre, sync.OnceValue)",
							fset.Position(n.Pos()), pkg, name)
					}
				}
			}
		}
		return true
	})
}

// isCall reports whether call is pkg.name(…).
func isCall(call *ast.CallExpr, pkg, name string) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != name {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && id.Name == pkg
}
