// Package pagetest drives the centre's pages in a real browser for tests:
// a headless Chromium (Debian's, installed by ci/setup.sh --test) with
// JavaScript off. It imports nothing of the centre, so the centre's own
// tests may use it too.
package pagetest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// Chromium is the browser page tests drive (ci/setup.sh --test installs
// Debian's chromium).
const Chromium = "/usr/bin/chromium"

// Browser starts a headless Chromium with JavaScript off (the centre's
// pages must work without it) for one test; it skips under -short. As
// root Chromium needs --no-sandbox, and the background services off and a
// fresh profile, or it stalls on connections this machine refuses.
func Browser(t testing.TB) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Chromium (skipped with -short)")
	}
	if _, err := os.Stat(Chromium); err != nil {
		t.Fatalf("Chromium is not installed (bash ci/setup.sh --test installs it): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelC := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelC(); cancelB(); cancelA() })
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}
