package centre

import (
	"bytes"
	"context"
	"image"
	_ "image/png" // screenshots are PNG
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/reprove/reprove/centre/api"
	"github.com/reprove/reprove/centre/centretest/fixture"
)

// chromium is the browser the page tests drive (ci/setup.sh --test installs
// Debian's chromium).
const chromium = "/usr/bin/chromium"

// newBrowser starts a headless Chromium for one test. As root it needs
// --no-sandbox, and the background services off and a fresh profile, or it
// stalls on connections this machine refuses.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Chromium (skipped with -short)")
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("Chromium is not installed (bash ci/setup.sh --test installs it): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
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
	// The pages must work without JavaScript: the browser runs none.
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// TestPagesInBrowser loads the centre's pages in a real browser with
// JavaScript off: search for a digest from the home page, land on the
// release page, see the dissenting rebuilder beside the agreeing one, find
// the release by name and version too, and check the page is not blank.
func TestPagesInBrowser(t *testing.T) {
	ctx := context.Background()
	tc := newCentre(t, "sqlite")
	rel, err := fixture.MakeRelease(ctx, "hello", "1.0", []*fixture.Party{alice, bob}, says)
	if err != nil {
		t.Fatal(err)
	}
	tc.submit(t, rel.All(says)...)
	if status, b := tc.do(t, "POST", api.PathCompareReports, rel.Reports["rebuilder-b"]); status != http.StatusOK {
		t.Fatalf("compare report: %d %s", status, b)
	}
	bctx := newBrowser(t)

	b := browser{t: t, ctx: bctx}
	b.do(
		chromedp.Navigate(tc.srv.URL+"/"),
		chromedp.WaitVisible(`main form input[name=q]`),
		chromedp.SendKeys(`main form input[name=q]`, rel.Digest.String()),
		chromedp.Submit(`main form input[name=q]`),
		chromedp.WaitVisible(`#dissent`),
	)
	url := b.get(chromedp.Location())
	title := b.get(chromedp.Title())
	agree := b.get(chromedp.Text(`#agree`))
	dissent := b.get(chromedp.Text(`#dissent`))
	reviews := b.get(chromedp.Text(`.review`))
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(url, "/artifacts/"+rel.Digest.String()) {
		t.Errorf("the search for a digest went to %s", url)
	}
	if !strings.Contains(title, "hello 1.0") {
		t.Errorf("title %q", title)
	}
	for _, want := range []string{"rebuilder-a", "identical", "hello 1.0", "golang.org/toolchain@v0.0.1-go1.26.8.linux-amd64"} {
		if !strings.Contains(agree, want) {
			t.Errorf("the agreeing side lacks %q:\n%s", want, agree)
		}
	}
	// The dissent: its verdict, its provenance and its compare report,
	// rendered from the report's JSON down to the differing member.
	for _, want := range []string{"rebuilder-b", "different", "Compare report", "hello-1.0/hello"} {
		if !strings.Contains(dissent, want) {
			t.Errorf("the dissenting side lacks %q:\n%s", want, dissent)
		}
	}
	if strings.Contains(agree, "rebuilder-b") || strings.Contains(dissent, "rebuilder-a") {
		t.Error("a rebuilder is on the wrong side")
	}
	if !strings.Contains(reviews, "approved") || !strings.Contains(reviews, "cmd/, internal/") {
		t.Errorf("review: %s", reviews)
	}
	checkNotBlank(t, shot)
	if dir := os.Getenv("REPROVE_SCREENSHOTS"); dir != "" {
		os.WriteFile(dir+"/release.png", shot, 0o644)
	}

	// By name and version: the search lists the release, its link opens it.
	b.do(
		chromedp.Navigate(tc.srv.URL+"/"),
		chromedp.SendKeys(`header input[name=q]`, "hello 1.0"),
		chromedp.Submit(`header input[name=q]`),
		chromedp.WaitVisible(`#results`),
	)
	results := b.get(chromedp.Text(`#results`))
	b.do(chromedp.Click(`#results a`), chromedp.WaitVisible(`#dissent`))
	url = b.get(chromedp.Location())
	if !strings.Contains(results, rel.Digest.String()) || !strings.HasSuffix(url, rel.Digest.String()) {
		t.Errorf("search by name: %q, then %s", results, url)
	}
	// Each result says what it is: the shipped file, or only a rebuilder's
	// output.
	if !strings.Contains(results, "shipped file, with verification summaries") {
		t.Errorf("search by name: %q gives no status", results)
	}

	// The log page and an entry page.
	b.do(chromedp.Navigate(tc.srv.URL + "/log"))
	size := b.get(chromedp.Text(`#tree-size`))
	b.do(chromedp.Click(`main table a`), chromedp.WaitVisible(`#leaf`))
	entry := b.get(chromedp.Text(`main`))
	if size != "9" || !strings.Contains(entry, "Entry #8") || !strings.Contains(entry, "compare report") {
		t.Errorf("log page: size %q; entry page:\n%s", size, entry)
	}
}

type browser struct {
	t   *testing.T
	ctx context.Context
}

func (b browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

func (b browser) get(a chromedp.Action[string]) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

// checkNotBlank decodes a screenshot and requires real content: a good
// share of pixels far from the background, in more than a few colours.
func checkNotBlank(t *testing.T, shot []byte) {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	b := img.Bounds()
	if b.Dx() < 800 || b.Dy() < 600 {
		t.Fatalf("screenshot is %dx%d", b.Dx(), b.Dy())
	}
	colours := map[[3]uint32]bool{}
	inked := 0
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 12, g >> 12, bl >> 12}] = true
			if r < 0xc000 || g < 0xc000 || bl < 0xc000 {
				inked++
			}
		}
	}
	total := (b.Dx() / 2) * (b.Dy() / 2)
	if len(colours) < 8 || inked*100 < total {
		t.Errorf("the page looks blank: %d colours, %d of %d sampled pixels inked", len(colours), inked, total)
	}
}
