package render_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/reprove/reprove/compare"
	"github.com/reprove/reprove/compare/fixture"
	"github.com/reprove/reprove/compare/render"
)

// browser starts headless Chromium as this machine runs it (root: no
// sandbox; nothing that reaches the network).
func browser(t *testing.T, js bool) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (ci/setup.sh --test installs it): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()),
	}
	if !js {
		opts = append(opts, chromedp.Flag("blink-settings", "scriptEnabled=false"))
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel3)
	return ctx
}

// A large report (300 differing members, so the page cuts) in a real
// browser: the index lists the causes, the filter box narrows the tree to
// what matches, and with scripts off everything shown is still there.
func TestPageInBrowser(t *testing.T) {
	var a, b []M
	for i := 0; i < 300; i++ {
		a = append(a, M{Name: fmt.Sprintf("pkg/file%03d.go", i), Body: []byte("package p\n")})
		b = append(b, M{Name: fmt.Sprintf("pkg/file%03d.go", i), Body: []byte("package q\n")})
	}
	dir := t.TempDir()
	pa, pb := filepath.Join(dir, "a.zip"), filepath.Join(dir, "b.zip")
	os.WriteFile(pa, fixture.Zip(6, a...), 0o644)
	os.WriteFile(pb, fixture.Zip(6, b...), 0o644)
	r, err := compare.Files(context.Background(), pa, pb, compare.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	if err := render.HTML(&page, r); err != nil {
		t.Fatal(err)
	}
	html := filepath.Join(dir, "report.html")
	os.WriteFile(html, page.Bytes(), 0o644)
	url := "file://" + html

	t.Run("scripts", func(t *testing.T) {
		ctx := browser(t, true)
		num := func(js string) int {
			n, err := chromedp.Run(ctx, chromedp.Evaluate[int](js))
			if err != nil {
				t.Fatalf("%s: %v", js, err)
			}
			return n
		}
		if _, err := chromedp.Run(ctx, chromedp.Navigate(url)); err != nil {
			t.Fatal(err)
		}
		index := num(`document.querySelectorAll("#index li").length`)
		boxHidden := num(`document.getElementById("filter").hidden ? 1 : 0`) == 1
		cut := num(`document.querySelectorAll(".cut").length`)
		if _, err := chromedp.Run(ctx, chromedp.SendKeys("#q", "file123")); err != nil {
			t.Fatal(err)
		}
		visible := num(`[].filter.call(document.querySelectorAll("#tree [data-path]"), function(e){return e.offsetParent!==null}).length`)
		if index != 200 {
			t.Errorf("index lists %d causes, want 200 (the cut)", index)
		}
		if boxHidden {
			t.Error("the filter box is hidden with scripts on")
		}
		if cut == 0 {
			t.Error("the page does not say what it cut")
		}
		// The root, the member and its text difference.
		if visible != 3 {
			t.Errorf("%d entries visible after filtering for one member, want 3", visible)
		}
	})
	t.Run("no scripts", func(t *testing.T) {
		ctx := browser(t, false)
		if _, err := chromedp.Run(ctx, chromedp.Navigate(url)); err != nil {
			t.Fatal(err)
		}
		// Evaluate runs through the DevTools protocol even when the
		// page's own scripts are off.
		boxHidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("filter").hidden`))
		if err != nil {
			t.Fatal(err)
		}
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		if err != nil {
			t.Fatal(err)
		}
		if !boxHidden {
			t.Error("the filter box shows without scripts, where it cannot work")
		}
		if !bytes.Contains([]byte(text), []byte("pkg/file000.go")) || !bytes.Contains([]byte(text), []byte("more differences not shown")) {
			t.Errorf("page text without scripts lacks the tree or the cut notice:\n%.500s", text)
		}
	})
}
