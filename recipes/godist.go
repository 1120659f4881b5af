package recipes

import (
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
)

// GoDist names a released Go distribution as the module proxy serves it
// (the golang.org/toolchain module zip for linux/Arch), for GoDistribution.
type GoDist struct {
	// Go is the release ("1.26.8"), Arch its architecture ("amd64").
	Go, Arch string
	// Sum is the module zip's go.sum hash (h1:), ZipURL where the zip is
	// published and ZipDigest its sha256.
	Sum       string
	ZipURL    string
	ZipDigest digest.Digest
	// Bootstrap is the Go release that builds it (Go 1.N needs 1.N-2 or
	// later; the result does not depend on which: the toolchain rebuilds
	// itself with itself).
	Bootstrap string
}

// GoDistribution is the recipe that rebuilds a whole Go distribution from
// its own source, as gorebuild does: make.bash -distpack, run in the
// distribution's source tree with the bootstrap toolchain, writes the
// golang.org/toolchain module zip, which is compared with the one the
// module proxy serves. The source is that same zip (its src/ is the
// distribution's source), pinned by its go.sum hash and checked against
// the Go checksum database.
func GoDistribution(d GoDist) (*Recipe, error) {
	if d.Arch == "" {
		d.Arch = "amd64"
	}
	if strings.ContainsAny(d.Go+d.Arch+d.Bootstrap, " \n\"'") {
		return nil, fmt.Errorf("go distribution recipe: %q, %q, %q: not release names", d.Go, d.Arch, d.Bootstrap)
	}
	version := ToolchainVersion(d.Go, d.Arch)
	zip := version + ".zip"
	text := fmt.Sprintf(`schema: 1
name: go-distribution
version: go%[1]s
source:
  gomod:
    path: %[2]s
    version: %[3]s
    sum: %[4]q
toolchain:
  go: %[5]s
env:
  GOOS: linux
  GOARCH: %[6]s
steps:
  - shell: |
      cd /src/src
      GOROOT_BOOTSTRAP=/usr/local/go bash make.bash -distpack
      cp /src/pkg/distpack/%[7]s /out/%[7]s
outputs:
  - path: %[7]s
    shipped:
      url: %[8]s
      digest: %[9]s
limits:
  memory: 4GiB
  disk: 16GiB
  timeout: 90m
`, d.Go, ToolchainModule, version, d.Sum, d.Bootstrap, d.Arch, zip, d.ZipURL, d.ZipDigest)
	return Parse("go-distribution-go"+d.Go+".yaml", []byte(text))
}
