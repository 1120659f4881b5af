package clockshift

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/recipes"
)

// Offset is the clock shift reprove check applies: a year, a month, a
// day, some hours, minutes and seconds, so that the year, the month, the
// day, the hour and the minute all read differently. It is ahead, not
// behind: the source's files then look old, never from the future (make
// and tar warn about files from the future).
const Offset = 398*24*3600 + 7*3600 + 13*60 + 17

// Describe says what Offset is, for reports.
const Describe = "398 days 7:13:17 ahead"

// GoVersion is the Go release the helper is built with.
const GoVersion = "1.26.8"

// HelperDigest pins the helper that Recipe builds: reprove builds it from
// the source below with GoVersion (the build is reproducible) and refuses
// to run any other. A change to helper/main.go or to Recipe changes it
// (TestHelperBuildsToItsPin says the new value, and so does check when
// the build it makes does not match).
const HelperDigest digest.Digest = "sha256:1637d4175c773138aea4b912037be06016a22cb8e0ed72eb6820601ce2b7f272"

// HelperName is the file the recipe's build leaves in /out.
const HelperName = "reprove-clockshift"

//go:embed helper/main.go
var mainGo []byte

// goMod makes the helper a module of its own: it needs nothing but the
// standard library, so it has no go.sum and the builder fetches no module.
const goMod = "module reprove.invalid/clockshift\n\ngo 1.24\n"

// Key names one build of the helper: it changes with the source, the
// recipe and the pin, so that a cached helper is never taken for the build
// of another source (which the pin alone would not tell while it is
// stale).
func Key() digest.Digest {
	r, err := json.Marshal(Recipe("", ""))
	if err != nil {
		panic(err) // a Recipe always marshals
	}
	return digest.FromString(goMod + "\x00" + string(mainGo) + "\x00" + string(r) + "\x00" + HelperDigest.String())
}

// WriteSource writes the helper's module (go.mod and main.go) into dir,
// which must exist and be empty.
func WriteSource(dir string) error {
	for name, data := range map[string][]byte{"go.mod": []byte(goMod), "main.go": mainGo} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("write clock helper source: %w", err)
		}
	}
	return nil
}

// Recipe builds the helper from the module WriteSource wrote in dir, whose
// tree digest is tree: a static binary (no cgo), its paths trimmed, so
// that it runs in any image and builds to HelperDigest anywhere.
func Recipe(dir string, tree digest.Digest) *recipes.Recipe {
	return &recipes.Recipe{
		Schema:    recipes.SchemaVersion,
		Name:      HelperName,
		Version:   "1",
		Source:    recipes.Source{Dir: &recipes.DirSource{Path: dir, Tree: tree}},
		Toolchain: recipes.Toolchain{Go: GoVersion},
		Env:       map[string]string{"CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": "amd64"},
		Steps:     []recipes.Step{{Run: []string{"go", "build", "-trimpath", "-ldflags=-s -w", "-o", "/out/" + HelperName, "."}}},
		Outputs:   []recipes.Output{{Path: HelperName}},
	}
}
