package recipes

import "testing"

func TestIsToolchainExecutable(t *testing.T) {
	for rel, want := range map[string]bool{
		"bin/go":                       true,
		"bin/gofmt":                    true,
		"pkg/tool/linux_amd64/compile": true,
		"pkg/tool/linux_amd64/x/y":     false,
		"src/make.bash":                false,
		"go.mod":                       false,
		"pkg/include/asm_ppc64x.h":     false,
	} {
		if got := IsToolchainExecutable(rel); got != want {
			t.Errorf("IsToolchainExecutable(%q) = %v, want %v", rel, got, want)
		}
	}
}

func TestToolchainVersion(t *testing.T) {
	if got, want := ToolchainVersion("1.26.8", "amd64"), "v0.0.1-go1.26.8.linux-amd64"; got != want {
		t.Errorf("ToolchainVersion = %q, want %q", got, want)
	}
}
