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

	"github.com/chromedp/chromedp"

	"github.com/reprove/reprove/centre/api"
	"github.com/reprove/reprove/centre/centretest/fixture"
	"github.com/reprove/reprove/centre/pagetest"
)

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
	bctx := pagetest.Browser(t)

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
	// The title is the name the signers give the shipped file.
	if !strings.Contains(title, "hello-1.0.tar") {
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

// TestPagesShowClaimsAsClaims: what attestations say reaches the page as
// text that cannot reorder or spill out of its place. A release whose
// signed name carries a right-to-left override ("gnp.exe" would render as
// "exe.png") is titled by that name with the override shown as an escape,
// inside a <bdi>, and said to be a claim with its claimants; a version of
// one 400-character token wraps inside the page, the log table included.
func TestPagesShowClaimsAsClaims(t *testing.T) {
	ctx := context.Background()
	tc := newCentre(t, "sqlite")
	name, version := "evil\u202egnp.exe", "1."+strings.Repeat("0", 400)
	rel, err := fixture.MakeReleaseWith(ctx, name, version, []*fixture.Party{alice}, says[:1], fixture.Options{NoReports: true})
	if err != nil {
		t.Fatal(err)
	}
	tc.submit(t, rel.All(says[:1])...)
	bctx := pagetest.Browser(t)
	b := browser{t: t, ctx: bctx}
	b.do(chromedp.Navigate(tc.srv.URL+"/artifacts/"+rel.Digest.String()), chromedp.WaitVisible(`#agree`))
	h1 := b.get(chromedp.Text(`h1`))
	claim := b.get(chromedp.Text(`#title-claim`))
	title := b.get(chromedp.Title())
	page := b.get(chromedp.Text(`main`))
	isolated, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`getComputedStyle(document.querySelector("h1 bdi")).unicodeBidi === "isolate"`))
	if err != nil {
		t.Fatal(err)
	}
	fits, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= document.documentElement.clientWidth`))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	want := `evil\u202egnp.exe-` + version + `.tar`
	if h1 != want || !strings.Contains(title, `evil\u202egnp.exe`) {
		t.Errorf("title %q, heading %q; want the override shown as %q", title, h1, want)
	}
	if strings.ContainsRune(h1+claim+page+title, '\u202e') {
		t.Error("a right-to-left override reached the page as a character")
	}
	if !isolated {
		t.Error("the title is not bidi-isolated")
	}
	if !strings.Contains(claim, "by rebuilder-a") {
		t.Errorf("the title's claim %q does not say who claims it", claim)
	}
	if !fits {
		t.Error("a long token pushes the page wider than the window")
	}
	checkNotBlank(t, shot)
	if dir := os.Getenv("REPROVE_SCREENSHOTS"); dir != "" {
		os.WriteFile(dir+"/claims.png", shot, 0o644)
	}
}
