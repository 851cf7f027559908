package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleFirstRunSetup is an installer's first minute with a fresh gateway: no users, so the
// console shows the setup page instead of the login; a mistake is marked on its field; once
// filled in, the gateway restarts with the new site and the browser lands in the console as the
// new admin with the site's name in the header; a reload keeps the console, and a browser
// without the session gets the login page, never the setup again, also after the gateway
// restarts.
func TestConsoleFirstRunSetup(t *testing.T) {
	env := &brokerEnv{mode: "embedded"}
	g := newGateway(t, env, fleet()[:1], "")
	b := newBrowser(t, "http://"+g.http)
	shots := screenshotDir(t)

	b.do(20*time.Second, "setup page", chromedp.Navigate(b.base+"/"), chromedp.WaitVisible(chromedp.CSS("#setup-admin")))
	if h := js[string](b, "location.hash"); h != "#/setup" {
		t.Fatalf("hash %q, want #/setup", h)
	}
	if js[bool](b, `!!document.querySelector("#login-user")`) {
		t.Fatal("the login form is shown next to the setup")
	}
	if s := b.text("#setup-title"); s != "首次设置" {
		t.Fatalf("title %q: the page is not in Chinese by default", s)
	}
	// the page says the site code is part of the devices' MQTT topics
	if s := b.text("#view"); !strings.Contains(s, "MQTT") {
		t.Fatalf("the page does not say the code is used in MQTT topics:\n%s", s)
	}
	// a browser page loaded from the box's address guesses the browser's zone; the installer sets it
	b.do(10*time.Second, "fill in the form",
		chromedp.SendKeys(chromedp.CSS("#setup-admin"), "zhang.admin"),
		chromedp.SendKeys(chromedp.CSS("#setup-password"), "a-good-password"),
		chromedp.SendKeys(chromedp.CSS("#setup-password2"), "a-good-passwort"),
		chromedp.SendKeys(chromedp.CSS("#setup-site-name"), "幸福里社区"),
		chromedp.SendKeys(chromedp.CSS("#setup-site-code"), "xingfuli"),
		chromedp.SetValue(chromedp.CSS("#setup-time-zone"), "Asia/Urumqi"),
		chromedp.SendKeys(chromedp.CSS("#setup-grid-code"), "650102003004005"),
		chromedp.Click(chromedp.CSS("#setup-submit")))
	b.waitJS(10*time.Second, "the mistyped password marked", `document.querySelector("#setup-password2").getAttribute("aria-invalid") === "true" &&
		document.querySelector("#setup-password2-error").textContent.includes("不一致") && location.hash === "#/setup"`)
	if n := js[int](b, `document.querySelectorAll("[aria-invalid=true]").length`); n != 1 {
		t.Fatalf("%d fields marked, want only the confirmation", n)
	}
	b.screenshot(shots, "setup-mistake.png")

	b.do(10*time.Second, "correct and submit",
		chromedp.SetValue(chromedp.CSS("#setup-password2"), "a-good-password"),
		chromedp.Click(chromedp.CSS("#setup-submit")))
	b.waitJS(30*time.Second, "console as the new admin, site name shown", `location.hash === "#/queue" &&
		document.querySelector("#site-name").textContent === "幸福里社区" &&
		document.querySelector("#who").textContent.startsWith("zhang.admin") && !document.querySelector("#top").hidden &&
		document.querySelector("#link-state.up") !== null`)
	b.screenshot(shots, "setup-done.png")
	if !strings.Contains(g.log.String(), "restarting the gateway with the site settings") {
		t.Fatalf("the gateway did not restart with the new site:\n%s", g.log.String())
	}
	var site map[string]any
	if code := g.get("/api/v1/site", &site); code != 200 || site["code"] != "xingfuli" || site["time_zone"] != "Asia/Urumqi" {
		t.Fatalf("site: %d %v", code, site)
	}

	// reload: the console, not the setup
	b.do(15*time.Second, "reload", chromedp.Reload())
	b.waitJS(15*time.Second, "console after reload", `location.hash === "#/queue" && document.querySelector("#site-name").textContent === "幸福里社区"`)
	if js[bool](b, `!!document.querySelector("#setup-admin")`) {
		t.Fatal("setup shown after reload")
	}

	// logged out, and after a gateway restart: the login page, even when the setup is asked
	// for by its address
	b.do(15*time.Second, "log out", chromedp.Click(chromedp.CSS("#logout-btn")), chromedp.WaitVisible(chromedp.CSS("#login-user")))
	g.stop(syscall.SIGTERM)
	g.start()
	b.do(15*time.Second, "setup by its address", chromedp.Navigate(b.base+"/#/setup"), chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("#login-user")))
	if h := js[string](b, "location.hash"); h != "#/login" || js[bool](b, `!!document.querySelector("#setup-admin")`) {
		t.Fatalf("after setup and a restart the page is %q", h)
	}
	b.login("zhang.admin", "a-good-password")
	if s := b.text("#site-name"); s != "幸福里社区" {
		t.Fatalf("site name after login %q", s)
	}
}
