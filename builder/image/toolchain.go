package image

import (
	"archive/tar"
	"archive/zip"
	"fmt"
	"sort"
	"strings"

	"github.com/reprove/reprove/recipes"
)

// GoRoot is where the toolchain layer puts the Go distribution.
const GoRoot = "/usr/local/go"

// toolchainLayer writes the files of a verified golang.org/toolchain zip
// under GoRoot, sorted by name.
func toolchainLayer(zipPath, goVersion, arch string, lw *layerWriter) error {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return fmt.Errorf("open toolchain zip: %w", err)
	}
	defer zr.Close()
	prefix := recipes.ToolchainModule + "@" + recipes.ToolchainVersion(goVersion, arch) + "/"
	files := make([]*zip.File, 0, len(zr.File))
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, prefix) {
			return fmt.Errorf("toolchain zip: member %q outside %s", f.Name, prefix)
		}
		if strings.HasSuffix(f.Name, "/") {
			continue // module zips hold files only
		}
		files = append(files, f)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	root := strings.TrimPrefix(GoRoot, "/")
	for _, f := range files {
		rel := strings.TrimPrefix(f.Name, prefix)
		name := root + "/" + rel
		if err := lw.addParents(name); err != nil {
			return err
		}
		mode := int64(0o644)
		if recipes.IsToolchainExecutable(rel) {
			mode = 0o755
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("toolchain zip %s: %w", rel, err)
		}
		err = lw.add(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(f.UncompressedSize64)}, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
