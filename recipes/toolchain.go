package recipes

import (
	"path"
	"strings"
)

// The toolchain facts every part of reprove shares: where a Go release
// comes from and which of its files are programs.

// ToolchainModule is the module path of Go distributions on the Go module
// proxy.
const ToolchainModule = "golang.org/toolchain"

// ToolchainVersion is the ToolchainModule version holding Go release
// goVersion ("1.23.5", as toolchain.go is written) for linux/arch.
func ToolchainVersion(goVersion, arch string) string {
	return "v0.0.1-go" + goVersion + ".linux-" + arch
}

// IsToolchainExecutable reports whether a file of a ToolchainModule zip
// (path relative to the module root) is a program. Module zips carry no
// permission bits, so, as the go command does when it installs a
// toolchain, the programs in bin/ and pkg/tool/GOOS_GOARCH/ are made
// executable.
func IsToolchainExecutable(rel string) bool {
	dir := path.Dir(rel)
	return dir == "bin" || (strings.HasPrefix(dir, "pkg/tool/") && strings.Count(dir, "/") == 2)
}
